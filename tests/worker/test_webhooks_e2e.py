"""Outgoing webhooks end to end: a worker process delivers what the engine's events queued to a real
HTTP receiver, signed so that the Standard Webhooks library verifies them, retries a receiver that
answers 500 (the same webhook-id), and never calls a target outside the allowed networks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook

from service.config import get_settings
from tests.support.factories import make_tenant
from tests.support.outbox import make_outbox, worker_in_thread
from tests.support.waits import wait_until


class Receiver:
    """A real HTTP server that keeps every request and fails the first `fail_first` with 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                failing = len(receiver.requests) <= receiver.fail_first
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(fail_first=2) as r:
        yield r


@pytest.fixture(autouse=True)
def _webhook_settings(monkeypatch):
    monkeypatch.setenv("CAMPAIGNS_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("CAMPAIGNS_WEBHOOK_RETRY_BASE_SECONDS", "0.05")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_events_are_delivered_signed_and_retried(conn, db_url, smtp, receiver):
    tenant = make_tenant(conn)
    sub_id, secret = conn.execute(
        "SELECT (s).id, (s).secret FROM (SELECT campaigns.create_webhook_subscription(%s, %s, NULL, %s) s) x",
        (receiver.url, ["message.sent", "enrollment.started"], tenant["tenant_id"])).fetchone()
    internal = conn.execute("SELECT (campaigns.create_webhook_subscription('http://10.1.2.3/hook', %s, NULL, %s)).id",
                            (["message.sent"], tenant["tenant_id"])).fetchone()[0]
    box = make_outbox(conn, 3, tenant=tenant)

    with worker_in_thread(db_url, smtp):
        wait_until(lambda: conn.execute(
            "SELECT count(*) FROM campaigns.webhook_deliveries WHERE subscription_id = %s AND status = 'delivered'",
            (sub_id,)).fetchone()[0] == 6, 30, message="6 deliveries")
        wait_until(lambda: conn.execute(
            "SELECT attempts >= 1 FROM campaigns.webhook_deliveries WHERE subscription_id = %s", (internal,)).fetchall()
            == [(True,)] * 3, 30, message="the internal target's deliveries tried")
    assert len(smtp.received) == 3

    verifier = Webhook(secret)
    types, ids = [], []
    for headers, body in receiver.requests:
        payload = verifier.verify(body, headers)  # raises on a bad signature
        types.append(payload["type"])
        ids.append(headers["webhook-id"])
    delivered = conn.execute("SELECT event_id, event_type, attempts, response_status, latency_ms "
                             "FROM campaigns.webhook_deliveries WHERE subscription_id = %s", (sub_id,)).fetchall()
    assert sorted(t for _, t, *_ in delivered) == ["enrollment.started"] * 3 + ["message.sent"] * 3
    # 8 requests: the first 2 answered 500 and were tried again under the same webhook-id.
    assert len(receiver.requests) == 8 and len(set(ids)) == 6
    assert sorted(a for _, _, a, *_ in delivered) == [1, 1, 1, 1, 2, 2]
    assert {s for *_, s, _ in delivered} == {204}
    sent = [json.loads(b) for h, b in receiver.requests if json.loads(b)["type"] == "message.sent"]
    assert {p["data"]["email"] for p in sent} == {r.rcpt for r in smtp.received}
    assert all(p["data"]["campaign_id"] == str(box.campaign_id) for p in sent)

    # The target outside the allowed networks was never called, and says why.
    errors = conn.execute("SELECT DISTINCT status, last_error LIKE 'target not allowed:%%' FROM campaigns.webhook_deliveries "
                          "WHERE subscription_id = %s", (internal,)).fetchall()
    assert errors == [("queued", True)]
