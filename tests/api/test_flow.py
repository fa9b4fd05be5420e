"""The whole flow over HTTP: a tenant's key, contacts, a segment, a template and sender, a campaign
with steps, launch; the engine's scheduled functions are called in SQL as pg_cron would (processing,
the outbox worker's claim and result, an open, the nightly rollup); then the analytics over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.support.api import assert_problem, ok


def test_full_flow_over_http(api, conn, tenant):
    # Contacts: a batch with one bad row.
    batch = ok(api.post("/api/contacts/batch", json={"contacts": [
        {"email": "ada@example.com", "first_name": "Ada", "tags": ["beta"], "timezone": "Europe/London"},
        {"email": "grace@example.com", "first_name": "Grace", "tags": ["beta"], "custom_fields": {"plan": "pro"}},
        {"email": "linus@example.com", "tags": ["beta", "customer"]},
        {"email": "ken@example.com", "tags": []},
        {"email": "lost@example.com", "timezone": "Nowhere/City"},
    ]}))
    assert (batch["created"], batch["rejected"]) == (4, 1)

    # A dynamic segment: beta testers who are not customers.
    rules = {"match": "all", "conditions": [{"field": "tags", "operator": "contains", "value": "beta"}],
             "exclusions": [{"field": "tags", "operator": "contains", "value": "customer"}]}
    assert ok(api.post("/api/segments/preview", json={"rules": rules}))["contact_count"] == 2
    segment = ok(api.post("/api/segments", json={"name": "Beta testers", "segment_type": "dynamic", "rules": rules}), 201)
    assert segment["contact_count"] == 2

    template = ok(api.post("/api/templates", json={"name": "Welcome", "subject": "Welcome {{firstName|friend}}",
                                                   "html_content": "<p>Hi {{ first_name }}</p>"}), 201)
    sender = ok(api.post("/api/sender-accounts", json={"from_email": "team@example.com", "from_name": "Team"}), 201)

    # The campaign and its sequence: email, wait 2 days, email.
    campaign = ok(api.post("/api/campaigns", json={"name": "Beta onboarding", "segment_id": segment["id"],
                                                   "sender_account_id": sender["id"]}), 201)
    url = f"/api/campaigns/{campaign['id']}"
    first = ok(api.post(f"{url}/steps", json={"step_type": "email", "step_name": "Welcome", "template_id": template["id"]}), 201)
    wait = ok(api.post(f"{url}/steps", json={"step_type": "wait", "wait_duration_value": 2, "wait_duration_unit": "days",
                                             "after_step_id": first["id"]}), 201)
    second = ok(api.post(f"{url}/steps", json={"step_type": "email", "step_name": "Tips", "subject_line": "Tips",
                                               "email_content": "<p>Three tips</p>", "after_step_id": wait["id"]}), 201)
    detail = ok(api.get(url))
    assert [s["id"] for s in detail["steps"]] == [first["id"], wait["id"], second["id"]]
    assert [s["next_step_id"] for s in detail["steps"]] == [wait["id"], second["id"], None]

    launched = ok(api.post(f"{url}/launch"))
    assert launched["affected"] == 2 and launched["campaign"]["status"] == "active"

    # pg_cron's processing run, as the scheduler would call it.
    launch_time = datetime.now(timezone.utc)
    assert conn.execute("SELECT campaigns.process_due_steps(%s)", (launch_time + timedelta(seconds=1),)).fetchone()[0] == 2
    enrollments = ok(api.get(f"{url}/contacts"))["items"]
    assert {e["status"] for e in enrollments} == {"active"} and {e["steps_completed"] for e in enrollments} == {1}
    assert {e["current_step_id"] for e in enrollments} == {second["id"]}  # the wait is measured from the due time

    # The outbox worker's part, through its SQL functions: claim, send, record; then an open.
    claimed = conn.execute("SELECT message_id FROM campaigns.claim_outbox_batch('flow-test', 10, p_as_of => %s)",
                           (launch_time + timedelta(seconds=2),)).fetchall()
    assert len(claimed) == 2
    for (message_id,) in claimed:
        assert conn.execute("SELECT campaigns.record_send_result(%s, 'flow-test', 'sent', '250 OK')", (message_id,)).fetchone()[0] == "sent"
    conn.execute("SELECT campaigns.record_email_event(%s, 'open')", (claimed[0][0],))

    # Two days later the second email goes out; then the nightly rollup of today.
    assert conn.execute("SELECT campaigns.process_due_steps(%s)", (launch_time + timedelta(days=2, minutes=5),)).fetchone()[0] == 2
    today = datetime.now(timezone.utc).date()
    conn.execute("SELECT campaigns.rollup_analytics(%s)", (today,))

    analytics = ok(api.get(f"{url}/analytics", params={"startDate": today.isoformat(), "endDate": today.isoformat()}))
    assert len(analytics["overall"]) == 1
    day = analytics["overall"][0]
    assert (day["emails_sent"], day["unique_opens"]) == (2, 1)
    assert analytics["summary"]["emails_sent"] == 2
    by_step = {s["step_id"]: s for s in analytics["byStep"]}
    assert by_step[first["id"]]["emails_sent"] == 2 and by_step[first["id"]]["opens"] == 1
    assert by_step[second["id"]]["emails_sent"] == 0  # queued, not yet sent: counters count sent mail
    assert ok(api.get(url))["analytics"]["emails_sent"] == 2

    # The seed API's alias and the state rules.
    assert ok(api.post(f"{url}/send", json={"action": "pause"}))["campaign"]["status"] == "paused"
    assert_problem(api.delete(url), 409, "CAMPAIGN_NOT_EDITABLE")
    assert ok(api.post(f"{url}/send", json={"action": "resume"}))["campaign"]["status"] == "active"
