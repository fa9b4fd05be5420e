"""Properties every /api route must have, parametrised over the Litestar app's own route table, so a
route added later cannot skip them:

* without an API key, or with a bad one, it answers 401 problem+json and changes nothing;
* with another tenant's key, an id of this tenant in the path is 404 and nothing of this tenant
  changes (routes without an id neither change nor reveal this tenant's rows);
* malformed JSON, an unknown field, a wrong type or an out-of-range page size is a 400 that changes
  nothing;
* the OpenAPI document gives it an operation id, tags, a summary, documented problem responses and
  examples, and the examples are valid documents of their types.

Each route is called with the examples its endpoint declares (service.api.common.endpoint), the
example ids replaced by real ids of tenant A.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from service.api import examples as ex
from service.api.openapi import api_operations
from service.app import create_app
from tests.support.api import PROBLEM_JSON, Tenant, assert_problem, digest, new_tenant, ok

OPERATIONS = [(route.path, method, entry[0]) for route, method, entry in api_operations(create_app("postgresql://unused"))]
IDS = [handler.operation_id for _, _, handler in OPERATIONS]


@pytest.fixture(scope="module")
def world(module_conn, module_api_app) -> Iterator[dict[str, Any]]:
    """The module's database and API: tenant A with one object of every kind, tenant B."""
    conn = module_conn
    a, b = new_tenant(conn, "A"), new_tenant(conn, "B")
    with module_api_app.client(a.api_key) as api:
        member = ok(api.post("/api/users", json={"email": "member@a.test", "role": "member"}), 201)
        key = ok(api.post(f"/api/users/{member['id']}/api-keys", json={"name": "member"}), 201)
        contact = ok(api.post("/api/contacts", json={"email": "ada@a.test"}), 201)
        segment = ok(api.post("/api/segments", json={"name": "A's"}), 201)
        ok(api.post(f"/api/segments/{segment['id']}/contacts", json={"contact_ids": [contact["id"]]}))
        template = ok(api.post("/api/templates", json={"name": "A's", "text_content": "Hi"}), 201)
        sender = ok(api.post("/api/sender-accounts", json={"from_email": "hello@a.test"}), 201)
        suppression = ok(api.post("/api/suppressions", json={"email": "gone@a.test"}), 201)
        campaign = ok(api.post("/api/campaigns", json={"name": "A's", "segment_id": segment["id"],
                                                       "sender_account_id": sender["id"]}), 201)
        step = ok(api.post(f"/api/campaigns/{campaign['id']}/steps",
                           json={"step_type": "email", "subject_line": "Hi", "email_content": "Hello"}), 201)
        step2 = ok(api.post(f"/api/campaigns/{campaign['id']}/steps",
                            json={"step_type": "wait", "wait_duration_value": 1, "wait_duration_unit": "days",
                                  "after_step_id": step["id"]}), 201)
        webhook = ok(api.post("/api/webhooks", json={"url": "https://hooks.example.com/a", "event_types": ["message.sent"]}), 201)
        approval = ok(api.post(f"/api/campaigns/{campaign['id']}/approvals",
                               json={"approvers": [{"user_id": member["id"], "role": "campaign_manager"}]}), 201)[0]
    delivery = conn.execute(
        "INSERT INTO campaigns.webhook_deliveries (tenant_id, subscription_id, event_id, event_type, payload)"
        " VALUES (%s, %s, 'evt_route_table', 'message.sent', '{\"type\": \"message.sent\"}') RETURNING id",
        (a.tenant_id, webhook["id"])).fetchone()[0]
    ids = {
        "webhook_id": webhook["id"], "delivery_id": str(delivery),
        "campaign_id": campaign["id"], "step_id": step["id"], "contact_id": contact["id"], "segment_id": segment["id"],
        "template_id": template["id"], "sender_account_id": sender["id"], "suppression_id": suppression["id"],
        "approval_id": approval["id"], "user_id": member["id"], "api_key_id": key["id"],
    }
    # The examples' ids stand for these.
    substitutes = {
        ex.CAMPAIGN_ID: campaign["id"], ex.SEGMENT_ID: segment["id"], ex.STEP_ID: step["id"], ex.STEP2_ID: step2["id"],
        ex.STEP3_ID: step["id"], ex.CONTACT_ID: contact["id"], ex.TEMPLATE_ID: template["id"], ex.SENDER_ID: sender["id"],
        ex.SUPPRESSION_ID: suppression["id"], ex.APPROVAL_ID: approval["id"], ex.USER_ID: member["id"],
        ex.API_KEY_ID: key["id"], ex.WEBHOOK_ID: webhook["id"], ex.WEBHOOK_DELIVERY_ID: str(delivery),
    }
    with module_api_app.client() as anonymous:
        yield {"client": anonymous, "conn": conn, "a": a, "b": b, "ids": ids, "substitutes": substitutes}


def _substitute(value: Any, substitutes: dict[str, str]) -> Any:
    if isinstance(value, str):
        return substitutes.get(value, value)
    if isinstance(value, list):
        return [_substitute(v, substitutes) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, substitutes) for k, v in value.items()}
    return value


