"""Activity over HTTP: a contact's timeline (enrollments, messages with the relay's reply, email
events, newest first, paginated) and a campaign's alerts (why it was auto-paused); another tenant's
contact or campaign is a 404."""

from __future__ import annotations

from tests.support.api import assert_problem, ok
from tests.support.factories import make_campaign, make_contact, make_enrollment, make_message, make_step


def test_a_contacts_timeline_is_its_history_newest_first(api, other_api, conn, tenant):
    t = tenant.tenant_id
    contact = make_contact(conn, t)
    stranger = make_contact(conn, t)
    first = make_campaign(conn, t, name="Welcome", status="active", launched_at="2030-03-01 09:00+00")
    second = make_campaign(conn, t, name="Nurture", status="active", launched_at="2030-03-02 09:00+00")
    step1, step2 = make_step(conn, t, first), make_step(conn, t, second)
    done = make_enrollment(conn, t, first, contact, status="exited", enrolled_at="2030-03-01 09:00+00",
                           exited_at="2030-03-01 12:00+00", exit_reason="replied")
    live = make_enrollment(conn, t, second, contact, status="active", enrolled_at="2030-03-02 09:00+00")
    sent = make_message(conn, t, done, step1, status="sent", queued_at="2030-03-01 09:00:01+00",
                        sent_at="2030-03-01 09:00:02+00", smtp_response="250 2.0.0 Ok: queued", subject="Hi Ada")
    failed = make_message(conn, t, live, step2, status="failed", queued_at="2030-03-02 09:00:01+00",
                          failed_at="2030-03-02 09:00:03+00", smtp_response="554 5.7.1 refused", last_error="554 5.7.1 refused")
    conn.execute("SELECT campaigns.record_email_event(%s, 'open', %s)", (sent, "2030-03-01 10:00+00"))
    conn.execute("SELECT campaigns.record_email_event(%s, 'reply', %s)", (sent, "2030-03-01 11:00+00"))
    # Another contact's history never shows.
    other = make_enrollment(conn, t, first, stranger, status="active")
    make_message(conn, t, other, step1, status="queued")

    timeline = ok(api.get(f"/api/contacts/{contact}/timeline", params={"limit": 100}))
    kinds = [(i["kind"], i.get("event_type") or i.get("status")) for i in timeline["items"]]
    assert kinds == [("message", "failed"), ("enrollment", "active"), ("email_event", "reply"), ("email_event", "open"),
                     ("message", "sent"), ("enrollment", "exited")]
    assert timeline["pagination"]["total"] == 6
    newest = timeline["items"][0]
    assert (newest["message_id"], newest["smtp_reply"], newest["campaign_name"]) == (str(failed), "554 5.7.1 refused", "Nurture")
    ended = timeline["items"][-1]
    assert (ended["exit_reason"], ended["ended_at"][:13]) == ("replied", "2030-03-01T12")
    assert timeline["items"][4]["subject"] == "Hi Ada"

    # What an application reported about the contact shows too, with no campaign.
    ok(api.post("/api/events", json={"name": "upgraded", "contact_id": str(contact), "occurred_at": "2030-03-03T08:00:00Z"}))
    latest = ok(api.get(f"/api/contacts/{contact}/timeline", params={"limit": 1}))["items"][0]
    assert (latest["kind"], latest["event_type"], latest["campaign_id"]) == ("contact_event", "upgraded", None)

    page2 = ok(api.get(f"/api/contacts/{contact}/timeline", params={"limit": 2, "offset": 3}))
    assert [i["event_type"] for i in page2["items"]] == ["reply", "open"] and page2["pagination"]["has_more"] is True

    assert_problem(other_api.get(f"/api/contacts/{contact}/timeline"), 404, "NOT_FOUND")
    assert_problem(api.get("/api/contacts/00000000-0000-4000-8000-000000000000/timeline"), 404, "NOT_FOUND")
    assert_problem(api.get(f"/api/contacts/{contact}/timeline", params={"limit": 0}), 400)


def test_a_campaigns_alerts_say_why_it_was_paused(api, other_api, conn, tenant):
    t = tenant.tenant_id
    campaign = make_campaign(conn, t, status="active", launched_at="2030-03-01 09:00+00")
    step = make_step(conn, t, campaign)
    for i in range(100):
        enrollment = make_enrollment(conn, t, campaign, make_contact(conn, t), status="active")
        make_message(conn, t, enrollment, step, status="sent", sent_at="2030-03-02 10:00+00",
                     bounced_at="2030-03-02 10:05+00" if i < 7 else None)
    assert ok(api.get(f"/api/campaigns/{campaign}/alerts"))["items"] == []
    assert conn.execute("SELECT campaigns.check_deliverability(%s)", ("2030-03-02 15:00+00",)).fetchone()[0] == 1

    alerts = ok(api.get(f"/api/campaigns/{campaign}/alerts"))
    assert [(a["kind"], a["value"], a["threshold"], a["action_taken"]) for a in alerts["items"]] == [
        ("bounce_rate", 7.0, 5.0, "paused")]
    assert ok(api.get(f"/api/campaigns/{campaign}"))["campaign"]["status"] == "paused"
    assert_problem(other_api.get(f"/api/campaigns/{campaign}/alerts"), 404, "NOT_FOUND")
