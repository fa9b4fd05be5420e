"""/metrics: the engine's gauges from SQL and the worker's own latencies and results."""

from __future__ import annotations

import re

from service.metrics import CLAIM_SECONDS, SEND_RESULTS, SEND_SECONDS
from tests.support.api import in_process
from tests.support.outbox import make_outbox, run_once


def _sample(metric, name: str, **labels) -> float:
    for family in metric.collect():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_worker_records_latencies_and_results(conn, db_url, smtp):
    make_outbox(conn, 5)
    sent_before = _sample(SEND_RESULTS, "campaigns_worker_results_total", outcome="sent")
    sends_before = _sample(SEND_SECONDS, "campaigns_worker_send_seconds_count")
    claims_before = _sample(CLAIM_SECONDS, "campaigns_worker_claim_seconds_count")
    assert run_once(db_url, smtp).sent == 5
    assert _sample(SEND_RESULTS, "campaigns_worker_results_total", outcome="sent") == sent_before + 5
    assert _sample(SEND_SECONDS, "campaigns_worker_send_seconds_count") == sends_before + 5
    assert _sample(CLAIM_SECONDS, "campaigns_worker_claim_seconds_count") > claims_before


def test_metrics_endpoint_exposes_engine_gauges(conn, db_url):
    make_outbox(conn, 3)
    with in_process(db_url) as app, app.client() as anonymous:
        r = anonymous.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    body = r.text
    assert re.search(r'^campaigns_outbox_messages\{status="queued"\} 3\.0$', body, re.M)
    enrollments = re.findall(r'^campaigns_enrollments\{status="(\w+)"\} ([0-9.]+)$', body, re.M)
    assert {s for s, _ in enrollments} == {"enrolled", "active", "paused", "completed", "exited"}
    assert sum(float(v) for _, v in enrollments) == 3
    assert "campaigns_worker_send_seconds_bucket" in body
