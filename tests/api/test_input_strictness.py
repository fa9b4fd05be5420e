"""Input the API refuses cleanly, before any handler runs:

* a JSON body nested deeper than MAX_JSON_DEPTH is a 400 INVALID_JSON on every route that takes one,
  refused before a decoder recurses into it (a thousand nested arrays used to exhaust its stack);
* body values are taken as their JSON type and never coerced: `1` is not `true`, a number is not a
  timestamp, a string is not a number; query and path parameters, which are text, are still parsed;
* a validation error names where the problem is: `source` is body, query or path, `key` the field
  (an unknown field is named itself);
* a problem's title is fixed per code, whatever the occurrence; the specifics are in the detail.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.app import create_app
from service.request_body import MAX_JSON_DEPTH, json_depth
from tests.support.api import assert_problem, digest, ok

APP = create_app("postgresql://unused")
# Every route whose handler takes a JSON body (`data`), whichever router it is on.
JSON_ROUTES = sorted(
    (route.path, method)
    for route in APP.routes
    for method, (handler, _) in getattr(route, "route_handler_map", {}).items()
    if "data" in handler.parsed_fn_signature.parameters
)


def url_of(path: str) -> str:
    """The path with every parameter filled (ids that name nothing: the body is refused first)."""
    return re.sub(r"\{(\w+):(\w+)\}", lambda m: str(uuid.uuid4()) if m[2] == "uuid" else "x", path)


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def test_the_route_table_has_json_routes():
    assert len(JSON_ROUTES) >= 30


@pytest.mark.parametrize(("text", "depth"), [
    ("1", 0), ("[]", 1), ('{"a": [{"b": {}}]}', 4), ('["[[[[", "{{{"]', 1),
    ('["\\"[[[", [["\\\\"]]]', 3), ('["\\\\", [["\\"["]]]', 3), ('{"[[": {"]]": []}}', 3),
    (nested(1000), 1000),
])
def test_depth_counts_brackets_outside_strings(text, depth):
    assert json_depth(text.encode()) == depth


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


# Text made of what could confuse a scan: brackets, quotes and backslashes.
TRICKY = st.text(alphabet='[]{}"\\ax\u00e9', max_size=8)
DOCUMENTS = st.recursive(st.none() | st.booleans() | st.integers() | TRICKY,
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
                         max_leaves=40)


@given(document=DOCUMENTS, ensure_ascii=st.booleans())
@settings(max_examples=300, deadline=None)
def test_depth_of_any_document_is_its_nesting(document, ensure_ascii):
    assert json_depth(json.dumps(document, ensure_ascii=ensure_ascii).encode()) == depth_of(document)


@pytest.mark.parametrize(("path", "method"), JSON_ROUTES, ids=[f"{m} {p}" for p, m in JSON_ROUTES])
def test_deeply_nested_json_is_refused_on_every_json_route(api, conn, tenant, path, method):
    before = digest(conn, tenant.tenant_id)
    for body in (nested(1_000), nested(100_000), '{"name": ' + nested(MAX_JSON_DEPTH) + "}",
                 "[" * 5_000):  # unterminated too: refused for its depth, not a stack overflow
        response = api.request(method, url_of(path), content=body, headers={"content-type": "application/json"})
        assert_problem(response, 400, "INVALID_JSON")
    assert digest(conn, tenant.tenant_id) == before


def custom_fields_nested(depth: int) -> dict:
    """A contact whose body nests `depth` levels: the body object, custom_fields, then arrays."""
    return {"email": f"deep{depth}@example.com", "custom_fields": {"deep": json.loads(nested(depth - 2))}}


def test_nesting_up_to_the_limit_is_accepted(api):
    created = ok(api.post("/api/contacts", json=custom_fields_nested(MAX_JSON_DEPTH)), 201)
    assert json_depth(json.dumps(created["custom_fields"]).encode()) == MAX_JSON_DEPTH - 1
    assert_problem(api.post("/api/contacts", json=custom_fields_nested(MAX_JSON_DEPTH + 1)), 400, "INVALID_JSON")


def test_malformed_json_is_invalid_json(api):
    for body in ("{", '{"email": }', "nul", '{"email": "a@b.c"} x'):
        assert_problem(api.post("/api/contacts", content=body, headers={"content-type": "application/json"}),
                       400, "INVALID_JSON")


@pytest.fixture
def campaign(api):
    return ok(api.post("/api/campaigns", json={"name": "strict"}), 201)


def body_error(response, key: str) -> dict:
    """The 400's one validation error, which names this body field."""
    problem = assert_problem(response, 400, "VALIDATION_FAILED")
    assert [(e.get("key"), e.get("source")) for e in problem["errors"]] == [(key, "body")], problem
    return problem["errors"][0]


