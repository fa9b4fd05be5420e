"""A step's preview: the worker's subject, HTML and text for a contact, made-up data or an A/B
variant, with warnings for what the contact lacks; read-only."""

from __future__ import annotations

from tests.support.api import assert_problem, digest, ok

HTML = ('<html><body><p>Hi {{firstName|there}} from {{ company | default: "your team" }}, '
        '{{ custom.plan }} plan</p><a href="https://example.com/offer">Offer</a></body></html>')


def _campaign(api, **step):
    contact = ok(api.post("/api/contacts", json={"email": "ada@example.com", "first_name": "Ada",
                                                  "company": "Engines", "custom_fields": {"plan": "pro"}}), 201)
    campaign = ok(api.post("/api/campaigns", json={"name": "Preview", "from_email": "sales@example.com",
                                                    "from_name": "Sales"}), 201)
    body = {"step_type": "email", "subject_line": "Hello {{ first_name | upcase }}", "email_content": HTML} | step
    created = ok(api.post(f"/api/campaigns/{campaign['id']}/steps", json=body), 201)
    return campaign["id"], created["id"], contact["id"]


def test_preview_with_a_contact_fills_merge_tags_like_the_worker(api, conn, tenant):
    campaign, step, contact = _campaign(api)
    before = digest(conn, tenant.tenant_id)
    got = ok(api.post(f"/api/campaigns/{campaign}/steps/{step}/preview", json={"contact_id": contact}))
    assert got["subject"] == "Hello ADA"
    assert "Hi Ada from Engines, pro plan" in got["html"]
    assert "Hi Ada from Engines, pro plan" in got["text"]          # the text part derived from the HTML
    assert 'href="https://example.com/offer"' in got["html"]        # tracking left out: the link as written
    assert "/api/track/open" not in got["html"]
    assert "/unsubscribe/preview" in got["html"]                     # the footer, with the inert stand-in
    assert (got["from_email"], got["from_name"], got["to_email"]) == ("sales@example.com", "Sales", "ada@example.com")
    assert got["warnings"] == []
    assert digest(conn, tenant.tenant_id) == before


def test_preview_with_a_sample_uses_fallbacks_and_warns_of_missing_values(api, conn, tenant):
    campaign, step, _ = _campaign(api)
    before = digest(conn, tenant.tenant_id)
    got = ok(api.post(f"/api/campaigns/{campaign}/steps/{step}/preview",
                      json={"sample": {"last_name": "Lovelace", "custom_fields": {"plan": "free"}}}))
    assert "Hi there from your team, free plan" in got["html"]
    assert got["subject"] == "Hello"                              # trimmed, as a header carries it
    missing = {(w["field"], w["variable"]) for w in got["warnings"] if w["code"] == "MISSING_VALUE"}
    assert missing == {("subject_line", "first_name"), ("email_content", "firstName"), ("email_content", "company")}
    assert digest(conn, tenant.tenant_id) == before


def test_preview_of_an_ab_variant(api):
    campaign, step, contact = _campaign(api)
    ok(api.post(f"/api/campaigns/{campaign}/steps/{step}/ab-test", json={"variants": [
        {}, {"subject_line": "{{ first_name }}, a question", "email_content": "<p>B for {{ company }}</p>",
             "sender_name": "Bea", "sender_email": "bea@example.com"}]}))
    url = f"/api/campaigns/{campaign}/steps/{step}/preview"
    b = ok(api.post(url, json={"contact_id": contact, "variant": "B"}))
    assert (b["subject"], b["variant"], b["from_email"], b["from_name"]) == ("Ada, a question", "B", "bea@example.com", "Bea")
    assert "B for Engines" in b["html"]
    a = ok(api.post(url, json={"contact_id": contact, "variant": "A"}))
    assert a["subject"] == "Hello ADA"                              # the control falls back to the step
    assert_problem(api.post(url, json={"contact_id": contact, "variant": "C"}), 422, "VALIDATION_FAILED")


def test_preview_warns_of_unknown_variables_and_stored_unknown_filters(api, conn):
    campaign, step, contact = _campaign(api, subject_line="Hi {{ nickname }}")
    # Content stored before today's save-time check: the worker sends it with merge tags removed.
    conn.execute("UPDATE campaigns.campaign_steps SET email_content = %s WHERE id = %s",
                 ("<p>{{ first_name | shout }}</p>", step))
    got = ok(api.post(f"/api/campaigns/{campaign}/steps/{step}/preview", json={"contact_id": contact}))
    codes = {(w["code"], w["variable"]) for w in got["warnings"]}
    assert ("UNKNOWN_VARIABLE", "nickname") in codes
    assert ("TEMPLATE_UNKNOWN_FILTER", "shout") in codes
    assert "<p></p>" in got["html"]


def test_preview_over_a_render_limit_is_refused(api, conn):
    campaign, step, contact = _campaign(api)
    conn.execute("UPDATE campaigns.campaign_steps SET email_content = %s WHERE id = %s",
                 ("{% for i in (1..200) %}{% for j in (1..200) %}x{% endfor %}{% endfor %}", step))
    assert_problem(api.post(f"/api/campaigns/{campaign}/steps/{step}/preview", json={"contact_id": contact}),
                   422, "TEMPLATE_LIMIT_EXCEEDED")


def test_preview_refusals(api, api_app, other_tenant):
    campaign, step, contact = _campaign(api)
    url = f"/api/campaigns/{campaign}/steps/{step}/preview"
    with api_app.client(other_tenant.api_key) as other:
        assert_problem(other.post(url, json={"sample": {}}), 404, "NOT_FOUND")
    wait = ok(api.post(f"/api/campaigns/{campaign}/steps",
                       json={"step_type": "wait", "wait_duration_value": 1, "wait_duration_unit": "days"}), 201)
    assert_problem(api.post(f"/api/campaigns/{campaign}/steps/{wait['id']}/preview", json={"sample": {}}),
                   422, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={}), 422, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={"contact_id": contact, "sample": {}}), 422, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={"contact_id": "00000000-0000-4000-8000-000000000009"}), 422, "REFERENCE_NOT_FOUND")
    assert api.post(url, json={"sample": {}, "extra": 1}).status_code == 400
