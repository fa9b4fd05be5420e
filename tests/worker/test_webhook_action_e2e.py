"""The webhook action step end to end: a launched campaign `webhook action -> wait -> email`, the
processing run queues the step's delivery and moves on, and a real worker POSTs it to a real HTTP
receiver, signed with the tenant's action secret so that the Standard Webhooks library verifies it,
carrying the contact and the configured payload; a receiver answering 500 is tried again (same
webhook-id); a target outside the allowed networks is refused and, with on_failure = exit, the
enrollment exits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from standardwebhooks.webhooks import Webhook

from service.config import get_settings
from tests.support.outbox import worker_in_thread
from tests.support.processing import action, add_steps, enrollment, launch, messages, new_campaign, process, wait
from tests.support.waits import wait_until
from tests.worker.test_webhooks_e2e import Receiver


@pytest.fixture(autouse=True)
def _webhook_settings(monkeypatch):
    monkeypatch.setenv("CAMPAIGNS_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("CAMPAIGNS_WEBHOOK_RETRY_BASE_SECONDS", "0.05")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def launched(conn, url, on_failure="continue", contacts=2):
    """webhook -> wait 1 minute -> email, launched and processed now."""
    s = new_campaign(conn, [{"first_name": f"Ann{i}", "company": "Acme"} for i in range(contacts)],
                     from_email="news@example.com")
    hook_id, _, email_id = add_steps(conn, s, action("webhook", {"url": url, "payload": {"list": "vip", "source": "e2e"},
                                                                 "on_failure": on_failure}),
                                     wait(1, "minutes"), "email")
    now = datetime.now(timezone.utc)
    launch(conn, s.campaign_id, now)
    process(conn, now)
    return s, hook_id, email_id, now


def delivered(conn, hook_id):
    return conn.execute("SELECT status, attempts, response_status, event_id FROM campaigns.webhook_deliveries "
                        "WHERE step_id = %s ORDER BY event_id", (hook_id,)).fetchall()


def test_the_step_posts_signed_contact_and_payload_and_a_500_is_retried(conn, db_url, smtp):
    with Receiver(fail_first=2) as receiver:
        s, hook_id, email_id, launched_at = launched(conn, receiver.url)
        # The processing run queued one delivery per enrollment and went on to the wait at once.
        for contact in s.contacts:
            e = enrollment(conn, s.campaign_id, contact)
            assert (e["status"], e["current_step_id"]) == ("active", email_id)
        assert [r[0] for r in delivered(conn, hook_id)] == ["queued", "queued"]

        with worker_in_thread(db_url, smtp):
            wait_until(lambda: [r[0] for r in delivered(conn, hook_id)] == ["delivered", "delivered"], 30,
                       message=lambda: f"2 deliveries, got {delivered(conn, hook_id)}")
        requests = list(receiver.requests)

    secret = conn.execute("SELECT webhook_secret FROM campaigns.tenants WHERE id = %s", (s.tenant_id,)).fetchone()[0]
    verifier = Webhook(secret)
    bodies = [verifier.verify(body, headers) for headers, body in requests]  # raises on a bad signature
    # 4 requests: the first 2 answered 500 and were tried again under the same webhook-id.
    rows = delivered(conn, hook_id)
    assert len(requests) == 4 and {h["webhook-id"] for h, _ in requests} == {r[3] for r in rows}
    assert sorted(r[1] for r in rows) == [1, 3] or sorted(r[1] for r in rows) == [2, 2]
    assert {r[2] for r in rows} == {204}

    for body in bodies:
        assert body["type"] == "action.webhook"
        data = body["data"]
        assert data["payload"] == {"list": "vip", "source": "e2e"}
        assert data["campaign_id"] == str(s.campaign_id) and data["step_id"] == str(hook_id)
        assert data["contact"]["company"] == "Acme" and data["contact"]["first_name"].startswith("Ann")
        assert data["enrollment"]["contact_id"] == data["contact"]["id"]
    assert {b["data"]["contact"]["id"] for b in bodies} == set(map(str, s.contacts))
    assert all(json.loads(body)["type"] == "action.webhook" for _, body in requests)

    # The sequence goes on: after the wait the email is queued.
    process(conn, launched_at + timedelta(minutes=2))
    assert [(m["step_id"], m["status"]) for m in messages(conn, s.campaign_id)] == [(email_id, "queued")] * 2


def test_a_refused_target_exits_the_enrollment_when_the_step_says_exit(conn, db_url, smtp):
    s, hook_id, _, _ = launched(conn, "http://10.1.2.3/hook", on_failure="exit", contacts=1)
    with worker_in_thread(db_url, smtp):
        wait_until(lambda: [r[0] for r in delivered(conn, hook_id)] == ["failed"], 30,
                   message=lambda: f"the delivery failed, got {delivered(conn, hook_id)}")
    last_error = conn.execute("SELECT last_error FROM campaigns.webhook_deliveries WHERE step_id = %s", (hook_id,)).fetchone()[0]
    assert last_error.startswith("target not allowed:")
    e = enrollment(conn, s.campaign_id, s.contacts[0])
    assert (e["status"], e["exit_reason"]) == ("exited", "webhook_failed")