@pytest.mark.parametrize(("field", "value"), [
    ("refresh_audience", 1), ("refresh_audience", 0), ("refresh_audience", "true"), ("track_opens", "false"),
    ("daily_limit", "100"), ("daily_limit", 1.5), ("daily_limit", True), ("name", 42), ("sending_days", "1,2"),
    ("start_date", 0), ("start_date", 1_900_000_000),
])
def test_campaign_fields_are_not_coerced(api, conn, tenant, campaign, field, value):
    before = digest(conn, tenant.tenant_id)
    body_error(api.patch(f"/api/campaigns/{campaign['id']}", json={field: value}), field)
    assert digest(conn, tenant.tenant_id) == before


def test_a_number_is_not_a_timestamp_in_an_event(api, conn, tenant):
    before = digest(conn, tenant.tenant_id)
    event = {"type": "delivered", "message_id": str(uuid.uuid4()), "occurred_at": 0}
    body_error(api.post("/api/intake/events", json={"events": [event]}), "events[0].occurred_at")
    assert digest(conn, tenant.tenant_id) == before


@pytest.mark.parametrize(("body", "key"), [
    ({"email": 5}, "email"),
    ({"email": "a@example.com", "tags": "vip"}, "tags"),
    ({"email": "a@example.com", "tags": ["vip", 1]}, "tags[1]"),
    ({"email": "a@example.com", "score": "5"}, "score"),
    ({"email": "a@example.com", "first_name": False}, "first_name"),
])
def test_contact_fields_are_not_coerced(api, conn, tenant, body, key):
    before = digest(conn, tenant.tenant_id)
    body_error(api.post("/api/contacts", json=body), key)
    assert digest(conn, tenant.tenant_id) == before


def test_values_of_their_own_type_are_accepted(api, campaign):
    updated = ok(api.patch(f"/api/campaigns/{campaign['id']}", json={
        "refresh_audience": True, "daily_limit": 100, "start_date": "2030-01-01T09:00:00Z"}))
    assert (updated["refresh_audience"], updated["daily_limit"]) == (True, 100)


def test_query_and_path_parameters_are_still_parsed_from_text(api, campaign):
    page = ok(api.get("/api/campaigns", params={"limit": "1", "offset": "0"}))
    assert page["pagination"]["limit"] == 1
    assert ok(api.get("/api/approvals", params={"mine": "true"}))["items"] == []
    assert ok(api.get(f"/api/campaigns/{campaign['id']}/steps")) == []


def test_an_unknown_field_is_named_itself(api):
    body_error(api.post("/api/contacts", json={"email": "u@example.com", "nickname": "x"}), "nickname")
    event = {"type": "delivered", "message_id": str(uuid.uuid4()), "colour": "red"}
    body_error(api.post("/api/intake/events", json={"events": [event]}), "events[0].colour")


def test_a_missing_body_is_an_error_of_the_body(api):
    problem = assert_problem(api.post("/api/contacts"), 400, "VALIDATION_FAILED")
    assert [e.get("source") for e in problem["errors"]] == ["body"]
    assert all("key" not in e for e in problem["errors"]), problem


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "x"}, {"offset": "-1"}])
def test_a_query_error_names_the_query_parameter(api, params):
    problem = assert_problem(api.get("/api/contacts", params=params), 400, "VALIDATION_FAILED")
    assert [(e.get("key"), e.get("source")) for e in problem["errors"]] == [(next(iter(params)), "query")]


def test_a_code_has_one_title_whatever_the_occurrence(api, campaign):
    """Two occurrences of each code, from the service, an engine function and a named constraint:
    same title, the specifics in the detail (and no constraint message as a title)."""
    ok(api.post("/api/contacts", json={"email": "dup@example.com"}), 201)
    ok(api.post("/api/sender-accounts", json={"from_email": "dup@example.com"}), 201)
    pairs = {
        "NOT_FOUND": (api.get(f"/api/campaigns/{uuid.uuid4()}"), api.get(f"/api/contacts/{uuid.uuid4()}")),
        "CONTACT_ALREADY_EXISTS": (api.post("/api/contacts", json={"email": "dup@example.com"}),
                                   api.post("/api/contacts", json={"email": "DUP@example.com"})),
        "SENDER_ALREADY_EXISTS": (api.post("/api/sender-accounts", json={"from_email": "dup@example.com"}),) * 2,
        "VALIDATION_FAILED": (api.post("/api/contacts", json={"email": 1}), api.get("/api/contacts", params={"limit": 0})),
    }
    titles = {}
    for code, (first, second) in pairs.items():
        one, two = first.json(), second.json()
        assert (one["code"], two["code"]) == (code, code), (one, two)
        assert one["title"] == two["title"], (one, two)
        assert "constraint" not in one["title"] and '"' not in one["title"], one
        titles[code] = one["title"]
    assert len(set(titles.values())) == len(titles)
    # A refusal of an engine function: the title is its code's, the message moves to the detail.
    launched = api.post(f"/api/campaigns/{campaign['id']}/launch")
    refused = assert_problem(launched, 422)
    assert refused["detail"] and refused["title"] not in refused["detail"]
