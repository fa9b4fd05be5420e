"""The webhook action step over HTTP: its configuration typed and checked at save (internal targets
refused as for subscriptions), its delivery log under the step, and the tenant's action secret
(admins read and rotate it)."""

from __future__ import annotations

import pytest

from tests.support.api import assert_problem, digest, new_user_key, ok
from tests.support.factories import make_contact, make_enrollment

HOOK = {"step_type": "action", "action_type": "webhook",
        "action_config": {"url": "https://hooks.example.com/crm", "payload": {"list": "vip"}, "on_failure": "exit"}}


@pytest.fixture
def campaign(api):
    return ok(api.post("/api/campaigns", json={"name": "Hooks"}), 201)


def steps_url(campaign):
    return f"/api/campaigns/{campaign['id']}/steps"


def test_a_webhook_step_is_saved_and_read_back(api, campaign):
    step = ok(api.post(steps_url(campaign), json=HOOK), 201)
    assert (step["action_type"], step["action_config"]) == ("webhook", HOOK["action_config"])
    assert ok(api.get(f"{steps_url(campaign)}/{step['id']}"))["action_config"]["on_failure"] == "exit"
    changed = ok(api.patch(f"{steps_url(campaign)}/{step['id']}",
                           json={"action_config": {"url": "https://other.example.com/in"}}))
    assert changed["action_config"] == {"url": "https://other.example.com/in"}


@pytest.mark.parametrize(("config", "status", "code"), [
    ({"url": "http://127.0.0.1:9/hook"}, 422, "WEBHOOK_TARGET_NOT_ALLOWED"),
    ({"url": "http://169.254.169.254/latest"}, 422, "WEBHOOK_TARGET_NOT_ALLOWED"),
    ({"url": "http://[::1]/hook"}, 422, "WEBHOOK_TARGET_NOT_ALLOWED"),
    ({"url": "ftp://hooks.example.com/x"}, 400, None),
    ({"url": "https://hooks.example.com/x", "on_failure": "retry"}, 400, None),
    ({"url": "https://hooks.example.com/x", "payload": [1]}, 400, None),
    ({"url": "https://hooks.example.com/x", "payload": {"blob": "x" * 70_000}}, 422, "INVALID_STEP_RULE"),
    ({"payload": {}}, 422, "INVALID_STEP_RULE"),
])
def test_bad_configs_are_refused_and_change_nothing(api, conn, campaign, config, status, code):
    before = digest(conn)
    assert_problem(api.post(steps_url(campaign), json=HOOK | {"action_config": config}), status, code)
    assert digest(conn) == before


def test_an_update_to_an_internal_target_is_refused(api, conn, campaign):
    step = ok(api.post(steps_url(campaign), json=HOOK), 201)
    before = digest(conn)
    assert_problem(api.patch(f"{steps_url(campaign)}/{step['id']}", json={"action_config": {"url": "http://10.1.2.3/x"}}),
                   422, "WEBHOOK_TARGET_NOT_ALLOWED")
    assert digest(conn) == before


def test_the_step_delivery_log(api, other_api, conn, tenant, campaign):
    step = ok(api.post(steps_url(campaign), json=HOOK), 201)
    contact = make_contact(conn, tenant.tenant_id)
    enrollment = make_enrollment(conn, tenant.tenant_id, campaign["id"], contact)
    for status in ("delivered", "failed"):
        conn.execute(
            "INSERT INTO campaigns.webhook_deliveries (tenant_id, event_id, event_type, payload, url, step_id, enrollment_id,"
            " on_failure, status, attempts, response_status, failed_at)"
            " VALUES (%s, 'evt_' || gen_random_uuid(), 'action.webhook', '{\"type\": \"action.webhook\"}', %s, %s, %s, 'exit',"
            " %s, 3, 500, CASE WHEN %s = 'failed' THEN now() END)",
            (tenant.tenant_id, HOOK["action_config"]["url"], step["id"], enrollment, status, status))
    log_url = f"{steps_url(campaign)}/{step['id']}/webhook-deliveries"
    log = ok(api.get(log_url))
    assert log["pagination"]["total"] == 2
    assert {(d["status"], d["url"], d["enrollment_id"], d["on_failure"]) for d in log["items"]} == {
        ("delivered", HOOK["action_config"]["url"], str(enrollment), "exit"),
        ("failed", HOOK["action_config"]["url"], str(enrollment), "exit")}
    assert [d["status"] for d in ok(api.get(log_url, params={"status": "failed"}))["items"]] == ["failed"]
    assert_problem(other_api.get(log_url), 404)
    assert_problem(api.get(f"/api/campaigns/{campaign['id']}/steps/{campaign['id']}/webhook-deliveries"), 404)


def test_the_action_secret_is_read_and_rotated_by_admins(api_app, api, other_api, conn, tenant):
    secret = ok(api.get("/api/webhooks/action-secret"))["secret"]
    stored = conn.execute("SELECT webhook_secret FROM campaigns.tenants WHERE id = %s", (tenant.tenant_id,)).fetchone()[0]
    assert secret == stored and secret.startswith("whsec_")
    assert ok(other_api.get("/api/webhooks/action-secret"))["secret"] != secret

    _, member_key = new_user_key(conn, tenant, "member@acme.test")
    with api_app.client(member_key) as member:
        assert_problem(member.get("/api/webhooks/action-secret"), 403, "FORBIDDEN")
        assert_problem(member.post("/api/webhooks/action-secret/rotate"), 403, "FORBIDDEN")
    assert ok(api.get("/api/webhooks/action-secret"))["secret"] == secret

    rotated = ok(api.post("/api/webhooks/action-secret/rotate"))["secret"]
    assert rotated != secret and rotated.startswith("whsec_")
    assert ok(api.get("/api/webhooks/action-secret"))["secret"] == rotated