def call(world: dict[str, Any], path: str, method: str, handler: Any, key: str | None, **overrides: Any) -> httpx.Response:
    """Call the route with its declared examples and tenant A's ids."""
    opt = handler.opt
    url = re.sub(r"\{(\w+):\w+\}", lambda m: world["ids"][m.group(1)], path)
    body = _substitute(opt.get("request_example"), world["substitutes"])
    kwargs: dict[str, Any] = {"params": overrides.pop("params", opt.get("query_example") or {})}
    if "content" in overrides:
        kwargs["content"] = overrides.pop("content")
        kwargs["headers"] = {"content-type": "application/json"}
    elif isinstance(body, str):
        kwargs["content"] = body.encode()
        kwargs["headers"] = {"content-type": "text/csv"}
    elif body is not None:
        kwargs["json"] = overrides.pop("json", body)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    headers |= kwargs.pop("headers", {})
    return world["client"].request(method, url, headers=headers, **kwargs)


@pytest.mark.parametrize(("path", "method", "handler"), OPERATIONS, ids=IDS)
def test_route_requires_an_api_key(world, path, method, handler):
    before = digest(world["conn"])
    for key in (None, "ck_" + "0" * 64, world["a"].api_key[:-1] + "x"):
        response = call(world, path, method, handler, key)
        assert_problem(response, 401, "UNAUTHORIZED")
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert digest(world["conn"]) == before


@pytest.mark.parametrize(("path", "method", "handler"), OPERATIONS, ids=IDS)
def test_route_hides_another_tenants_rows(world, path, method, handler):
    a: Tenant = world["a"]
    before = digest(world["conn"], a.tenant_id)
    response = call(world, path, method, handler, world["b"].api_key)
    if "{" in path:
        assert_problem(response, 404, "NOT_FOUND")
    else:
        assert response.status_code < 500, response.text
        leaked = [name for name, value in world["ids"].items() if value in response.text]
        assert leaked == [], f"{handler.operation_id} answered tenant B with tenant A's {leaked}"
    assert digest(world["conn"], a.tenant_id) == before


JSON_BODY_OPERATIONS = [op for op in OPERATIONS if isinstance(op[2].opt.get("request_example"), dict)]


@pytest.mark.parametrize(("path", "method", "handler"), JSON_BODY_OPERATIONS, ids=[op[2].operation_id for op in JSON_BODY_OPERATIONS])
def test_route_rejects_malformed_bodies_and_changes_nothing(world, path, method, handler):
    key = world["a"].api_key
    example = _substitute(handler.opt["request_example"], world["substitutes"])
    before = digest(world["conn"])
    for content in (b"{", b"not json", b'{"a": 1,}', b"\xff\xfe"):
        body = assert_problem(call(world, path, method, handler, key, content=content), 400)
        assert body["code"] in ("INVALID_JSON", "VALIDATION_FAILED", "BAD_REQUEST")
    assert_problem(call(world, path, method, handler, key, content=b"[]"), 400, "VALIDATION_FAILED")
    assert_problem(call(world, path, method, handler, key, json=example | {"surprise": 1}), 400, "VALIDATION_FAILED")
    for field in example:
        assert_problem(call(world, path, method, handler, key, json=example | {field: [[[1]]]}), 400, "VALIDATION_FAILED")
    assert digest(world["conn"]) == before


PAGED_OPERATIONS = [op for op in OPERATIONS if "limit" in (op[2].opt.get("query_example") or {})]


@pytest.mark.parametrize(("path", "method", "handler"), PAGED_OPERATIONS, ids=[op[2].operation_id for op in PAGED_OPERATIONS])
def test_route_rejects_out_of_range_pages(world, path, method, handler):
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "ten"}, {"offset": 2**31}):
        assert_problem(call(world, path, method, handler, world["a"].api_key, params=params), 400, "VALIDATION_FAILED")
    page = ok(call(world, path, method, handler, world["a"].api_key, params={"limit": 100, "offset": 0}))
    assert page["pagination"]["limit"] == 100


def test_openapi_documents_every_route(world):
    document = world["client"].get("/docs/openapi.json").json()
    assert document["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    seen = set()
    for path, method, handler in OPERATIONS:
        openapi_path = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)
        operation = document["paths"][openapi_path][method.lower()]
        name = handler.operation_id
        seen.add(name)
        assert operation["operationId"] == name and operation["tags"] and operation["summary"], name
        assert operation["security"] == [{"ApiKey": []}], name
        for status in ("400", "401"):
            assert list(operation["responses"][status]["content"]) == [PROBLEM_JSON], (name, status)
        if "{" in path:
            assert "404" in operation["responses"], name
        success = operation["responses"][str(handler.status_code)]
        if handler.status_code != 204:
            assert all("examples" in media for media in success["content"].values()), name
        if "requestBody" in operation:
            assert all("examples" in media or "example" in media for media in operation["requestBody"]["content"].values()), name
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter.get("required"):
                assert "example" in parameter, (name, parameter["name"])
    assert len(seen) == len(OPERATIONS), "duplicate operation ids"


@pytest.mark.parametrize(("path", "method", "handler"), OPERATIONS, ids=IDS)
def test_examples_are_valid_documents(path, method, handler):
    hints = typing.get_type_hints(handler.fn, include_extras=True)
    response_example = handler.opt.get("response_example")
    if hints["return"] is type(None):
        assert response_example is None
    else:
        msgspec.json.decode(json.dumps(response_example), type=hints["return"])
    request_example = handler.opt.get("request_example")
    if "data" in hints:
        body_type = typing.get_args(hints["data"])[0]
        msgspec.json.decode(json.dumps(request_example), type=body_type)
    elif handler.operation_id != "importContactsCsv":
        assert request_example is None
