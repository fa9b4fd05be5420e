"""What every API module shares: constrained field types, pagination, problem-details responses for
the OpenAPI document, the request's database handle, and the endpoint decorator that gives every
operation its id, tag, summary and documented errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter

from service.db import Db
from service.errors import PROBLEM_JSON, ApiError
from service.schemas.common import Problem

# The request's transaction (service.api.auth.provide_db).
DbDep = NamedDependency[Db]

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (default 20, at most 100)")]
Offset = Annotated[int, QueryParameter(ge=0, le=2_147_483_647, description="Rows to skip (default 0)")]


def page_query(*, source: str, where: str, order: str, doc: str, guard: str | None = None) -> str:
    """A named list query: rows of `source` (aliased x) matching `where`, one page in `order`, each
    rendered by `doc`, plus the pagination totals. With `guard` (a boolean over the parameters, e.g.
    "the parent campaign is visible") the document is NULL when it fails, which the handler turns
    into a 404. Parameters: %(limit)s, %(offset)s and whatever `where` names.

    The page is rendered from the limited rows only; the total is a separate count over the filter."""
    page = f"""
        jsonb_build_object(
            'items', coalesce((SELECT jsonb_agg({doc} ORDER BY {order})
                               FROM (SELECT * FROM {source} x WHERE {where} ORDER BY {order}
                                     LIMIT %(limit)s OFFSET %(offset)s) x), '[]'::jsonb),
            'pagination', (SELECT jsonb_build_object('total', t.n, 'limit', %(limit)s, 'offset', %(offset)s,
                                                     'has_more', t.n > %(offset)s::bigint + %(limit)s)
                           FROM (SELECT count(*) AS n FROM {source} x WHERE {where}) t))"""
    if guard:
        return f"SELECT CASE WHEN {guard} THEN {page} END"
    return f"SELECT {page}"


def patch_query(*, table: str, alias: str, fields: dict[str, str | None], doc: str) -> str:
    """A named partial update of one row of `table` (aliased `alias`) by %(id)s: each field present
    in the changes document %(c)s takes its value (null clears), an absent one keeps its own. `fields`
    maps a column to the expression over the document's record r that it takes (None: r.<column>)."""
    sets = ",\n".join(
        f"        {col} = CASE WHEN %(c)s::jsonb ? '{col}' THEN {expr or f'r.{col}'} ELSE {alias}.{col} END"
        for col, expr in fields.items())
    return f"""
    UPDATE {table} {alias} SET
{sets}
    FROM jsonb_populate_record(NULL::{table}, %(c)s::jsonb) r
    WHERE {alias}.id = %(id)s
    RETURNING {doc}
"""


# -- problem details -----------------------------------------------------------------------------


# Each status's description, and the code and title of its example (a code's title is fixed: see
# service.errors.TITLES and the descriptions of campaigns.error_codes()).
_PROBLEMS: dict[int, tuple[str, str, str]] = {
    400: ("Invalid request: malformed or too deeply nested JSON, unknown field, wrong type or out-of-range value",
          "VALIDATION_FAILED", "Validation failed"),
    401: ("Missing or invalid API key", "UNAUTHORIZED", "Missing or invalid API key"),
    403: ("The caller may not do this", "NOT_APPROVER", "The approval row is assigned to another user"),
    404: ("Not found (or another tenant's)", "NOT_FOUND", "Not found"),
    409: ("The object's state does not allow this, or it already exists", "CAMPAIGN_NOT_EDITABLE",
          "The campaign's state does not allow this change"),
    413: ("The request body is too large", "PAYLOAD_TOO_LARGE", "The request body is too large"),
    415: ("Unsupported media type", "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
    422: ("Well-formed but refused by a business rule", "VALIDATION_FAILED", "Validation failed"),
    429: ("Too many requests of this kind: retry after Retry-After seconds", "RATE_LIMITED", "Too many test sends"),
    503: ("Unavailable for now: every database connection is busy (retry after Retry-After seconds), or the server "
          "lacks a setting this needs (CAMPAIGNS_SECRET_KEY)", "SERVICE_UNAVAILABLE", "Service unavailable"),
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The documented error responses of an operation: 400, 401 and 422 always (a value PostgreSQL
    cannot store, such as a NUL character, is a 422 INVALID_VALUE anywhere), 503 (no database
    connection free in time), and the listed ones."""
    result: dict[int, ResponseSpec] = {}
    for status in sorted({400, 401, 422, 503, *statuses}):
        description, code, title = _PROBLEMS[status]
        result[status] = ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=description,
            generate_examples=False,
            examples=[Example(summary=code, value={"type": "about:blank", "title": title, "status": status, "code": code})],
        )
    return result


# -- endpoints -----------------------------------------------------------------------------------

_DECORATORS = {"GET": get, "POST": post, "PATCH": patch, "DELETE": delete}


def endpoint(
    method: Literal["GET", "POST", "PATCH", "DELETE"],
    path: str,
    *,
    operation_id: str,
    summary: str,
    errors: tuple[int, ...] = (),
    status_code: int | None = None,
    description: str | None = None,
    request_example: Any = None,
    response_example: Any = None,
    query_example: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """A route handler with an operation id, a summary, problem-details responses for 400, 401 and
    the listed statuses (404 too when the path takes an id), and examples: the request body, the
    success response and the query parameters a valid call uses. The examples are put into the
    OpenAPI document (service.api.openapi) and the route-table tests call each route with them."""
    statuses = set(errors)
    if "{" in path:
        statuses.add(404)
    if method in ("POST", "PATCH"):
        statuses.add(413)
    opt = dict(kwargs.pop("opt", None) or {})
    opt.update(request_example=request_example, response_example=response_example, query_example=query_example or {})
    return _DECORATORS[method](
        path,
        operation_id=operation_id,
        summary=summary,
        description=description,
        status_code=status_code,
        responses=problem_responses(*statuses),
        opt=opt,
        **kwargs,
    )


def encode(data: Any, *, exclude: tuple[str, ...] = ()) -> str:
    """A request Struct as the JSON text an SQL function takes (UNSET fields are left out)."""
    if exclude:
        builtins = msgspec.to_builtins(data)
        for key in exclude:
            builtins.pop(key, None)
        return msgspec.json.encode(builtins).decode()
    return msgspec.json.encode(data).decode()


def not_found(what: str, ident: UUID | str) -> Exception:
    return ApiError(404, "NOT_FOUND", f"{what} not found", detail=f"{what.replace(' ', '_')}_id={ident}")


async def one(db: Db, query: str, params: Any, type_: type, what: str, ident: UUID | str) -> Any:
    """The document of a single-object query, or 404."""
    result = await db.doc(query, params, type_)
    if result is None:
        raise not_found(what, ident)
    return result
