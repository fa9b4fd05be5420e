"""The webhook action step in SQL: an enrollment reaching it queues one signed delivery (to the step's
URL, with the contact, the enrollment and the configured payload) and advances in the same run; its
configuration is checked at save; a delivery that fails for good exits the enrollment when the step
says on_failure = exit (only a live one), and changes nothing with continue; claims return the
step's URL and the tenant's action secret."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.support.processing import (
    MINUTE, action, add_steps, enrollment, launch, messages, new_campaign, process, ts, wait,
)

T0 = ts("2030-03-02 14:00Z")
URL = "https://hooks.example.com/crm"


def hook(url=URL, payload=None, on_failure=None):
    config = {"url": url}
    if payload is not None:
        config["payload"] = payload
    if on_failure is not None:
        config["on_failure"] = on_failure
    return action("webhook", config)


def deliveries(conn, step_id):
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute("SELECT * FROM campaigns.webhook_deliveries WHERE step_id = %s ORDER BY created_at", (step_id,)).fetchall()


def claim(conn, as_of, worker="w1"):
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute("SELECT * FROM campaigns.claim_webhook_batch(%s, 50, '2 minutes', %s)", (worker, as_of)).fetchall()


def record(conn, delivery_id, status, as_of, error=None, worker="w1"):
    return conn.execute("SELECT campaigns.record_webhook_result(%s, %s, %s, %s, 10, NULL, %s)",
                        (delivery_id, worker, status, error, as_of)).fetchone()[0]


def webhook_then_wait_then_email(conn, on_failure=None, contacts=None):
    """webhook -> wait 1 day -> email, launched and processed once at T0 + 1 minute."""
    s = new_campaign(conn, contacts or [{"first_name": "Ada", "company": "Analytical"}])
    hook_id, wait_id, email_id = add_steps(
        conn, s, hook(payload={"list": "vip", "n": 3}, on_failure=on_failure), wait(1, "days"), "email")
    launch(conn, s.campaign_id, T0)
    process(conn, T0 + MINUTE)
    return s, hook_id, wait_id, email_id


def test_reaching_the_step_queues_one_delivery_and_advances_in_the_same_run(conn):
    s, hook_id, _, email_id = webhook_then_wait_then_email(conn)

    e = enrollment(conn, s.campaign_id, s.contacts[0])
    rows = deliveries(conn, hook_id)
    assert len(rows) == 1
    d = rows[0]
    assert (d["status"], d["subscription_id"], d["url"], d["enrollment_id"], d["on_failure"], d["event_type"]) == (
        "queued", None, URL, e["id"], "continue", "action.webhook")
    assert d["event_id"] == f"evt_{d['id']}"
    body = d["payload"]
    assert body["type"] == "action.webhook" and body["timestamp"].startswith("2030-03-02T14:01")
    data = body["data"]
    assert data["payload"] == {"list": "vip", "n": 3}
    assert data["campaign_id"] == str(s.campaign_id) and data["step_id"] == str(hook_id)
    assert data["contact"]["id"] == str(s.contacts[0]) and data["contact"]["first_name"] == "Ada"
    assert data["contact"]["company"] == "Analytical" and "@" in data["contact"]["email"]
    assert data["enrollment"]["id"] == str(e["id"]) and data["enrollment"]["entry"] == 1

    # The same run went on through the wait: the email is next, a day after the step was due.
    assert (e["status"], e["current_step_id"]) == ("active", email_id)
    assert e["next_email_scheduled_at"] == T0 + timedelta(days=1)
    assert messages(conn, s.campaign_id) == []
    # A second run the same minute changes nothing: one delivery per visit.
    process(conn, T0 + 2 * MINUTE)
    assert len(deliveries(conn, hook_id)) == 1


def test_every_enrollment_gets_its_own_delivery(conn):
    s, hook_id, *_ = webhook_then_wait_then_email(conn, contacts=[{}, {}, {}])
    rows = deliveries(conn, hook_id)
    assert sorted(str(r["payload"]["data"]["contact"]["id"]) for r in rows) == sorted(map(str, s.contacts))
    assert len({r["event_id"] for r in rows}) == 3


@pytest.mark.parametrize("config", [
    {},
    {"url": "ftp://hooks.example.com/x"},
    {"url": "hooks.example.com/x"},
    {"url": 42},
    {"url": "https://hooks.example.com/" + "a" * 2048},
    {"url": URL, "payload": [1, 2]},
    {"url": URL, "payload": "text"},
    {"url": URL, "payload": {"blob": "x" * 70_000}},
    {"url": URL, "on_failure": "retry"},
    {"url": URL, "on_failure": None},
])
def test_bad_config_is_refused_at_save(conn, config):
    s = new_campaign(conn)
    with pytest.raises(psycopg.Error) as e, conn.transaction():
        add_steps(conn, s, action("webhook", config))
    assert e.value.sqlstate == "QC202"
    assert conn.execute("SELECT count(*) FROM campaigns.campaign_steps WHERE campaign_id = %s", (s.campaign_id,)).fetchone()[0] == 0


@pytest.mark.parametrize("config", [
    {"url": URL},
    {"url": "http://hooks.example.com:8080/in?x=1", "payload": {}, "on_failure": "exit"},
    {"url": URL, "payload": {"a": {"b": [1]}}, "on_failure": "continue"},
])
def test_good_config_is_saved(conn, config):
    s = new_campaign(conn)
    (step_id,) = add_steps(conn, s, action("webhook", config))
    assert conn.execute("SELECT action_config FROM campaigns.campaign_steps WHERE id = %s", (step_id,)).fetchone()[0] == config


def _fail_for_good(conn, d):
    """Claim and fail once as the delivery's 3 days run out: the next try would be too late."""
    at = d["expires_at"] - timedelta(seconds=1)
    (job,) = claim(conn, at)
    assert job["delivery_id"] == d["id"]
    assert record(conn, d["id"], 500, at) == "failed"
    return at


