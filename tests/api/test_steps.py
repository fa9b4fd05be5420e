"""Steps over HTTP: create, list, get, update, delete, reorder; the engine's validation surfaced as
problem codes and the editing rules of running campaigns."""

from __future__ import annotations

import pytest

from tests.support.api import assert_problem, count, digest, ok
from tests.support.factories import make_contact, make_enrollment, make_message, make_segment

EMAIL = {"step_type": "email", "subject_line": "Hi {{ first_name }}", "email_content": "<p>Hello</p>"}
WAIT = {"step_type": "wait", "wait_duration_value": 2, "wait_duration_unit": "days"}


@pytest.fixture
def campaign(api):
    return ok(api.post("/api/campaigns", json={"name": "Steps"}), 201)


def add(api, campaign, body, status=201):
    return ok(api.post(f"/api/campaigns/{campaign['id']}/steps", json=body), status)


def test_create_list_get_update_delete(api, campaign):
    url = f"/api/campaigns/{campaign['id']}/steps"
    first = add(api, campaign, EMAIL | {"step_name": "Welcome"})
    assert first["step_order"] == 1 and first["campaign_id"] == campaign["id"] and first["next_step_id"] is None
    wait = add(api, campaign, WAIT | {"after_step_id": first["id"]})
    second = add(api, campaign, EMAIL | {"after_step_id": wait["id"]})
    steps = ok(api.get(url))
    assert [s["id"] for s in steps] == [first["id"], wait["id"], second["id"]]
    assert steps[0]["next_step_id"] == wait["id"] and steps[1]["next_step_id"] == second["id"]
    assert ok(api.get(f"{url}/{wait['id']}"))["wait_duration_value"] == 2
    updated = ok(api.patch(f"{url}/{second['id']}", json={"subject_line": "Again", "step_name": None}))
    assert updated["subject_line"] == "Again" and updated["step_name"] is None and updated["updated_at"] > second["updated_at"]
    # Deleting the wait splices it out.
    assert api.delete(f"{url}/{wait['id']}").status_code == 204
    assert [s["next_step_id"] for s in ok(api.get(url))] == [second["id"], None]
    assert_problem(api.get(f"{url}/{wait['id']}"), 404, "NOT_FOUND")
    assert_problem(api.delete(f"{url}/{wait['id']}"), 404, "NOT_FOUND")


def test_inserting_after_a_step_takes_over_its_successor(api, campaign):
    a = add(api, campaign, EMAIL)
    c = add(api, campaign, EMAIL | {"after_step_id": a["id"]})
    b = add(api, campaign, WAIT | {"after_step_id": a["id"]})
    steps = {s["id"]: s for s in ok(api.get(f"/api/campaigns/{campaign['id']}/steps"))}
    assert steps[a["id"]]["next_step_id"] == b["id"] and steps[b["id"]]["next_step_id"] == c["id"]


def test_condition_branches(api, campaign):
    email = add(api, campaign, EMAIL)
    yes = add(api, campaign, EMAIL | {"subject_line": "Thanks"})
    no = add(api, campaign, EMAIL | {"subject_line": "Reminder"})
    cond = add(api, campaign, {"step_type": "condition", "condition_rules": {"type": "email_opened"}, "email_step_id": email["id"],
                               "true_next_step_id": yes["id"], "false_next_step_id": no["id"]})
    ok(api.patch(f"/api/campaigns/{campaign['id']}/steps/{email['id']}", json={"next_step_id": cond["id"]}))
    assert_problem(api.post(f"/api/campaigns/{campaign['id']}/steps", json=EMAIL | {"after_step_id": cond["id"]}), 422, "VALIDATION_FAILED")


def test_validation_is_the_engines(api, conn, tenant, campaign):
    url = f"/api/campaigns/{campaign['id']}/steps"
    other = ok(api.post("/api/campaigns", json={"name": "Other"}), 201)
    foreign_step = add(api, other, EMAIL)
    email = add(api, campaign, EMAIL)
    before = digest(conn)
    # Shape errors: the request Struct.
    assert_problem(api.post(url, json={"step_type": "wait", "wait_duration_value": 0, "wait_duration_unit": "days"}), 400, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={"step_type": "wait", "wait_duration_value": 1, "wait_duration_unit": "fortnights"}), 400, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={"step_type": "sms"}), 400, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={"step_type": "condition", "condition_rules": {"type": "moon_phase"}}), 400, "VALIDATION_FAILED")
    # Table constraints and the step trigger.
    assert_problem(api.post(url, json={"step_type": "wait"}), 422, "CONSTRAINT_VIOLATED")
    assert_problem(api.post(url, json={"step_type": "email"}), 422, "CONSTRAINT_VIOLATED")
    assert_problem(api.post(url, json=EMAIL | {"next_step_id": foreign_step["id"]}), 422, "STEP_TARGET_OUTSIDE_CAMPAIGN")
    assert_problem(api.post(url, json={"step_type": "action", "action_type": "add_tag", "action_config": {}}), 422, "INVALID_STEP_RULE")
    assert_problem(api.post(url, json=EMAIL | {"step_order": 1}), 409, "STEP_ORDER_TAKEN")
    assert_problem(api.post(url, json=EMAIL | {"after_step_id": foreign_step["id"]}), 422, "STEP_TARGET_OUTSIDE_CAMPAIGN")
    assert digest(conn) == before
    # A cycle through an email step.
    wait = add(api, campaign, WAIT | {"after_step_id": email["id"]})
    assert_problem(api.patch(f"{url}/{wait['id']}", json={"next_step_id": email["id"]}), 422, "STEP_CYCLE")
    assert ok(api.get(f"{url}/{wait['id']}"))["next_step_id"] is None


