"""Outgoing webhooks in SQL: the facts that fan out into webhook_deliveries (only to enabled
subscriptions of the same tenant that want the type), the delivery outbox's claim, results, retry
schedule, 3-day lifetime, auto-disable after 3 days of failures, and redelivery."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.support.factories import (
    make_campaign, make_contact, make_enrollment, make_message, make_step, make_tenant,
)

T0 = datetime(2030, 3, 2, 14, 0, tzinfo=timezone.utc)
ALL_MESSAGE_EVENTS = ["message.sent", "message.opened", "message.clicked", "message.bounced", "message.replied"]


def subscribe(conn, tenant_id, types, url="https://hooks.example.com/in"):
    return conn.execute("SELECT (s).id, (s).secret FROM (SELECT campaigns.create_webhook_subscription(%s, %s, NULL, %s) s) x",
                        (url, types, tenant_id)).fetchone()


def deliveries(conn, tenant_id=None):
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute("SELECT * FROM campaigns.webhook_deliveries WHERE %s::uuid IS NULL OR tenant_id = %s ORDER BY created_at, event_type",
                       (tenant_id, tenant_id)).fetchall()


def sent_message(conn, t):
    campaign = make_campaign(conn, t, status="active", launched_at=T0)
    step = make_step(conn, t, campaign)
    contact = make_contact(conn, t)
    enrollment = make_enrollment(conn, t, campaign, contact, status="active")
    return make_message(conn, t, enrollment, step, status="sent", sent_at=T0), campaign, enrollment


def claim(conn, worker="w1", limit=50, as_of=None):
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute("SELECT * FROM campaigns.claim_webhook_batch(%s, %s, '2 minutes', %s)",
                       (worker, limit, as_of or datetime.now(timezone.utc))).fetchall()


def record(conn, delivery_id, status, worker="w1", error=None, as_of=None, **kw):
    return conn.execute(
        "SELECT campaigns.record_webhook_result(%s, %s, %s, %s, 12, NULL, %s, %s::interval, %s::interval)",
        (delivery_id, worker, status, error, as_of or datetime.now(timezone.utc), kw.get("base", "5 seconds"),
         kw.get("limit", "3 days"))).fetchone()[0]


def test_email_events_fan_out_to_the_subscriptions_that_want_them(conn):
    t, other = make_tenant(conn)["tenant_id"], make_tenant(conn)["tenant_id"]
    wants_opens, _ = subscribe(conn, t, ["message.opened", "message.clicked"])
    subscribe(conn, t, ["enrollment.started"])                       # not a message type
    disabled, _ = subscribe(conn, t, ["message.opened"])
    conn.execute("SELECT campaigns.update_webhook_subscription(%s, '{\"enabled\": false}')", (disabled,))
    subscribe(conn, other, ["message.opened"])                        # another tenant's
    message, campaign, enrollment = sent_message(conn, t)

    conn.execute("SELECT campaigns.record_email_event(%s, 'open', %s)", (message, T0 + timedelta(minutes=5)))
    conn.execute("SELECT campaigns.record_email_event(%s, 'reply', %s)", (message, T0 + timedelta(minutes=9)))

    rows = [r for r in deliveries(conn) if r["event_type"].startswith("message.")]
    assert [(r["subscription_id"], r["event_type"], r["status"]) for r in rows] == [(wants_opens, "message.opened", "queued")]
    assert {r["event_type"] for r in deliveries(conn)} == {"message.opened", "enrollment.started"}
    payload = rows[0]["payload"]
    assert payload["type"] == "message.opened" and payload["timestamp"].startswith("2030-03-02T14:05")
    assert payload["data"]["message_id"] == str(message) and payload["data"]["campaign_id"] == str(campaign)
    assert payload["data"]["enrollment_id"] == str(enrollment) and "@" in payload["data"]["email"]
    assert rows[0]["event_id"].startswith("evt_")


def test_message_sent_enrollment_and_campaign_events(conn):
    t = make_tenant(conn)["tenant_id"]
    subscribe(conn, t, ["message.sent", "enrollment.started", "enrollment.exited", "campaign.launched",
                        "campaign.paused", "campaign.completed"])
    campaign = make_campaign(conn, t, status="active", launched_at=T0)
    step = make_step(conn, t, campaign)
    contact = make_contact(conn, t)
    enrollment = make_enrollment(conn, t, campaign, contact, status="active")
    message = make_message(conn, t, enrollment, step, status="queued")
    conn.execute("UPDATE campaigns.email_messages SET status = 'sent', sent_at = %s WHERE id = %s", (T0, message))
    conn.execute("UPDATE campaigns.email_messages SET open_count = 1 WHERE id = %s", (message,))  # not a new send
    conn.execute("SELECT campaigns.exit_enrollment(%s, %s, 'manual')", (campaign, contact))
    conn.execute("SELECT campaigns.pause_campaign(%s)", (campaign,))
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the campaign trigger runs at commit; this test never commits

    by_type = {r["event_type"]: r["payload"]["data"] for r in deliveries(conn, t)}
    assert sorted(by_type) == ["campaign.paused", "enrollment.exited", "enrollment.started", "message.sent"]
    assert len(deliveries(conn, t)) == 4
    paused = by_type["campaign.paused"]
    assert (paused["reason"], paused["alert"]) == ("manual", None)
    assert by_type["message.sent"]["message_id"] == str(message)
    exited = by_type["enrollment.exited"]
    assert exited["exit_reason"] == "manual" and exited["status"] == "exited"


def test_an_auto_pause_carries_its_alert(conn):
    t = make_tenant(conn)["tenant_id"]
    subscribe(conn, t, ["campaign.paused"])
    campaign = make_campaign(conn, t, status="active", launched_at=T0)
    step = make_step(conn, t, campaign)
    for i in range(100):
        enrollment = make_enrollment(conn, t, campaign, make_contact(conn, t), status="active")
        make_message(conn, t, enrollment, step, status="sent", sent_at=T0, bounced_at=T0 if i < 8 else None)
    assert conn.execute("SELECT campaigns.check_deliverability(%s)", (T0 + timedelta(hours=1),)).fetchone()[0] == 1
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
    [row] = deliveries(conn, t)
    data = row["payload"]["data"]
    assert data["reason"] == "alert" and data["alert"]["kind"] == "bounce_rate" and float(data["alert"]["value"]) == 8.0


def test_claim_retry_schedule_success_and_lost_lease(conn):
    t = make_tenant(conn)["tenant_id"]
    sub, secret = subscribe(conn, t, ["message.opened"])
    message, _, _ = sent_message(conn, t)
    conn.execute("SELECT campaigns.record_email_event(%s, 'open', %s)", (message, T0))
    now = datetime.now(timezone.utc)

    [job] = claim(conn, as_of=now)
    assert (job["subscription_id"], job["secret"], job["attempt"]) == (sub, secret, 1) and secret.startswith("whsec_")
    assert claim(conn, "w2", as_of=now) == []                      # leased
    assert record(conn, job["delivery_id"], 500, worker="w2", as_of=now) is None   # not w2's lease
    assert record(conn, job["delivery_id"], 500, as_of=now) == "queued"
    due = conn.execute("SELECT next_attempt_at - %s FROM campaigns.webhook_deliveries WHERE id = %s",
                       (now, job["delivery_id"])).fetchone()[0]
    assert timedelta(seconds=4.5) <= due <= timedelta(seconds=5.5)
    assert conn.execute("SELECT failing_since FROM campaigns.webhook_subscriptions WHERE id = %s", (sub,)).fetchone()[0] == now

    [again] = claim(conn, as_of=now + timedelta(seconds=6))
    assert again["attempt"] == 2
    assert record(conn, again["delivery_id"], 204, as_of=now + timedelta(seconds=6)) == "delivered"
    row = deliveries(conn, t)[0]
    assert (row["status"], row["attempts"], row["response_status"], row["latency_ms"]) == ("delivered", 2, 204, 12)
    assert conn.execute("SELECT failing_since FROM campaigns.webhook_subscriptions WHERE id = %s", (sub,)).fetchone()[0] is None

    # A worker that died: its lease runs out and the delivery is claimed again.
    conn.execute("SELECT campaigns.redeliver_webhook(%s)", (row["id"],))
    [lost] = claim(conn, as_of=now)
    [reclaimed] = claim(conn, "w2", as_of=now + timedelta(minutes=3))
    assert reclaimed["delivery_id"] == lost["delivery_id"] and reclaimed["event_id"] == row["event_id"]


def test_a_delivery_fails_after_three_days_and_a_failing_subscription_is_disabled(conn):
    t = make_tenant(conn)["tenant_id"]
    sub, _ = subscribe(conn, t, ["message.opened", "message.clicked"])
    message, _, _ = sent_message(conn, t)
    conn.execute("SELECT campaigns.record_email_event(%s, 'open', %s)", (message, T0))
    start = datetime.now(timezone.utc)

    # Tried along the schedule for 3 days: the last try that fits, then failed.
    at, statuses = start, []
    for _ in range(20):
        jobs = claim(conn, as_of=at)
        if not jobs:
            break
        statuses.append(record(conn, jobs[0]["delivery_id"], None, error="connect: refused", as_of=at, limit="30 days"))
        at = conn.execute("SELECT next_attempt_at FROM campaigns.webhook_deliveries WHERE id = %s",
                          (jobs[0]["delivery_id"],)).fetchone()[0] + timedelta(seconds=1)
    assert statuses[-1] == "failed" and set(statuses[:-1]) == {"queued"} and 10 <= len(statuses) <= 12
    assert deliveries(conn, t)[0]["last_error"] == "connect: refused"

    # Failing for 3 days without one success: the subscription is disabled, its queue fails.
    conn.execute("SELECT campaigns.record_email_event(%s, 'click', %s)", (message, T0))
    conn.execute("UPDATE campaigns.webhook_subscriptions SET failing_since = %s WHERE id = %s", (start, sub))
    jobs = claim(conn, as_of=start + timedelta(days=3))
    assert record(conn, jobs[0]["delivery_id"], 503, as_of=start + timedelta(days=3, seconds=1)) == "failed"
    enabled, reason = conn.execute("SELECT enabled, disabled_reason FROM campaigns.webhook_subscriptions WHERE id = %s",
                                   (sub,)).fetchone()
    assert enabled is False and "HTTP 503" in reason
    # No new deliveries for a disabled subscription, and no redelivery until it is enabled again.
    conn.execute("SELECT campaigns.record_email_event(%s, 'open', %s)", (message, T0))
    assert len(deliveries(conn, t)) == 2
    with pytest.raises(psycopg.Error) as err:
        conn.execute("SELECT campaigns.redeliver_webhook(%s)", (jobs[0]["delivery_id"],))
    assert err.value.sqlstate == "QC409"
    conn.execute("SELECT campaigns.update_webhook_subscription(%s, '{\"enabled\": true}')", (sub,))
    assert conn.execute("SELECT enabled, disabled_reason, failing_since FROM campaigns.webhook_subscriptions WHERE id = %s",
                        (sub,)).fetchone() == (True, None, None)
    new = conn.execute("SELECT (d).event_id, (d).status FROM (SELECT campaigns.redeliver_webhook(%s) d) x",
                       (jobs[0]["delivery_id"],)).fetchone()
    assert new == (jobs[0]["event_id"], "queued")


@pytest.mark.parametrize("url, types", [
    ("ftp://hooks.example.com", ["message.sent"]),
    ("https://hooks.example.com", ["message.sent", "message.teleported"]),
    ("https://hooks.example.com", []),
])
def test_bad_subscriptions_are_refused(conn, url, types):
    t = make_tenant(conn)["tenant_id"]
    with pytest.raises(psycopg.errors.CheckViolation):
        subscribe(conn, t, types, url=url)
