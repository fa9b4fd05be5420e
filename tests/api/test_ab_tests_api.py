"""A/B tests over HTTP: set up while draft, read results, pick a winner by hand."""

from __future__ import annotations

from tests.support.api import assert_problem, ok


def _campaign_with_email_step(api, n_contacts: int = 10):
    ids = [ok(api.post("/api/contacts", json={"email": f"ab{i}@example.com"}), 201)["id"] for i in range(n_contacts)]
    segment = ok(api.post("/api/segments", json={"name": "ab"}), 201)
    ok(api.post(f"/api/segments/{segment['id']}/contacts", json={"contact_ids": ids}))
    campaign = ok(api.post("/api/campaigns", json={"name": "AB", "segment_id": segment["id"]}), 201)
    step = ok(api.post(f"/api/campaigns/{campaign['id']}/steps",
                       json={"step_type": "email", "subject_line": "Hi", "email_content": "Hello"}), 201)
    return campaign["id"], step["id"]


def test_ab_test_lifecycle_over_http(api, conn):
    campaign, step = _campaign_with_email_step(api)
    url = f"/api/campaigns/{campaign}/steps/{step}/ab-test"
    assert_problem(api.get(url), 404, "NOT_FOUND")
    assert api.post(url, json={"variants": [{"subject_line": "only one"}]}).status_code == 400
    test = ok(api.post(url, json={"sample_percent": 100, "variants": [{"subject_line": "A"}, {"subject_line": "B"}]}))
    assert [v["variant_name"] for v in test["variants"]] == ["A", "B"]
    assert [v["is_control"] for v in test["variants"]] == [True, False]
    assert test["status"] == "draft"

    ok(api.post(f"/api/campaigns/{campaign}/launch", json={}))
    conn.execute("SELECT campaigns.process_due_steps()")
    running = ok(api.get(url))
    assert running["status"] == "running"
    assert sorted(r["sent"] + 0 for r in running["results"]) == [0, 0]          # queued, not sent yet
    assert conn.execute("SELECT count(*) FROM campaigns.email_messages WHERE campaign_id = %s AND ab_variant_id IS NOT NULL",
                        (campaign,)).fetchone()[0] == 10
    assert_problem(api.post(url, json={"variants": [{}, {}]}), 409, "CAMPAIGN_NOT_EDITABLE")

    winner = running["variants"][1]["id"]
    assert ok(api.post(f"{url}/winner", json={"variant_id": winner})) == {"released": 0}
    decided = ok(api.get(url))
    assert (decided["status"], decided["decision"], decided["winner_variant_id"]) == ("winner_deployed", "manual", winner)
    assert_problem(api.post(f"{url}/winner", json={"variant_id": winner}), 409, "AB_TEST_NOT_EDITABLE")


def test_ab_test_on_a_wait_step_and_delete(api):
    campaign, step = _campaign_with_email_step(api, 1)
    wait = ok(api.post(f"/api/campaigns/{campaign}/steps",
                       json={"step_type": "wait", "wait_duration_value": 1, "wait_duration_unit": "days"}), 201)
    assert_problem(api.post(f"/api/campaigns/{campaign}/steps/{wait['id']}/ab-test", json={"variants": [{}, {}]}),
                   422, "AB_TEST_INVALID")
    url = f"/api/campaigns/{campaign}/steps/{step}/ab-test"
    ok(api.post(url, json={"variants": [{}, {"is_control": True}]}))
    assert [v["is_control"] for v in ok(api.get(url))["variants"]] == [False, True]
    assert api.delete(url).status_code == 204
    assert_problem(api.delete(url), 404, "NOT_FOUND")
