"""Prometheus /metrics: the engine's gauges from SQL (campaigns.engine_metrics, cached briefly, as
the enrollment counts scan a large table) and this process's own worker latencies and results. The
standalone worker serves the same process metrics (not the engine's) with `serve_worker_metrics`."""

from __future__ import annotations

import json
import time

from litestar import Response, get
from litestar.datastructures import State
from prometheus_client import (
    CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server,
)
from prometheus_client.core import GaugeMetricFamily

# Recorded by the outbox worker running in this process.
CLAIM_SECONDS = Histogram("campaigns_worker_claim_seconds", "Time to claim one outbox batch")
SEND_SECONDS = Histogram("campaigns_worker_send_seconds", "Time of one SMTP send, from connect to reply")
SEND_RESULTS = Counter("campaigns_worker_results_total", "Outbox send results recorded by this process", ["outcome"])
SMTP_REPLIES = Counter("campaigns_worker_smtp_replies_total",
                       "SMTP exchanges by the class of the relay's last reply: 2xx, 4xx, 5xx, or none (no reply: "
                       "refused, dropped, timed out)", ["code_class"])
RELAY_UP = Gauge("campaigns_worker_relay_up", "1 while the worker sends through the relay, 0 while its circuit "
                 "breaker holds its mail and probes it", ["relay"])
RELAY_PROBES = Counter("campaigns_worker_relay_probes_total", "Probes of relays that were down", ["relay", "result"])
LEASE_RECLAIMS = Counter("campaigns_worker_lease_reclaims_total",
                         "Messages claimed from an expired lease of a worker that died")
DATABASE_UP = Gauge("campaigns_worker_database_up", "1 while the worker's last database call succeeded, 0 during an outage")


def serve_worker_metrics(port: int, host: str) -> None:
    """The standalone worker's /metrics (every path answers), on a thread of prometheus_client's own."""
    start_http_server(port, addr=host)

CACHE_SECONDS = 15.0
_cache: dict[str, object] = {"at": 0.0, "rows": []}


class _Rows:
    """A collector over rows (metric, labels, value) fetched from the database."""

    def __init__(self, rows: list[tuple[str, dict, float]]):
        self.rows = rows

    def collect(self):
        families: dict[tuple[str, tuple[str, ...]], GaugeMetricFamily] = {}
        for name, labels, value in self.rows:
            keys = tuple(sorted(labels))
            family = families.get((name, keys))
            if family is None:
                family = families[(name, keys)] = GaugeMetricFamily(name, name.replace("_", " "), labels=list(keys))
            family.add_metric([str(labels[k]) for k in keys], value)
        return list(families.values())


async def engine_rows(pool) -> list[tuple[str, dict, float]]:
    now = time.monotonic()
    if now - float(_cache["at"]) > CACHE_SECONDS:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT metric, labels, value FROM campaigns.engine_metrics()")
            rows = await cur.fetchall()
        _cache["rows"] = [(r["metric"], r["labels"] if isinstance(r["labels"], dict) else json.loads(r["labels"]), r["value"])
                          for r in rows]
        _cache["at"] = now
    return _cache["rows"]  # type: ignore[return-value]


@get("/metrics", operation_id="metrics", tags=["health"], summary="Prometheus metrics", include_in_schema=False)
async def metrics(state: State) -> Response:
    registry = CollectorRegistry()
    registry.register(_Rows(await engine_rows(state.pool)))
    body = generate_latest(REGISTRY) + generate_latest(registry)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