def test_a_failed_delivery_exits_a_live_enrollment_when_the_step_says_exit(conn):
    s, hook_id, *_ = webhook_then_wait_then_email(conn, on_failure="exit")
    (d,) = deliveries(conn, hook_id)
    # A try that will be retried changes nothing yet.
    (job,) = claim(conn, T0 + 2 * MINUTE)
    assert record(conn, job["delivery_id"], 503, T0 + 2 * MINUTE) == "queued"
    assert enrollment(conn, s.campaign_id, s.contacts[0])["status"] == "active"


    _fail_for_good(conn, d)
    e = enrollment(conn, s.campaign_id, s.contacts[0])
    assert (e["status"], e["exit_reason"]) == ("exited", "webhook_failed")
    assert e["next_email_scheduled_at"] is None


def test_an_exit_cancels_the_enrollments_queued_mail(conn):
    s = new_campaign(conn)
    email_id, hook_id, _ = add_steps(conn, s, "email", hook(on_failure="exit"), wait(1, "days"))
    launch(conn, s.campaign_id, T0)
    process(conn, T0 + MINUTE)           # the email is queued; the action waits for the next pass
    process(conn, T0 + 2 * MINUTE)
    (d,) = deliveries(conn, hook_id)
    assert [m["status"] for m in messages(conn, s.campaign_id)] == ["queued"]

    _fail_for_good(conn, d)
    assert [(m["status"], m["last_error"]) for m in messages(conn, s.campaign_id)] == [("cancelled", "webhook_failed")]
    assert enrollment(conn, s.campaign_id, s.contacts[0])["exit_reason"] == "webhook_failed"


def test_a_failed_delivery_leaves_an_ended_enrollment_as_it_is(conn):
    s, hook_id, *_ = webhook_then_wait_then_email(conn, on_failure="exit")
    (d,) = deliveries(conn, hook_id)
    e = enrollment(conn, s.campaign_id, s.contacts[0])
    conn.execute("SELECT campaigns.exit_enrollment(%s, %s, 'manual', %s)", (s.campaign_id, s.contacts[0], T0 + 2 * MINUTE))

    _fail_for_good(conn, d)
    after = enrollment(conn, s.campaign_id, s.contacts[0])
    assert (after["id"], after["status"], after["exit_reason"]) == (e["id"], "exited", "manual")
    assert after["exited_at"] == T0 + 2 * MINUTE