def test_at_most_20_steps(api, conn, tenant, campaign):
    for _ in range(20):
        add(api, campaign, WAIT)
    assert_problem(api.post(f"/api/campaigns/{campaign['id']}/steps", json=WAIT), 422, "TOO_MANY_STEPS")
    assert count(conn, "campaign_steps", tenant.tenant_id) == 20


def test_reorder_uses_the_deferrable_constraint(api, campaign):
    ids = [add(api, campaign, EMAIL)["id"] for _ in range(4)]
    new_order = [ids[3], ids[1], ids[0], ids[2]]
    body = ok(api.post(f"/api/campaigns/{campaign['id']}/steps/reorder", json={"step_ids": new_order}))
    assert [s["id"] for s in body] == new_order and [s["step_order"] for s in body] == [1, 2, 3, 4]
    url = f"/api/campaigns/{campaign['id']}/steps/reorder"
    assert_problem(api.post(url, json={"step_ids": ids[:3]}), 422, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={"step_ids": [ids[0]] * 4}), 422, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={"step_ids": []}), 400, "VALIDATION_FAILED")
    assert [s["id"] for s in ok(api.get(f"/api/campaigns/{campaign['id']}/steps"))] == new_order


def test_running_campaign_step_rules(api, conn, tenant, campaign):
    url = f"/api/campaigns/{campaign['id']}/steps"
    email = add(api, campaign, EMAIL)
    wait = add(api, campaign, WAIT | {"after_step_id": email["id"]})
    idle = add(api, campaign, WAIT)
    contact = make_contact(conn, tenant.tenant_id)
    conn.execute("UPDATE campaigns.campaigns SET status = 'active', segment_id = %s WHERE id = %s",
                 (make_segment(conn, tenant.tenant_id, [contact]), campaign["id"]))
    enrollment = make_enrollment(conn, tenant.tenant_id, campaign["id"], contact, status="active", current_step_id=wait["id"])
    make_message(conn, tenant.tenant_id, enrollment, email["id"])
    before = digest(conn)
    # Contacts stand on the wait; mail was sent from the email step.
    assert_problem(api.patch(f"{url}/{wait['id']}", json={"step_type": "email"} | EMAIL), 409, "STEP_IN_USE")
    assert_problem(api.delete(f"{url}/{wait['id']}"), 409, "STEP_IN_USE")
    assert_problem(api.patch(f"{url}/{email['id']}", json=WAIT), 409, "STEP_IN_USE")
    assert_problem(api.delete(f"{url}/{email['id']}"), 409, "STEP_IN_USE")
    assert digest(conn) == before
    # Content, waits and unused steps may change.
    assert ok(api.patch(f"{url}/{email['id']}", json={"subject_line": "Better subject"}))["subject_line"] == "Better subject"
    assert ok(api.patch(f"{url}/{wait['id']}", json={"wait_duration_value": 3}))["wait_duration_value"] == 3
    assert ok(api.patch(f"{url}/{idle['id']}", json=EMAIL))["step_type"] == "email"
    assert api.delete(f"{url}/{idle['id']}").status_code == 204
    add(api, campaign, EMAIL)
    # Completed: nothing changes.
    conn.execute("UPDATE campaigns.campaigns SET status = 'completed', completed_at = now() WHERE id = %s", (campaign["id"],))
    before = digest(conn)
    assert_problem(api.post(url, json=EMAIL), 409, "CAMPAIGN_NOT_EDITABLE")
    assert_problem(api.patch(f"{url}/{email['id']}", json={"subject_line": "x"}), 409, "CAMPAIGN_NOT_EDITABLE")
    assert_problem(api.delete(f"{url}/{email['id']}"), 409, "CAMPAIGN_NOT_EDITABLE")
    assert_problem(api.post(f"{url}/reorder", json={"step_ids": [email["id"]]}), 409, "CAMPAIGN_NOT_EDITABLE")
    assert digest(conn) == before


def test_steps_of_unknown_campaign(api):
    url = "/api/campaigns/00000000-0000-4000-8000-000000000000/steps"
    assert_problem(api.get(url), 404, "NOT_FOUND")
    assert_problem(api.post(url, json=EMAIL), 404, "NOT_FOUND")


def test_step_of_another_campaign_is_not_found(api, campaign):
    other = ok(api.post("/api/campaigns", json={"name": "Other"}), 201)
    step = add(api, other, EMAIL)
    assert_problem(api.get(f"/api/campaigns/{campaign['id']}/steps/{step['id']}"), 404, "NOT_FOUND")
    assert_problem(api.patch(f"/api/campaigns/{campaign['id']}/steps/{step['id']}", json={"step_name": "x"}), 404, "NOT_FOUND")
    assert_problem(api.delete(f"/api/campaigns/{campaign['id']}/steps/{step['id']}"), 404, "NOT_FOUND")
