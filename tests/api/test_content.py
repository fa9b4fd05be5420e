"""Templates (Liquid validated at save) and sender accounts over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.api import assert_problem, count, digest, ok
from tests.support.factories import make_campaign, make_step


def test_template_crud(api, conn, tenant):
    body = ok(api.post("/api/templates", json={"name": "Welcome", "subject": "Hi {{ first_name | default: \"there\" }}",
                                               "html_content": "<p>{% if company %}{{ company | upcase }}{% endif %}</p>"}), 201)
    assert body["created_by"] == str(tenant.user_id) and body["text_content"] is None
    assert body.pop("warnings") == []  # the save-time check's, on saves only
    url = f"/api/templates/{body['id']}"
    assert ok(api.get(url)) == body
    assert ok(api.patch(url, json={"text_content": "plain", "html_content": None}))["html_content"] is None
    assert_problem(api.patch(url, json={"text_content": None}), 422, "CONSTRAINT_VIOLATED")  # a template needs a body
    assert ok(api.get("/api/templates"))["pagination"]["total"] == 1
    step_campaign = make_campaign(conn, tenant.tenant_id)
    make_step(conn, tenant.tenant_id, step_campaign, template_id=body["id"], subject_line=None, email_content=None)
    assert_problem(api.delete(url), 409, "IN_USE")
    conn.execute("DELETE FROM campaigns.campaign_steps WHERE tenant_id = %s", (tenant.tenant_id,))
    assert api.delete(url).status_code == 204
    assert_problem(api.get(url), 404, "NOT_FOUND")


@pytest.mark.parametrize("source, code", [
    ("{% if first_name %}Hi", "TEMPLATE_SYNTAX_ERROR"),
    ("{{ first_name | shout }}", "TEMPLATE_UNKNOWN_FILTER"),
    ("{% unknowntag %}", "TEMPLATE_SYNTAX_ERROR"),
    ("{{ }}", "TEMPLATE_SYNTAX_ERROR"),
    ("{% for x in %}{% endfor %}", "TEMPLATE_SYNTAX_ERROR"),
])
def test_invalid_liquid_is_refused_at_save(api, conn, tenant, source, code):
    for field in ("subject", "html_content", "text_content"):
        body = {"name": "bad", "text_content": "ok"} | {field: source}
        problem = assert_problem(api.post("/api/templates", json=body), 422, code)
        assert problem["errors"][0]["key"] == field
    good = ok(api.post("/api/templates", json={"name": "good", "text_content": "ok"}), 201)
    assert_problem(api.patch(f"/api/templates/{good['id']}", json={"subject": source}), 422, code)
    assert count(conn, "templates", tenant.tenant_id) == 1


@pytest.mark.parametrize("source", [
    "{{firstName|there}}", '{{company|"Your company"}}', "{{ custom.industry | default: 'tech' }}",
    "{{ name | truncate: 10 }} {{ when | date: '%Y' }} {{ n | currency }}", "{% if leadScore > 50 %}hot{% elsif x %}warm{% else %}cold{% endif %}",
])
def test_valid_liquid_and_legacy_fallbacks_are_accepted(api, source):
    ok(api.post("/api/templates", json={"name": "t", "subject": source, "text_content": source}), 201)


def test_template_body_validation(api, conn):
    before = count(conn, "templates")
    assert_problem(api.post("/api/templates", json={"name": "t"}), 422, "CONSTRAINT_VIOLATED")
    assert_problem(api.post("/api/templates", json={"name": "t", "text_content": 5}), 400, "VALIDATION_FAILED")
    assert count(conn, "templates") == before


def test_sender_accounts(api, conn, tenant):
    body = ok(api.post("/api/sender-accounts", json={"from_email": "hello@example.com", "from_name": "Hello",
                                                     "daily_limit": 50, "min_gap_seconds": 120}), 201)
    assert (body["daily_limit"], body["min_gap_seconds"], body["is_active"]) == (50, 120, True)
    url = f"/api/sender-accounts/{body['id']}"
    assert_problem(api.post("/api/sender-accounts", json={"from_email": "HELLO@example.com"}), 409, "SENDER_ALREADY_EXISTS")
    for bad in ({"from_email": "nope"}, {"from_email": "a@b.co", "daily_limit": 0}, {"from_email": "a@b.co", "min_gap_seconds": -1},
                {"from_email": "a@b.co", "last_slot_at": "2030-01-01T00:00:00Z"}):
        assert_problem(api.post("/api/sender-accounts", json=bad), 400, "VALIDATION_FAILED")
    updated = ok(api.patch(url, json={"daily_limit": None, "is_active": False}))
    assert updated["daily_limit"] is None and updated["is_active"] is False and updated["min_gap_seconds"] == 120
    assert ok(api.get(url))["from_name"] == "Hello"
    assert ok(api.get("/api/sender-accounts"))["pagination"]["total"] == 1
    campaign = ok(api.post("/api/campaigns", json={"name": "c", "sender_account_id": body["id"]}), 201)
    assert_problem(api.delete(url), 409, "IN_USE")
    ok(api.patch(f"/api/campaigns/{campaign['id']}", json={"sender_account_id": None}))
    assert api.delete(url).status_code == 204
    assert count(conn, "sender_accounts", tenant.tenant_id) == 0


def test_a_sender_accounts_retry_lifetime(api, other_api, conn, tenant):
    created = ok(api.post("/api/sender-accounts", json={"from_email": "patient@example.com",
                                                          "retry_lifetime_seconds": 5 * 86400}), 201)
    assert created["retry_lifetime_seconds"] == 432000
    url = f"/api/sender-accounts/{created['id']}"
    # The retry rule reads it: the account's lifetime wins over the tenant's and the default.
    lifetime = "SELECT campaigns._retry_lifetime(%s, %s)"
    assert conn.execute(lifetime, (tenant.tenant_id, created["id"])).fetchone()[0] == timedelta(days=5)
    before = digest(conn)
    assert_problem(api.patch(url, json={"retry_lifetime_seconds": 59}), 400)
    assert_problem(api.patch(url, json={"retry_lifetime_seconds": 31 * 86400}), 400)
    assert_problem(api.patch(url, json={"retry_lifetime_seconds": "2 days"}), 400)
    assert digest(conn) == before
    assert ok(api.patch(url, json={"retry_lifetime_seconds": 3600}))["retry_lifetime_seconds"] == 3600
    assert ok(api.patch(url, json={"daily_limit": 10}))["retry_lifetime_seconds"] == 3600
    cleared = ok(api.patch(url, json={"retry_lifetime_seconds": None}))
    assert cleared["retry_lifetime_seconds"] is None
    assert conn.execute(lifetime, (tenant.tenant_id, created["id"])).fetchone()[0] == timedelta(days=2)
    assert ok(api.get("/api/sender-accounts"))["items"][0]["retry_lifetime_seconds"] is None
