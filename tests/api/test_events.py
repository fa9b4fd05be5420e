"""Contact events over HTTP: an event enrolls its contact into the campaigns it triggers (with the
property filter), ends enrollments of campaigns that name it as an exit event, is recorded once per
idempotency key, and bad events change nothing."""

from __future__ import annotations

from uuid import uuid4

from tests.support.api import assert_problem, count, digest, ok


def _triggered(api, name, trigger, **settings):
    campaign = ok(api.post("/api/campaigns", json={"name": name, "from_email": "hi@example.com",
                                                   "trigger_event": trigger, **settings}), 201)
    ok(api.post(f"/api/campaigns/{campaign['id']}/steps",
                json={"step_type": "email", "subject_line": "Welcome to {{ event.plan }}", "email_content": "Hi"}), 201)
    ok(api.post(f"/api/campaigns/{campaign['id']}/launch"))  # no audience needed: contacts come with events
    return campaign["id"]


def test_an_event_enrolls_into_the_campaigns_it_triggers(api, other_api, conn, tenant):
    welcome = _triggered(api, "Welcome", "signed_up")
    enterprise = _triggered(api, "Enterprise", "signed_up", trigger_filter={
        "match": "all", "conditions": [{"field": "event.plan", "operator": "equals", "value": "enterprise"}]})
    _triggered(api, "Other", "downloaded")

    pro = ok(api.post("/api/events", json={"name": "signed_up", "email": "Ada@Example.com", "contact": {"first_name": "Ada"},
                                           "properties": {"plan": "pro"}, "idempotency_key": "signup-1"}))
    assert pro["duplicate"] is False and [e["campaign_id"] for e in pro["enrolled"]] == [welcome]
    assert pro["enrolled"][0]["outcome"] == "enrolled"
    props = conn.execute("SELECT trigger_properties, trigger_event_id FROM campaigns.campaign_contacts WHERE id = %s",
                         (pro["enrolled"][0]["enrollment_id"],)).fetchone()
    assert props == ({"plan": "pro"}, __import__("uuid").UUID(pro["event_id"]))
    assert ok(api.get(f"/api/contacts/{pro['contact_id']}"))["first_name"] == "Ada"

    big = ok(api.post("/api/events", json={"name": "signed_up", "email": "grace@example.com",
                                           "properties": {"plan": "enterprise"}}))
    assert sorted(e["campaign_id"] for e in big["enrolled"]) == sorted([welcome, enterprise])

    # The same key again: the first result, nothing recorded.
    events_before = count(conn, "contact_events", tenant.tenant_id)
    again = ok(api.post("/api/events", json={"name": "signed_up", "email": "ada@example.com", "idempotency_key": "signup-1",
                                             "properties": {"plan": "changed"}}))
    assert again == pro | {"duplicate": True}
    assert count(conn, "contact_events", tenant.tenant_id) == events_before
    # Another tenant's key space is its own.
    assert ok(other_api.post("/api/events", json={"name": "signed_up", "email": "ada@example.com",
                                                  "idempotency_key": "signup-1"}))["duplicate"] is False


def test_an_exit_event_ends_the_enrollment_with_goal(api, conn):
    nurture = _triggered(api, "Nurture", "trial_started", exit_events=["purchased"])
    started = ok(api.post("/api/events", json={"name": "trial_started", "email": "buyer@example.com"}))
    enrollment = started["enrolled"][0]["enrollment_id"]
    bought = ok(api.post("/api/events", json={"name": "purchased", "contact_id": started["contact_id"],
                                              "properties": {"amount": 99}}))
    assert bought["exited"] == [{"campaign_id": nurture, "enrollment_id": enrollment}] and bought["enrolled"] == []
    assert conn.execute("SELECT status, exit_reason FROM campaigns.campaign_contacts WHERE id = %s",
                        (enrollment,)).fetchone() == ("exited", "goal")


def test_a_batch_keeps_order_and_one_key_once(api, conn, tenant):
    _triggered(api, "Batch", "signed_up")
    batch = ok(api.post("/api/events/batch", json={"events": [
        {"name": "signed_up", "email": f"b{i}@example.com", "idempotency_key": f"k{i % 3}"} for i in range(6)]}))
    results = batch["results"]
    assert [r["duplicate"] for r in results] == [False, False, False, True, True, True]
    assert [r["event_id"] for r in results[3:]] == [r["event_id"] for r in results[:3]]
    assert count(conn, "contact_events", tenant.tenant_id) == 3


def test_bad_events_change_nothing(api, conn):
    _triggered(api, "Guarded", "signed_up")
    before = digest(conn)
    assert_problem(api.post("/api/events", json={"name": "signed_up"}), 422)
    assert_problem(api.post("/api/events", json={"name": "signed_up", "email": "a@example.com",
                                                 "contact_id": str(uuid4())}), 422)
    assert_problem(api.post("/api/events", json={"name": "signed up!", "email": "a@example.com"}), 400)
    assert_problem(api.post("/api/events", json={"name": "signed_up", "contact_id": str(uuid4())}), 404)
    assert_problem(api.post("/api/events", json={"name": "signed_up", "email": "a@example.com",
                                                 "contact": {"timezone": "Mars/Olympus"}}), 422)
    assert_problem(api.post("/api/events/batch", json={"events": []}), 400)
    assert_problem(api.post("/api/campaigns", json={"name": "x", "trigger_event": "signed_up", "trigger_filter": {
        "match": "all", "conditions": [{"field": "event.plan", "operator": "teleports", "value": 1}]}}), 422,
        "INVALID_SEGMENT_RULES")
    assert digest(conn) == before


def test_exit_events_null_means_none(api):
    campaign = ok(api.post("/api/campaigns", json={"name": "n", "exit_events": None}), 201)
    assert campaign["exit_events"] == []
    assert ok(api.patch(f"/api/campaigns/{campaign['id']}", json={"exit_events": ["purchased"]}))["exit_events"] == ["purchased"]
    assert ok(api.patch(f"/api/campaigns/{campaign['id']}", json={"exit_events": None}))["exit_events"] == []