def test_a_failed_delivery_changes_nothing_with_continue(conn):
    s, hook_id, *_ = webhook_then_wait_then_email(conn)
    (d,) = deliveries(conn, hook_id)
    before = enrollment(conn, s.campaign_id, s.contacts[0])

    at = _fail_for_good(conn, d)
    assert enrollment(conn, s.campaign_id, s.contacts[0]) == before
    assert (deliveries(conn, hook_id)[0]["status"], deliveries(conn, hook_id)[0]["failed_at"]) == ("failed", at)


def test_a_refused_target_is_final_at_once(conn):
    s, hook_id, *_ = webhook_then_wait_then_email(conn, on_failure="exit")
    (d,) = deliveries(conn, hook_id)
    (job,) = claim(conn, T0 + 2 * MINUTE)
    assert record(conn, d["id"], None, T0 + 2 * MINUTE, error="target not allowed: 10.0.0.1") == "failed"
    assert enrollment(conn, s.campaign_id, s.contacts[0])["exit_reason"] == "webhook_failed"


def test_a_delivered_try_changes_nothing(conn):
    s, hook_id, *_ = webhook_then_wait_then_email(conn, on_failure="exit")
    (d,) = deliveries(conn, hook_id)
    claim(conn, T0 + 2 * MINUTE)
    assert record(conn, d["id"], 204, T0 + 2 * MINUTE) == "delivered"
    assert enrollment(conn, s.campaign_id, s.contacts[0])["status"] == "active"


def test_claims_return_the_step_url_and_the_tenant_action_secret(conn):
    s, hook_id, *_ = webhook_then_wait_then_email(conn)
    other, other_hook, *_ = webhook_then_wait_then_email(conn)
    secret = conn.execute("SELECT webhook_secret FROM campaigns.tenants WHERE id = %s", (s.tenant_id,)).fetchone()[0]
    other_secret = conn.execute("SELECT webhook_secret FROM campaigns.tenants WHERE id = %s", (other.tenant_id,)).fetchone()[0]
    assert secret.startswith("whsec_") and secret != other_secret

    jobs = {j["tenant_id"]: j for j in claim(conn, T0 + 2 * MINUTE)}
    assert (jobs[s.tenant_id]["url"], jobs[s.tenant_id]["secret"], jobs[s.tenant_id]["subscription_id"]) == (URL, secret, None)
    assert jobs[other.tenant_id]["secret"] == other_secret
    assert jobs[s.tenant_id]["event_type"] == "action.webhook" and jobs[s.tenant_id]["attempt"] == 1


def test_the_action_secret_rotates(conn):
    s, hook_id, *_ = webhook_then_wait_then_email(conn)
    conn.execute("SELECT set_config('campaigns.tenant_id', %s, true)", (str(s.tenant_id),))
    old = conn.execute("SELECT campaigns.webhook_action_secret()").fetchone()[0]  # no API user: a DBA
    new = conn.execute("SELECT campaigns.rotate_webhook_action_secret()").fetchone()[0]
    assert new != old and new.startswith("whsec_")
    (job,) = claim(conn, T0 + 2 * MINUTE)
    assert job["secret"] == new


def test_a_dba_redelivers_an_action_delivery_to_the_same_url(conn):
    s, hook_id, *_ = webhook_then_wait_then_email(conn, on_failure="exit")
    (d,) = deliveries(conn, hook_id)
    _fail_for_good(conn, d)
    again = conn.execute("SELECT (campaigns.redeliver_webhook(%s, %s)).id", (d["id"], T0 + timedelta(days=4))).fetchone()[0]
    rows = {r["id"]: r for r in deliveries(conn, hook_id)}
    assert (rows[again]["status"], rows[again]["event_id"], rows[again]["url"], rows[again]["on_failure"],
            rows[again]["enrollment_id"]) == ("queued", d["event_id"], URL, "exit", d["enrollment_id"])
