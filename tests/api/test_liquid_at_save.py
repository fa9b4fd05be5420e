"""One save-time Liquid check for steps, A/B variants and templates (service/liquid.py): a syntax
error, an unknown filter, include/render or a loop over the render limit is a 422 with its code and
nothing is stored; an unknown variable is saved, with a warning in the response."""

from __future__ import annotations

import pytest

from tests.support.api import assert_problem, count, ok

REFUSED = [
    ("Hi {% if %}", "TEMPLATE_SYNTAX_ERROR"),
    ("{% unknowntag %}", "TEMPLATE_SYNTAX_ERROR"),
    ("Hi {{ first_name | shout }}", "TEMPLATE_UNKNOWN_FILTER"),
    ("{% include 'footer' %}", "TEMPLATE_TAG_NOT_ALLOWED"),
    ("{% render 'footer' %}", "TEMPLATE_TAG_NOT_ALLOWED"),
    ("{% for i in (1..30000000) %}x{% endfor %}", "TEMPLATE_LIMIT_EXCEEDED"),
    ("{% for i in (1..1000000000) %}x{% endfor %}", "TEMPLATE_LIMIT_EXCEEDED"),
    ("{% for i in (1..100000) %}{% for j in (1..100000) %}x{% endfor %}{% endfor %}", "TEMPLATE_LIMIT_EXCEEDED"),
    # A literal loop in a branch a sample contact never takes is still counted.
    ("{% if first_name == 'nobody' %}{% for i in (1..20000) %}x{% endfor %}{% endif %}", "TEMPLATE_LIMIT_EXCEEDED"),
    # Only a render finds these: the trial render with a sample contact.
    ('{% assign s = "x" %}{% for i in (1..64) %}{% assign s = s | append: s %}{% endfor %}{{ s }}', "TEMPLATE_LIMIT_EXCEEDED"),
    ("{% assign n = 100 %}{% for i in (1..n) %}{% for j in (1..n) %}{% for k in (1..n) %}x{% endfor %}{% endfor %}{% endfor %}",
     "TEMPLATE_LIMIT_EXCEEDED"),
]
REFUSED_IDS = ["syntax", "unknown-tag", "unknown-filter", "include", "render", "loop-3e7", "loop-1e9", "nested-1e5",
               "untaken-branch", "doubling", "computed-nested"]


@pytest.fixture
def campaign(api):
    return ok(api.post("/api/campaigns", json={"name": "Liquid at save"}), 201)["id"]


@pytest.fixture
def step(api, campaign):
    return ok(api.post(f"/api/campaigns/{campaign}/steps",
                       json={"step_type": "email", "subject_line": "Hi", "email_content": "Hello"}), 201)


def _refused(response, code, key):
    problem = assert_problem(response, 422, code)
    assert problem["errors"][0]["key"] == key and problem["errors"][0]["source"] == "body"
    return problem


@pytest.mark.parametrize("source, code", REFUSED, ids=REFUSED_IDS)
def test_steps_refuse_bad_liquid_and_store_nothing(api, conn, tenant, campaign, step, source, code):
    url = f"/api/campaigns/{campaign}/steps"
    for field in ("subject_line", "email_content"):
        body = {"step_type": "email", "subject_line": "Hi", "email_content": "Hello"} | {field: source}
        _refused(api.post(url, json=body), code, field)
        _refused(api.patch(f"{url}/{step['id']}", json={field: source}), code, field)
    assert count(conn, "campaign_steps", tenant.tenant_id) == 1
    assert ok(api.get(f"{url}/{step['id']}"))["subject_line"] == "Hi"


@pytest.mark.parametrize("source, code", REFUSED, ids=REFUSED_IDS)
def test_ab_variants_refuse_bad_liquid_and_store_nothing(api, conn, tenant, campaign, step, source, code):
    url = f"/api/campaigns/{campaign}/steps/{step['id']}/ab-test"
    for field in ("subject_line", "email_content"):
        body = {"variants": [{"subject_line": "A"}, {field: source}]}
        _refused(api.post(url, json=body), code, f"variants[1].{field}")
    assert count(conn, "ab_tests", tenant.tenant_id) == 0
    assert_problem(api.get(url), 404, "NOT_FOUND")


@pytest.mark.parametrize("source, code", REFUSED, ids=REFUSED_IDS)
def test_templates_refuse_bad_liquid_and_store_nothing(api, conn, tenant, source, code):
    good = ok(api.post("/api/templates", json={"name": "good", "text_content": "ok"}), 201)
    for field in ("subject", "html_content", "text_content"):
        _refused(api.post("/api/templates", json={"name": "bad", "text_content": "ok"} | {field: source}), code, field)
        _refused(api.patch(f"/api/templates/{good['id']}", json={field: source}), code, field)
    assert count(conn, "templates", tenant.tenant_id) == 1
    assert ok(api.get(f"/api/templates/{good['id']}"))["text_content"] == "ok"


UNKNOWN = "Hi {{ frist_name }}, {{firstName|there}} at {{ contact.compnay }} ({{ custom.anything }})"
EXPECTED = {"frist_name", "contact.compnay"}


def _warned(body, field):
    assert {w["variable"] for w in body["warnings"]} == EXPECTED
    assert {(w["code"], w["field"]) for w in body["warnings"]} == {("UNKNOWN_VARIABLE", field)}


def test_unknown_variables_are_saved_with_warnings(api, conn, tenant, campaign, step):
    url = f"/api/campaigns/{campaign}/steps"
    created = ok(api.post(url, json={"step_type": "email", "subject_line": UNKNOWN, "email_content": "Hello"}), 201)
    _warned(created, "subject_line")
    assert ok(api.get(f"{url}/{created['id']}"))["subject_line"] == UNKNOWN
    _warned(ok(api.patch(f"{url}/{step['id']}", json={"email_content": UNKNOWN})), "email_content")
    clean = ok(api.patch(f"{url}/{step['id']}", json={"subject_line": "Hi {{firstName|there}} {{ unsubscribe_url }}"}))
    assert clean["warnings"] == []

    test = ok(api.post(f"{url}/{step['id']}/ab-test",
                       json={"variants": [{"subject_line": "A"}, {"email_content": UNKNOWN}]}))
    _warned(test, "variants[1].email_content")
    assert test["variants"][1]["email_content"] == UNKNOWN

    template = ok(api.post("/api/templates", json={"name": "t", "text_content": UNKNOWN}), 201)
    _warned(template, "text_content")
    _warned(ok(api.patch(f"/api/templates/{template['id']}", json={"subject": UNKNOWN})), "subject")
    assert count(conn, "templates", tenant.tenant_id) == 1


def test_a_template_that_burns_cpu_is_refused_by_the_trial_render(api, conn, tenant):
    # Within every count limit, but far more CPU than the trial render's budget.
    burner = ('{% capture big %}{% for i in (1..4000) %}abcdefghij{% endfor %}{% endcapture %}'
              '{% for i in (1..6000) %}{% assign a = big | split: "" | sort | join: "" %}{% endfor %}')
    problem = _refused(api.post("/api/templates", json={"name": "slow", "text_content": burner}),
                       "TEMPLATE_LIMIT_EXCEEDED", "text_content")
    assert "render time" in problem["detail"]
    assert count(conn, "templates", tenant.tenant_id) == 0
