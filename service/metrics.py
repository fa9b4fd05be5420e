"""Prometheus /metrics: the engine's gauges from SQL (campaigns.engine_metrics, cached briefly, as
the enrollment counts scan a large table) and this process's own worker latencies and results."""

from __future__ import annotations

import json
import time

from litestar import Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

# Recorded by the outbox worker running in this process.
CLAIM_SECONDS = Histogram("campaigns_worker_claim_seconds", "Time to claim one outbox batch")
SEND_SECONDS = Histogram("campaigns_worker_send_seconds", "Time of one SMTP send, from connect to reply")
SEND_RESULTS = Counter("campaigns_worker_results_total", "Outbox send results recorded by this process", ["outcome"])

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
