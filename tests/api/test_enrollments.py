"""Enrolling contacts now over HTTP: by id and as contact objects upserted by email, each with its
outcome; launch's rules (suppressed, unsubscribed); idempotent repeats; re-entry after an exit when
the campaign allows it; only into active campaigns; bad requests change nothing."""

from __future__ import annotations

from uuid import uuid4

from tests.support.api import assert_problem, digest, ok


def _active_campaign(api, **settings):
    seed = ok(api.post("/api/contacts", json={"email": "seed@example.com"}), 201)
    segment = ok(api.post("/api/segments", json={"name": "seed"}), 201)
    ok(api.post(f"/api/segments/{segment['id']}/contacts", json={"contact_ids": [seed["id"]]}))
    campaign = ok(api.post("/api/campaigns", json={"name": "Welcome", "segment_id": segment["id"],
                                                   "from_email": "hi@example.com", **settings}), 201)
    first = ok(api.post(f"/api/campaigns/{campaign['id']}/steps",
                        json={"step_type": "email", "subject_line": "Welcome", "email_content": "Hello"}), 201)
    # A wait and a second email: enrollments stay live after the first.
    wait = ok(api.post(f"/api/campaigns/{campaign['id']}/steps", json={
        "step_type": "wait", "wait_duration_value": 2, "wait_duration_unit": "days", "after_step_id": first["id"]}), 201)
    ok(api.post(f"/api/campaigns/{campaign['id']}/steps", json={
        "step_type": "email", "subject_line": "Still there?", "email_content": "Hello again", "after_step_id": wait["id"]}), 201)
    ok(api.post(f"/api/campaigns/{campaign['id']}/launch"))
    return campaign["id"]


def _outcomes(response):
    return sorted((r["email"] or r["contact_id"], r["outcome"]) for r in response["results"])


def test_enroll_by_id_and_by_object_with_each_outcome(api, other_api, conn):
    campaign = _active_campaign(api)
    url = f"/api/campaigns/{campaign}/enrollments"
    known = ok(api.post("/api/contacts", json={"email": "known@example.com"}), 201)["id"]
    gone = ok(api.post("/api/contacts", json={"email": "gone@example.com"}), 201)["id"]
    ok(api.patch(f"/api/contacts/{gone}", json={"status": "unsubscribed"}))
    ok(api.post("/api/suppressions", json={"email": "blocked@example.com"}), 201)
    missing = str(uuid4())

    first = ok(api.post(url, json={"contact_ids": [known, gone, missing, known],
                                   "contacts": [{"email": "New@Example.com", "first_name": "Nia"},
                                                {"email": "blocked@example.com"},
                                                {"email": "odd@example.com", "timezone": "Mars/Olympus"}]}))
    assert first["enrolled"] == 2
    assert _outcomes(first) == sorted([(known, "enrolled"), (gone, "not_mailable"), (missing, "not_found"),
                                       ("New@Example.com", "enrolled"), ("blocked@example.com", "suppressed"),
                                       ("odd@example.com", "invalid")])
    invalid = next(r for r in first["results"] if r["outcome"] == "invalid")
    assert invalid["error_code"] == "INVALID_TIMEZONE" and invalid["contact_id"] is None
    enrolled = [r["enrollment_id"] for r in first["results"] if r["outcome"] == "enrolled"]
    # Due now (immediate strategy, no window): the first email was queued in the same call, and the
    # enrollments wait two days for the second.
    rows = conn.execute("SELECT cc.status, cc.next_email_scheduled_at > now() + interval '1 day', "
                        "(SELECT count(*) FROM campaigns.email_messages m WHERE m.enrollment_id = cc.id AND m.status = 'queued') "
                        "FROM campaigns.campaign_contacts cc WHERE cc.id = ANY(%s::uuid[])", (enrolled,)).fetchall()
    assert rows == [("active", True, 1)] * 2
    assert ok(api.get(f"/api/campaigns/{campaign}"))["campaign"]["total_contacts"] == 3

    again = ok(api.post(url, json={"contact_ids": [known], "contacts": [{"email": "new@example.com"}]}))
    assert again["enrolled"] == 0 and {r["outcome"] for r in again["results"]} == {"already_enrolled"}
    assert {r["enrollment_id"] for r in again["results"]} == set(enrolled)
    assert_problem(other_api.post(url, json={"contact_ids": [known]}), 404)


def test_reentry_after_exit_only_when_the_campaign_allows_it(api, conn):
    once = _active_campaign(api)
    again = ok(api.patch(f"/api/campaigns/{once}", json={"name": "Again"}))["id"]
    assert again == once
    contact = ok(api.post("/api/contacts", json={"email": "loop@example.com"}), 201)["id"]
    url = f"/api/campaigns/{once}/enrollments"
    ok(api.post(url, json={"contact_ids": [contact]}))
    conn.execute("SELECT campaigns.exit_enrollment(%s, %s, 'manual')", (once, contact))
    assert ok(api.post(url, json={"contact_ids": [contact]}))["results"][0]["outcome"] == "already_enrolled"

    ok(api.patch(f"/api/campaigns/{once}", json={"reentry": "after_exit"}))
    second = ok(api.post(url, json={"contact_ids": [contact]}))["results"][0]
    assert second["outcome"] == "enrolled"
    # Never two live enrollments: while the second runs, a third call does nothing.
    assert ok(api.post(url, json={"contact_ids": [contact]}))["results"][0] == second | {"outcome": "already_enrolled"}
    entries = conn.execute("SELECT entry, status FROM campaigns.campaign_contacts WHERE campaign_id = %s AND contact_id = %s "
                           "ORDER BY entry", (once, contact)).fetchall()
    assert entries == [(1, "exited"), (2, "active")]


def test_bad_requests_change_nothing(api, conn):
    campaign = _active_campaign(api)
    url = f"/api/campaigns/{campaign}/enrollments"
    before = digest(conn)
    assert_problem(api.post(url, json={}), 422)
    assert_problem(api.post(url, json={"contact_ids": [str(uuid4()) for _ in range(600)],
                                       "contacts": [{"email": f"c{i}@example.com"} for i in range(600)]}), 422)
    assert_problem(api.post(url, json={"contact_ids": [str(uuid4()) for _ in range(1001)]}), 400)
    assert_problem(api.post(url, json={"contact_ids": ["not-a-uuid"]}), 400)
    assert_problem(api.post(url, json={"contacts": [{"first_name": "no email"}]}), 400)
    assert_problem(api.post(f"/api/campaigns/{uuid4()}/enrollments", json={"contact_ids": [str(uuid4())]}), 404)
    ok(api.post(f"/api/campaigns/{campaign}/pause"))
    paused = digest(conn)
    assert_problem(api.post(url, json={"contacts": [{"email": "late@example.com"}]}), 409, "INVALID_STATE_TRANSITION")
    assert digest(conn) == paused
    assert before != paused  # the pause itself changed the campaign; the refusals did not
