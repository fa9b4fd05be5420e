"""Test sends end to end: the API queues one, a real worker composes and sends it to a real aiosmtpd
server at the given address, marked as a test; nothing of the campaign changes (no message, no event,
no counter), the real contact's suppression does not stop it, and a tenant gets 20 an hour."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta

import psycopg
import pytest

from tests.support.api import assert_problem, digest, in_process, ok
from tests.support.factories import make_tenant
from tests.support.outbox import run_once


def _campaign_with_email_step(api):
    contact = ok(api.post("/api/contacts", json={"email": "ada@example.com", "first_name": "Ada",
                                                  "custom_fields": {"plan": "pro"}}), 201)
    segment = ok(api.post("/api/segments", json={"name": "one"}), 201)
    ok(api.post(f"/api/segments/{segment['id']}/contacts", json={"contact_ids": [contact["id"]]}))
    campaign = ok(api.post("/api/campaigns", json={"name": "Tested", "segment_id": segment["id"],
                                                    "from_email": "news@example.com"}), 201)
    step = ok(api.post(f"/api/campaigns/{campaign['id']}/steps", json={
        "step_type": "email", "subject_line": "Hello {{ first_name }}",
        "email_content": '<p>Hi {{ first_name }}, your {{ custom.plan }} plan</p><a href="https://example.com/x">x</a>'}), 201)
    return campaign["id"], step["id"], contact["id"]


def test_a_test_send_reaches_the_address_marked_and_changes_nothing_of_the_campaign(conn, db_url, smtp):
    tenant = make_tenant(conn)
    with in_process(db_url) as app, app.client(tenant["api_key"]) as api:
        campaign, step, contact = _campaign_with_email_step(api)
        # The real contact is suppressed: its own mail would be cancelled, a test of its data is not.
        ok(api.post("/api/suppressions", json={"email": "ada@example.com", "reason": "manual"}), 201)
        before = digest(conn, tenant["tenant_id"])
        queued = ok(api.post(f"/api/campaigns/{campaign}/steps/{step}/test-send",
                             json={"to_email": "me@example.com", "contact_id": contact}), 202)
        assert (queued["status"], queued["subject"]) == ("queued", "[Test] Hello Ada")

        stats = run_once(db_url, smtp)
        smtp.wait_for(1)
    assert stats.sent == 0                                   # no outbox message was sent
    [received] = smtp.received
    assert received.rcpt == "me@example.com" and received.mail_from == "news@example.com"
    msg = email.message_from_bytes(received.data, policy=email.policy.default)
    assert msg["X-Campaigns-Test"] == "1"
    assert msg["Subject"] == "[Test] Hello Ada"
    html = msg.get_body(("html",)).get_content()
    assert "Hi Ada, your pro plan" in html
    assert "/api/track/" not in html                         # neither opens nor clicks of the contact are tracked
    assert 'href="https://example.com/x"' in html
    assert conn.execute("SELECT status, attempts FROM campaigns.test_sends WHERE id = %s",
                        (queued["id"],)).fetchone() == ("sent", 1)
    after = digest(conn, tenant["tenant_id"])
    changed = {table for table in before if before[table] != after[table]}
    assert changed == {"test_sends"}                         # messages, events, step counters, analytics: unchanged


def test_test_sends_are_rate_limited_per_tenant(conn, db_url):
    tenant, other = make_tenant(conn), make_tenant(conn)
    with in_process(db_url) as app, app.client(tenant["api_key"]) as api, app.client(other["api_key"]) as api2:
        campaign, step, _ = _campaign_with_email_step(api)
        url = f"/api/campaigns/{campaign}/steps/{step}/test-send"
        for _ in range(20):
            ok(api.post(url, json={"to_email": "me@example.com", "sample": {"first_name": "Bo"}}), 202)
        refused = api.post(url, json={"to_email": "me@example.com"})
        assert_problem(refused, 429, "RATE_LIMITED")
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600
        assert conn.execute("SELECT count(*) FROM campaigns.test_sends WHERE tenant_id = %s",
                            (tenant["tenant_id"],)).fetchone()[0] == 20
        # Another tenant's budget is its own.
        campaign2, step2, _ = _campaign_with_email_step(api2)
        ok(api2.post(f"/api/campaigns/{campaign2}/steps/{step2}/test-send", json={"to_email": "me@example.com"}), 202)


def test_test_send_refusals(conn, db_url):
    tenant = make_tenant(conn)
    with in_process(db_url) as app, app.client(tenant["api_key"]) as api:
        campaign, step, contact = _campaign_with_email_step(api)
        url = f"/api/campaigns/{campaign}/steps/{step}/test-send"
        assert api.post(url, json={"contact_id": contact}).status_code == 400              # to_email missing
        assert api.post(url, json={"to_email": "not an address"}).status_code == 400
        assert_problem(api.post(url, json={"to_email": "me@example.com", "contact_id": contact, "sample": {}}),
                       422, "VALIDATION_FAILED")
    assert conn.execute("SELECT count(*) FROM campaigns.test_sends").fetchone()[0] == 0


def _enqueue(conn, campaign, step, at):
    return conn.execute(
        "SELECT test_send_id, retry_after_seconds FROM campaigns.enqueue_test_send(%s, %s, NULL, NULL, 'me@example.com', "
        "'{}'::jsonb, '<t@x>', 2, '1 hour', %s)", (campaign, step, at)).fetchone()


def test_the_window_slides_and_a_dead_workers_lease_counts_as_an_attempt(conn, db_url):
    tenant = make_tenant(conn)
    with in_process(db_url) as app, app.client(tenant["api_key"]) as api:
        campaign, step, _ = _campaign_with_email_step(api)
    conn.execute("SELECT set_config('campaigns.tenant_id', %s, false)", (str(tenant["tenant_id"]),))
    t0 = conn.execute("SELECT now()").fetchone()[0]
    first, _ = _enqueue(conn, campaign, step, t0)
    assert _enqueue(conn, campaign, step, t0 + timedelta(minutes=10))[0] is not None
    assert _enqueue(conn, campaign, step, t0 + timedelta(minutes=20)) == (None, 40 * 60)   # t0's ages out at t0 + 1 h
    assert _enqueue(conn, campaign, step, t0 + timedelta(minutes=61))[0] is not None
    conn.execute("SELECT set_config('campaigns.tenant_id', '', false)")
    with pytest.raises(psycopg.Error) as refused:
        _enqueue(conn, campaign, step, t0)
    assert refused.value.sqlstate == "QC422"                                      # outside a tenant's transaction

    def claim(worker, minutes):
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT test_send_id, attempt FROM campaigns.claim_test_sends(%s, 1, '1 minute', %s)",
            (worker, t0 + timedelta(minutes=minutes)))]
    assert claim("w1", 0) == [(first, 1)]
    assert claim("w2", 0.5) == []                                                 # leased: nobody else gets it
    assert claim("w2", 2) == [(first, 2)]                                         # w1 died: reclaimed, an attempt
    assert conn.execute("SELECT campaigns.record_test_send(%s, 'w1')", (first,)).fetchone()[0] is None  # not w1's now
    assert claim("w3", 4) == [(first, 3)]
    assert claim("w4", 6) == []                                                   # the third dead lease fails it
    assert conn.execute("SELECT status, last_error LIKE 'worker_crashed%%' FROM campaigns.test_sends WHERE id = %s",
                        (first,)).fetchone() == ("failed", True)
