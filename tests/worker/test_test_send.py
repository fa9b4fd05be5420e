"""Test sends end to end: the API queues one, a real worker composes and sends it to a real aiosmtpd
server at the given address, marked as a test; nothing of the campaign changes (no message, no event,
no counter), the real contact's suppression does not stop it, and a tenant gets 20 an hour."""

from __future__ import annotations

import email
import email.policy

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
