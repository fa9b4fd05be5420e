"""Finishing the OpenAPI document: the schemas regenerated as strict as the server
(service.api.contract), the bearer-key security scheme and every operation's security (`[]` where no
key is needed), the raw bodies Litestar cannot see (the CSV import, the reply intake), the 503 every
operation that uses the database can answer (with Retry-After), and the examples each endpoint
declares (service.api.common.endpoint) on its request body, success response and query parameters."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute

from service.api.contract import regenerate_components
from service.schemas.contacts import CsvImportRequest

log = logging.getLogger("campaigns.openapi")

BEARER = "ApiKey"
SECURITY_COMPONENTS = Components(
    security_schemes={
        BEARER: SecurityScheme(
            type="http", scheme="bearer", bearer_format="ck_…",
            description="An API key: `Authorization: Bearer ck_…` (campaignctl tenant create, or POST /api/users/{id}/api-keys)",
        )
    }
)


# Examples for the routes outside /api (liveness and readiness).
OTHER_RESPONSE_EXAMPLES = {
    ("/health", "get"): {"status": "ok"},
    ("/ready", "get"): {"status": "ready", "database": True, "cron_jobs_missing": []},
}


# Request bodies a handler reads itself (streamed or raw): what Litestar cannot infer from a `data` type.
RAW_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/contacts/import", "post"): {
        "required": True,
        "description": "The CSV as text/csv, or the same text as a JSON string in `csv` (for clients that only speak JSON).",
        "content": {
            "text/csv": {"schema": {"type": "string", "minLength": 1}},
            "application/json": {"schema": {"$ref": "#/components/schemas/CsvImportRequest"}},
        },
    },
    ("/api/intake/replies", "post"): {
        "required": True,
        "description": "The reply as received: an RFC 822 message (headers, a blank line, the body).",
        "content": {
            media: {"schema": {"type": "string", "minLength": 1, "pattern": r"\S"},
                    "example": "From: ada@example.com\r\nIn-Reply-To: <4c1f@example.com>\r\nSubject: Re: Hello\r\n\r\nThanks!\r\n"}
            for media in ("message/rfc822", "text/plain")
        },
    },
}
# Structs only a raw body names (Litestar's document does not hold them).
RAW_BODY_STRUCTS = [CsvImportRequest]

RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 1}}}
PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
# /ready's refusal: the readiness report's members beside the problem's (readiness, database, cron_jobs_missing).
NOT_READY = {
    "description": "Not ready: the database is unreachable or pg_cron jobs are missing (the problem carries the "
                   "readiness report's members)",
    "headers": RETRY_AFTER,
    "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
}


def finish_security(schema: dict[str, Any]) -> None:
    """Every operation states its security: the API key under /api (the router's), none for health and
    readiness, the API key or a signed link (`token`) for the report page."""
    for path, item in schema["paths"].items():
        for operation in item.values():
            if not isinstance(operation, dict) or "security" in operation:
                continue
            operation["security"] = [{BEARER: []}, {}] if path.startswith("/reports/") else []


def finish_statuses(schema: dict[str, Any]) -> None:
    """503 with Retry-After wherever it can be answered; /ready's 503."""
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if path == "/ready":
                responses["503"] = NOT_READY
            if "503" in responses:
                responses["503"]["headers"] = RETRY_AFTER
            if "429" in responses:
                responses["429"]["headers"] = RETRY_AFTER
            for response in responses.values():
                for media_type, media in (response.get("content") or {}).items():
                    if media_type.startswith("text/") and not media.get("schema"):
                        media["schema"] = {"type": "string"}  # the report page's HTML


def finish_document(app: Litestar) -> None:
    """Regenerate the schemas, declare raw bodies, security and statuses, then attach the examples."""
    schema: dict[str, Any] = app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    for (path, method), body in RAW_BODIES.items():
        operation = schema["paths"].get(path, {}).get(method)
        if operation is not None:
            operation["requestBody"] = body
    try:
        regenerate_components(schema, extra=RAW_BODY_STRUCTS)
    except Exception:  # noqa: BLE001 - a Struct msgspec cannot describe must not stop the API; the contract tests fail
        log.exception("the OpenAPI schemas could not be regenerated from the Structs; Litestar's are served")
    finish_security(schema)
    finish_statuses(schema)
    attach_examples(app)


def api_operations(app: Litestar) -> list[tuple[HTTPRoute, str, HTTPRouteHandler]]:
    """Every /api operation of the app as (route, method, handler): the route table the tests walk."""
    found = []
    for route in app.routes:
        # /api/track/* are the links inside emails (signed tokens, no API key, not in the document).
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api") or route.path.startswith("/api/track/"):
            continue
        for method, handler in sorted(route.route_handler_map.items()):
            if method in ("OPTIONS", "HEAD"):
                continue
            found.append((route, method, handler))
    # Litestar's route order can differ between processes; callers (parallel test workers, the
    # generated docs table) need one order.
    return sorted(found, key=lambda entry: (entry[0].path, entry[1]))


def _handler(entry: Any) -> HTTPRouteHandler:
    return entry[0] if isinstance(entry, tuple) else entry


def attach_examples(app: Litestar) -> None:
    """Put each /api handler's declared examples into the (cached) OpenAPI document."""
    schema: dict[str, Any] = app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    for route, method, entry in api_operations(app):
        handler = _handler(entry)
        operation = schema["paths"].get(route.path_format, {}).get(method.lower())
        if operation is None:
            continue
        opt = handler.opt or {}
        request_example = opt.get("request_example")
        if request_example is not None:
            if isinstance(request_example, str):  # a CSV: as text/csv, and as the JSON form's `csv`
                content = operation["requestBody"]["content"]
                content["text/csv"]["example"] = request_example
                content["application/json"]["example"] = {"csv": request_example}
            elif "requestBody" in operation:
                for media in operation["requestBody"]["content"].values():
                    media["examples"] = {"example": {"summary": "A valid request", "value": request_example}}
        response_example = opt.get("response_example")
        status = str(handler.status_code)
        if response_example is not None and status in operation.get("responses", {}):
            for media in (operation["responses"][status].get("content") or {}).values():
                media["examples"] = {"example": {"summary": "A successful response", "value": response_example}}
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "query" and parameter["name"] in (opt.get("query_example") or {}):
                parameter["example"] = opt["query_example"][parameter["name"]]
    for (path, method), example in OTHER_RESPONSE_EXAMPLES.items():
        operation = schema["paths"].get(path, {}).get(method)
        if operation:
            for media in (operation["responses"].get("200", {}).get("content") or {}).values():
                media["examples"] = {"example": {"summary": "A successful response", "value": example}}


def route_table(app: Litestar) -> str:
    """Every documented route as a Markdown table (method, path, operationId, summary, auth), from the
    app's own route table: docs/api.md carries it, and a test keeps the two equal."""
    rows = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, entry in sorted(route.route_handler_map.items()):
            handler = _handler(entry)
            if method in ("OPTIONS", "HEAD") or not handler.resolve_include_in_schema():
                continue
            if route.path.startswith("/api/"):
                auth = "API key"
            elif route.path.startswith("/reports/"):
                auth = "API key or signed link"
            else:
                auth = "none"
            summary = (handler.summary or "").replace("|", "\\|")
            rows.append((route.path_format, method, handler.operation_id or "", summary, auth))
    lines = ["| method | path | operationId | what | auth |", "|---|---|---|---|---|"]
    lines += [f"| {method} | `{path}` | {op} | {summary} | {auth} |" for path, method, op, summary, auth in sorted(rows)]
    return "\n".join(lines) + "\n"
