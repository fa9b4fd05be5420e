"""The OpenAPI document as generated clients and fuzzers read it: every object typed, one component per
enum, unknown fields refused wherever the server refuses them, security and every status declared,
one casing. Asserted on the document the server serves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.api import assert_problem, ok

# Objects whose keys are the client's own (documented as free-form): a contact's custom fields, a
# provider event's details, a notify action's payload.
FREE_FORM = {"custom_fields", "details", "payload", "properties"}
# Names the seed design defines (kept as it spells them): its analytics query and response, and the
# ignored `dataType` of a segment condition. Every other name is snake_case.
SEED_NAMES = {"startDate", "endDate", "timeRange", "groupBy", "byStep", "dataType"}
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


@pytest.fixture(scope="module")
def document(module_api_app) -> dict[str, Any]:
    with module_api_app.client() as anonymous:
        return ok(anonymous.get("/docs/openapi.json"))


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def nodes(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema-like object in `node`, with where it is."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from nodes(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from nodes(value, f"{where}/{index}")


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_reference_resolves(document):
    schemas = document["components"]["schemas"]
    refs = {node["$ref"] for _, node in nodes(document) if isinstance(node.get("$ref"), str)}
    assert refs, "the document uses no components"
    assert {ref for ref in refs if ref.rsplit("/", 1)[1] not in schemas} == set()


def test_no_untyped_object_but_the_free_form_ones(document):
    untyped = []
    for where, node in nodes(document["components"]):
        if node.get("type") == "object" and "properties" not in node:
            name = where.split("/properties/")[-1].split("/")[0] if "/properties/" in where else where
            if name not in FREE_FORM:
                untyped.append(where)
    assert untyped == []


def test_each_enum_is_one_component_referenced_everywhere(document):
    schemas = document["components"]["schemas"]
    enums = {name: schema for name, schema in schemas.items() if "enum" in schema}
    # No enum spelt out inline: a generated client would make a class of each copy.
    inline = [where for where, node in nodes(document) if "enum" in node
              and not re.fullmatch(r"/components/schemas/[A-Za-z]+", where)]
    assert inline == []
    values = [frozenset(schema["enum"]) for schema in enums.values()]
    assert len(values) == len(set(values)), "two components hold the same enum"
    # Nullable enums reference the component beside null.
    step = schemas["StepRead"]["properties"]
    assert step["action_type"] == {"anyOf": [{"$ref": "#/components/schemas/ActionType"}, {"type": "null"}]}
    assert schemas["CampaignRead"]["properties"]["status"] == {"$ref": "#/components/schemas/CampaignStatus"}
    status = next(p for p in document["paths"]["/api/campaigns"]["get"]["parameters"] if p["name"] == "status")
    assert status["schema"] == {"anyOf": [{"$ref": "#/components/schemas/CampaignStatus"}, {"type": "null"}]}


def test_every_json_request_body_refuses_unknown_fields(document):
    open_bodies = []
    for path, method, operation in operations(document):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            schema = resolve(document, content["application/json"]["schema"])
            if schema.get("additionalProperties") is not False:
                open_bodies.append(f"{method.upper()} {path}")
    assert open_bodies == []


def test_every_body_a_route_reads_is_declared(document):
    replies = document["paths"]["/api/intake/replies"]["post"]["requestBody"]["content"]
    assert set(replies) == {"message/rfc822", "text/plain"}
    assert replies["text/plain"]["schema"]["minLength"] == 1
    imports = document["paths"]["/api/contacts/import"]["post"]["requestBody"]["content"]
    assert set(imports) == {"text/csv", "application/json"}
    assert resolve(document, imports["application/json"]["schema"])["required"] == ["csv"]


def test_constraints_the_server_enforces_are_declared(document):
    schemas = document["components"]["schemas"]
    contact = schemas["ContactCreate"]["properties"]
    assert contact["tags"]["items"]["minLength"] == 1
    assert contact["first_name"] == {"anyOf": [{"type": "string", "maxLength": 255}, {"type": "null"}]}
    days = schemas["CampaignCreate"]["properties"]["sending_days"]["anyOf"][0]
    assert (days["items"]["minimum"], days["items"]["maximum"]) == (1, 7)
    window = schemas["CampaignCreate"]["properties"]["sending_window_start"]["anyOf"][0]
    assert window["format"] == "partial-time" and window["pattern"]
    assert schemas["CampaignRead"]["properties"]["sending_window_start"]["anyOf"][0]["format"] == "partial-time"
    batch = schemas["ContactBatch"]["properties"]["contacts"]
    assert batch["items"] == {"$ref": "#/components/schemas/ContactCreate"}


def test_every_operation_declares_its_security(document):
    missing = [f"{m.upper()} {p}" for p, m, op in operations(document) if "security" not in op]
    assert missing == []
    assert document["paths"]["/health"]["get"]["security"] == []
    assert document["paths"]["/ready"]["get"]["security"] == []
    assert {} in document["paths"]["/reports/campaigns/{campaign_id}"]["get"]["security"]
    assert document["paths"]["/api/campaigns"]["get"]["security"] == [{"ApiKey": []}]


def test_503_declared_with_retry_after(document):
    for path, method, operation in operations(document):
        if path.startswith("/api/") or path == "/ready":
            unavailable = operation["responses"].get("503")
            assert unavailable is not None, f"{method.upper()} {path}"
            assert "Retry-After" in unavailable["headers"]
            assert "application/problem+json" in unavailable["content"]


def test_errors_are_problem_details(document):
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                assert set(response["content"]) == {"application/problem+json"}, f"{method.upper()} {path} {status}"
                assert response["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_names_are_snake_case_but_the_seed_s(document):
    names = set()
    for _, node in nodes(document["components"]):
        names.update(node.get("properties", {}))
    for _, _, operation in operations(document):
        names.update(p["name"] for p in operation.get("parameters", []) if p["in"] in ("query", "path"))
    assert {n for n in names if not SNAKE.match(n)} == SEED_NAMES


# -- what the document allows that PostgreSQL cannot store ----------------------------------------------


def test_every_response_body_has_a_schema(document):
    bare = [f"{m.upper()} {p} {status} {media}" for p, m, op in operations(document)
            for status, response in op["responses"].items()
            for media, content in (response.get("content") or {}).items() if not content.get("schema")]
    assert bare == []


def test_a_whole_number_is_an_integer_however_written(api):
    """JSON has one number type and JSON Schema counts 3.0 as an integer: so does the API."""
    created = ok(api.post("/api/campaigns", json={"name": "n", "daily_limit": 3.0, "sending_days": [1e0, 5]}), 201)
    assert (created["daily_limit"], created["sending_days"]) == (3, [1, 5])
    problem = assert_problem(api.post("/api/campaigns", json={"name": "n", "daily_limit": 3.5}), 400, "VALIDATION_FAILED")
    assert problem["errors"][0]["key"] == "daily_limit"
    assert_problem(api.post("/api/campaigns", json={"name": "n", "track_opens": 1.0}), 400, "VALIDATION_FAILED")


def test_an_offset_postgresql_cannot_store_is_refused(api):
    """RFC 3339 allows any offset up to ±23:59; PostgreSQL stores at most ±15:59."""
    response = api.post("/api/campaigns", json={"name": "far east", "start_date": "2030-01-01T00:00:00+19:46"})
    assert_problem(response, 422, "INVALID_VALUE")
    assert_problem(api.post("/api/campaigns", json={"name": "x", "start_date": 0.0}), 400, "VALIDATION_FAILED")
    assert_problem(api.post("/api/campaigns", json={"name": "x", "start_date": 0}), 400, "VALIDATION_FAILED")
    assert ok(api.get("/api/campaigns"))["pagination"]["total"] == 0


# -- typed step rules --------------------------------------------------------------------------------


def test_step_rules_are_typed(api, conn, tenant):
    """Condition rules are a union tagged by `type` and action settings one object: a value of the
    wrong shape is a 400 naming it; a rule the engine refuses is still its 422; keys a rule does not
    define are dropped (as the engine ignored them)."""
    campaign = ok(api.post("/api/campaigns", json={"name": "typed rules"}), 201)
    url = f"/api/campaigns/{campaign['id']}/steps"
    before = ok(api.get(url))
    for rules, key in [({"type": "lead_score", "threshold": "50"}, "condition_rules.threshold"),
                       ({"type": "contact_attribute", "field": "password", "operator": "equals", "value": "x"},
                        "condition_rules.field"),
                       ({"type": "contact_attribute", "field": "company", "operator": "matches", "value": "x"},
                        "condition_rules.operator"),
                       ({"threshold": 5}, "condition_rules")]:
        problem = assert_problem(api.post(url, json={"step_type": "condition", "condition_rules": rules}), 400, "VALIDATION_FAILED")
        assert problem["errors"][0]["key"] == key, problem
    problem = assert_problem(api.post(url, json={"step_type": "action", "action_type": "adjust_score",
                                                 "action_config": {"delta": "5"}}), 400, "VALIDATION_FAILED")
    assert problem["errors"][0]["key"] == "action_config.delta"
    assert_problem(api.post(url, json={"step_type": "action", "action_type": "adjust_score", "action_config": {}}),
                   422, "INVALID_STEP_RULE")
    assert ok(api.get(url)) == before

    condition = ok(api.post(url, json={"step_type": "condition", "condition_rules": {
        "type": "contact_attribute", "field": "custom.plan", "operator": "in", "value": ["pro", 3], "note": "dropped"}}), 201)
    assert condition["condition_rules"] == {"type": "contact_attribute", "field": "custom.plan", "operator": "in", "value": ["pro", 3]}
    notify = ok(api.post(url, json={"step_type": "action", "action_type": "notify",
                                    "action_config": {"payload": {"channel": "sales"}, "extra": 1}}), 201)
    assert notify["action_config"] == {"payload": {"channel": "sales"}}
    assert notify["action_type"] == "notify"


def test_no_two_schema_structs_share_a_name():
    """Components are named after their Structs: two of one name would leave references unresolved."""
    from collections import Counter

    from service.api.contract import structs

    names = Counter(s.__name__ for s in structs())
    assert [n for n, k in names.items() if k > 1] == []
