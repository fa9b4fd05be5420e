"""Event-triggered campaigns end to end: a signup event over the API enrolls its contact and queues
the welcome mail in the same call, and the mail reaches a real SMTP server with the event's
properties rendered; a purchase event before the mail went out cancels it."""

from __future__ import annotations

import email
import email.policy

from tests.support.api import in_process, ok
from tests.support.factories import make_tenant
from tests.support.outbox import run_once


def _welcome_campaign(api):
    campaign = ok(api.post("/api/campaigns", json={"name": "Welcome", "from_email": "hi@example.com",
                                                   "trigger_event": "signed_up", "exit_events": ["purchased"]}), 201)
    ok(api.post(f"/api/campaigns/{campaign['id']}/steps", json={
        "step_type": "email", "subject_line": "Welcome to the {{ event.plan }} plan, {{ first_name }}",
        "email_content": "<p>Your trial ends in {{ event.trial_days | default: 14 }} days.</p>"}), 201)
    ok(api.post(f"/api/campaigns/{campaign['id']}/launch"))
    return campaign["id"]


def test_a_signup_event_sends_the_welcome_mail(conn, db_url, smtp):
    tenant = make_tenant(conn)
    with in_process(db_url) as app, app.client(tenant["api_key"]) as api:
        campaign = _welcome_campaign(api)
        result = ok(api.post("/api/events", json={"name": "signed_up", "email": "ada@example.com",
                                                  "contact": {"first_name": "Ada"},
                                                  "properties": {"plan": "Pro", "trial_days": 30}}))
        assert result["enrolled"][0]["campaign_id"] == campaign
    # The first step ran with the event: the welcome mail is queued without a processing run.
    assert conn.execute("SELECT status FROM campaigns.email_messages WHERE enrollment_id = %s",
                        (result["enrolled"][0]["enrollment_id"],)).fetchone()[0] == "queued"
    stats = run_once(db_url, smtp)
    assert stats.sent == 1 and len(smtp.received) == 1
    mail = email.message_from_bytes(smtp.received[0].data, policy=email.policy.default)
    assert mail["Subject"] == "Welcome to the Pro plan, Ada"
    assert "Your trial ends in 30 days." in mail.get_body(("html",)).get_content()


def test_a_purchase_before_the_mail_cancels_it(conn, db_url, smtp):
    tenant = make_tenant(conn)
    with in_process(db_url) as app, app.client(tenant["api_key"]) as api:
        _welcome_campaign(api)
        started = ok(api.post("/api/events", json={"name": "signed_up", "email": "bob@example.com",
                                                   "properties": {"plan": "Basic"}}))
        assert conn.execute("SELECT status FROM campaigns.email_messages WHERE enrollment_id = %s",
                            (started["enrolled"][0]["enrollment_id"],)).fetchone()[0] == "queued"
        bought = ok(api.post("/api/events", json={"name": "purchased", "email": "bob@example.com"}))
        assert len(bought["exited"]) == 1
    assert run_once(db_url, smtp).sent == 0 and smtp.received == []
    assert conn.execute("SELECT status FROM campaigns.email_messages WHERE enrollment_id = %s",
                        (started["enrolled"][0]["enrollment_id"],)).fetchone()[0] == "cancelled"
