"""Webhook subscriptions over HTTP: create (the secret shown once), list, change, disable and enable,
delete; internal targets refused; the delivery log and redelivery; another tenant sees nothing."""

from __future__ import annotations

import pytest

from service.config import get_settings
from tests.support.api import assert_problem, count, digest, ok


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data",
                                 "https://10.0.0.7/hook", "http://[::1]/hook", "http://localhost/hook"])
def test_internal_targets_are_refused(api, conn, url):
    before = digest(conn)
    assert_problem(api.post("/api/webhooks", json={"url": url, "event_types": ["message.sent"]}), 422,
                   "WEBHOOK_TARGET_NOT_ALLOWED")
    assert digest(conn) == before


def test_an_allowed_network_may_be_called(api, monkeypatch):
    monkeypatch.setenv("CAMPAIGNS_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
    get_settings.cache_clear()
    try:
        ok(api.post("/api/webhooks", json={"url": "http://127.0.0.1:8080/hook", "event_types": ["message.sent"]}), 201)
    finally:
        get_settings.cache_clear()


def test_subscription_lifecycle_and_delivery_log(api, other_api, conn, tenant):
    created = ok(api.post("/api/webhooks", json={"url": "https://hooks.example.com/hook", "description": "CRM",
                                                 "event_types": ["message.replied", "message.bounced", "message.replied"]}), 201)
    assert created["secret"].startswith("whsec_") and created["event_types"] == ["message.bounced", "message.replied"]
    hook = f"/api/webhooks/{created['id']}"
    shown = ok(api.get(hook))
    assert "secret" not in shown and shown["enabled"] is True
    assert ok(api.get("/api/webhooks"))["pagination"]["total"] == 1

    before = digest(conn)
    assert_problem(api.post("/api/webhooks", json={"url": "ftp://hooks.example.com/", "event_types": ["message.sent"]}), 400)
    assert_problem(api.post("/api/webhooks", json={"url": "https://hooks.example.com/", "event_types": ["message.teleported"]}), 400)
    assert_problem(api.post("/api/webhooks", json={"url": "https://hooks.example.com/", "event_types": []}), 400)
    assert_problem(api.patch(hook, json={"secret": "whsec_x"}), 400)
    assert_problem(other_api.get(hook), 404)
    assert_problem(other_api.patch(hook, json={"enabled": False}), 404)
    assert_problem(other_api.delete(hook), 404)
    assert digest(conn) == before

    disabled = ok(api.patch(hook, json={"enabled": False}))
    assert (disabled["enabled"], disabled["disabled_reason"]) == (False, "disabled by a user")
    enabled = ok(api.patch(hook, json={"enabled": True, "event_types": ["message.sent"]}))
    assert (enabled["enabled"], enabled["disabled_reason"], enabled["event_types"]) == (True, None, ["message.sent"])

    delivery = conn.execute(
        "INSERT INTO campaigns.webhook_deliveries (tenant_id, subscription_id, event_id, event_type, payload, status,"
        " attempts, response_status, latency_ms, last_error, failed_at)"
        " VALUES (%s, %s, 'evt_1', 'message.sent', '{\"type\": \"message.sent\"}', 'failed', 9, 503, 41, 'HTTP 503', now())"
        " RETURNING id", (tenant.tenant_id, created["id"])).fetchone()[0]
    log = ok(api.get(f"{hook}/deliveries", params={"status": "failed"}))
    assert [(d["event_id"], d["response_status"], d["latency_ms"], d["attempts"]) for d in log["items"]] == [("evt_1", 503, 41, 9)]
    assert ok(api.get(f"{hook}/deliveries", params={"status": "delivered"}))["items"] == []
    assert_problem(other_api.get(f"{hook}/deliveries"), 404)
    assert_problem(other_api.post(f"{hook}/deliveries/{delivery}/redeliver"), 404)

    again = ok(api.post(f"{hook}/deliveries/{delivery}/redeliver"), 201)
    assert (again["event_id"], again["status"], again["attempts"]) == ("evt_1", "queued", 0)
    assert ok(api.get(f"{hook}/deliveries"))["pagination"]["total"] == 2
    ok(api.patch(hook, json={"enabled": False}))
    assert_problem(api.post(f"{hook}/deliveries/{delivery}/redeliver"), 409)

    assert api.delete(hook).status_code == 204
    assert count(conn, "webhook_deliveries", tenant.tenant_id) == 0
    assert_problem(api.get(hook), 404)
