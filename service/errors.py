"""Every error the API returns, as RFC 9457 problem details with a stable `code`, mapped in one place.

The engine's own SQLSTATEs (class QC) are defined once, by campaigns.error_codes() in
db/functions/00_errors.sql; SQLSTATE_CODES is that table, loaded from the database once per process
(aload_sqlstate_codes in the app's lifespan; load_sqlstate_codes for a sync connection).
Integrity errors are mapped by SQLSTATE and refined by constraint name (CONSTRAINT_CODES); request
validation (Litestar, msgspec) is a 400; anything unmapped is a 500 and is logged with its stack.

A problem's `title` is fixed per `code` (TITLES, else the engine code's description), so a client may
show or match it; what is particular to this occurrence (the database's message, an id, a path) is
the `detail`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import msgspec
import psycopg
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    ValidationException,
)
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from service.http_methods import allow_value

log = logging.getLogger("campaigns.errors")

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    # The engine code's description (a fixed title); not part of what the code means.
    title: str | None = field(default=None, compare=False)


Q_ERROR_CODES = "SELECT sqlstate, code, http_status, description FROM campaigns.error_codes()"
# The class of the engine's own SQLSTATEs.
ENGINE_SQLSTATE_CLASS = "QC"


class SqlstateCodes(Mapping[str, ErrorCode]):
    """The engine's SQLSTATEs to API code and HTTP status: campaigns.error_codes(), read once.

    A read-only mapping (SQLSTATE_CODES.get(state), `state in SQLSTATE_CODES`); empty until loaded.
    The table only changes with a deploy, which restarts the service, so one load per process is
    enough."""

    def __init__(self) -> None:
        self._codes: dict[str, ErrorCode] = {}

    def load(self, rows: list[tuple] | list[dict]) -> None:
        codes = {}
        for row in rows:
            if isinstance(row, dict):
                state, code, status, description = row["sqlstate"], row["code"], row["http_status"], row.get("description")
            else:
                state, code, status, description = (*row, None)[:4]
            codes[state] = ErrorCode(code, status, description[:1].upper() + description[1:] if description else None)
        self._codes = codes

    @property
    def loaded(self) -> bool:
        return bool(self._codes)

    def __getitem__(self, state: str) -> ErrorCode:
        return self._codes[state]

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)


SQLSTATE_CODES = SqlstateCodes()


def load_sqlstate_codes(conn: psycopg.Connection) -> SqlstateCodes:
    """Fill SQLSTATE_CODES from campaigns.error_codes() through a sync connection."""
    SQLSTATE_CODES.load(conn.execute(Q_ERROR_CODES).fetchall())
    return SQLSTATE_CODES


async def aload_sqlstate_codes(pool: AsyncConnectionPool) -> SqlstateCodes:
    """Fill SQLSTATE_CODES from campaigns.error_codes() through the service's pool (call once at start-up,
    after the pool is open)."""
    async with pool.connection() as conn:
        cur = await conn.execute(Q_ERROR_CODES)
        SQLSTATE_CODES.load(await cur.fetchall())
    return SQLSTATE_CODES


# PostgreSQL's integrity and data errors, by SQLSTATE; the constraint name is part of the problem.
INTEGRITY_CODES: dict[str, ErrorCode] = {
    "23505": ErrorCode("ALREADY_EXISTS", 409),
    "23503": ErrorCode("REFERENCE_NOT_FOUND", 422),
    "23514": ErrorCode("CONSTRAINT_VIOLATED", 422),
    "23502": ErrorCode("REQUIRED_FIELD_MISSING", 422),
    "22P02": ErrorCode("INVALID_VALUE", 422),
    "22023": ErrorCode("INVALID_VALUE", 422),
    "22007": ErrorCode("INVALID_VALUE", 422),
    "22008": ErrorCode("INVALID_VALUE", 422),
    "22003": ErrorCode("INVALID_VALUE", 422),
    "22001": ErrorCode("INVALID_VALUE", 422),
    "22021": ErrorCode("INVALID_VALUE", 422),
    "22P05": ErrorCode("INVALID_VALUE", 422),
    "2201B": ErrorCode("INVALID_VALUE", 422),
    "22004": ErrorCode("INVALID_VALUE", 422),
    "22012": ErrorCode("INVALID_VALUE", 422),
    "22030": ErrorCode("INVALID_VALUE", 422),
    "22032": ErrorCode("INVALID_VALUE", 422),
    "2203A": ErrorCode("INVALID_VALUE", 422),
    "54000": ErrorCode("INVALID_VALUE", 422),
    # Transient: another transaction got in the way (a deadlock victim, a serialization failure).
    "40P01": ErrorCode("CONCURRENT_UPDATE", 409),
    "40001": ErrorCode("CONCURRENT_UPDATE", 409),
}

# Constraints whose violation has a more precise meaning than its SQLSTATE's.
CONSTRAINT_CODES: dict[str, ErrorCode] = {
    "uq_contacts_tenant_email": ErrorCode("CONTACT_ALREADY_EXISTS", 409),
    "uq_suppressions_tenant_email": ErrorCode("ALREADY_SUPPRESSED", 409),
    "uq_sender_accounts_tenant_from": ErrorCode("SENDER_ALREADY_EXISTS", 409),
    "uq_users_tenant_email": ErrorCode("USER_ALREADY_EXISTS", 409),
    "uq_campaign_steps_order": ErrorCode("STEP_ORDER_TAKEN", 409),
    "fk_campaign_steps_next": ErrorCode("STEP_TARGET_OUTSIDE_CAMPAIGN", 422),
    "fk_campaign_steps_true_next": ErrorCode("STEP_TARGET_OUTSIDE_CAMPAIGN", 422),
    "fk_campaign_steps_false_next": ErrorCode("STEP_TARGET_OUTSIDE_CAMPAIGN", 422),
    "fk_campaign_steps_email_step": ErrorCode("STEP_TARGET_OUTSIDE_CAMPAIGN", 422),
    "ck_campaign_steps_no_self_loop": ErrorCode("STEP_CYCLE", 422),
    "fk_campaigns_timezone": ErrorCode("INVALID_TIMEZONE", 422),
    "fk_contacts_timezone": ErrorCode("INVALID_TIMEZONE", 422),
    "fk_workspaces_timezone": ErrorCode("INVALID_TIMEZONE", 422),
}

# A foreign key refused on the referenced side: deleting a row something still points at. The API's
# DELETE routes never write referencing rows, so a 23503 during a DELETE is always this case (the
# diagnostics name the referencing table either way; only the localised message tells them apart).
IN_USE = ErrorCode("IN_USE", 409)


# The title of each code the service itself gives (and of codes shared with the engine, so one code has
# one title wherever it comes from); the engine's other codes take their description.
TITLES: dict[str, str] = {
    "VALIDATION_FAILED": "Validation failed",
    "INVALID_JSON": "The body is not valid JSON",
    "BAD_REQUEST": "Bad request",
    "INVALID_CSV": "The CSV cannot be read",
    "UNAUTHORIZED": "Missing or invalid API key",
    "NOT_FOUND": "Not found",
    "METHOD_NOT_ALLOWED": "Method not allowed",
    "PAYLOAD_TOO_LARGE": "The request body is too large",
    "UNSUPPORTED_MEDIA_TYPE": "Unsupported media type",
    "SERVICE_UNAVAILABLE": "Service unavailable",
    "INTERNAL_ERROR": "Internal server error",
    "ALREADY_EXISTS": "The object already exists",
    "REFERENCE_NOT_FOUND": "A referenced object does not exist",
    "CONSTRAINT_VIOLATED": "A value breaks a rule of the data",
    "REQUIRED_FIELD_MISSING": "A required value is missing",
    "INVALID_VALUE": "A value cannot be stored",
    "CONCURRENT_UPDATE": "Another request changed the same data; retry",
    "IN_USE": "The object is still in use",
    "CONTACT_ALREADY_EXISTS": "A contact with this email already exists",
    "ALREADY_SUPPRESSED": "This email is already suppressed",
    "SENDER_ALREADY_EXISTS": "A sender with this address already exists",
    "USER_ALREADY_EXISTS": "A user with this email already exists",
    "STEP_ORDER_TAKEN": "Another step has this position",
    "STEP_TARGET_OUTSIDE_CAMPAIGN": "A step target is not a step of this campaign",
    "STEP_CYCLE": "The steps form a cycle",
    "INVALID_TIMEZONE": "Not an IANA time zone",
    "WEBHOOK_TARGET_NOT_ALLOWED": "The webhook target is not a public address",
}


def title_of(code: str) -> str | None:
    """The fixed title of a code (None for a code nobody has titled: the raiser's title stands)."""
    if code in TITLES:
        return TITLES[code]
    return next((c.title for c in SQLSTATE_CODES.values() if c.code == code and c.title), None)


class ApiError(Exception):
    """An intended refusal raised by the service itself (not the database)."""

    def __init__(self, status: int, code: str, title: str, detail: str | None = None, **members: object) -> None:
        super().__init__(title)
        self.status, self.code, self.title, self.detail, self.members = status, code, title, detail, members


def problem(
    status: int, code: str, title: str, detail: str | None = None, extra: dict | None = None,
    headers: dict[str, str] | None = None, **members: object,
) -> Response:
    # The code's fixed title; the raiser's own words, when they differ, lead the detail.
    fixed = title_of(code)
    if fixed and title and title.casefold() != fixed.casefold():
        detail = f"{title}: {detail}" if detail else title
    body: dict[str, object] = {"type": "about:blank", "title": fixed or title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    # Extra members never override the problem's own.
    for key, value in {**(extra or {}), **members}.items():
        if value is not None and key not in body and key != "detail":
            body[key] = value
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _database_error(request: Request, exc: psycopg.Error) -> Response:
    diag = exc.diag
    state = exc.sqlstate or ""
    if state in SQLSTATE_CODES:
        mapped = SQLSTATE_CODES[state]
        return problem(mapped.status, mapped.code, diag.message_primary or mapped.code, diag.message_detail, hint=diag.message_hint)
    if state in INTEGRITY_CODES:
        mapped = INTEGRITY_CODES[state]
        constraint = diag.constraint_name
        if constraint in CONSTRAINT_CODES:
            mapped = CONSTRAINT_CODES[constraint]
        elif state == "23503" and request.method == "DELETE":
            mapped = IN_USE
        return problem(
            mapped.status, mapped.code, diag.message_primary or mapped.code, diag.message_detail,
            constraint=constraint, column=diag.column_name,
        )
    if isinstance(exc, psycopg.DataError) and not state:
        # Refused by psycopg before it reached the server (e.g. a NUL character in a string).
        return problem(422, "INVALID_VALUE", "A value cannot be stored", str(exc))
    log.exception("unmapped database error %s on %s %s", state, request.method, request.url.path)
    return problem(500, "INTERNAL_ERROR", "Internal server error")


def _validation_errors(extra: object) -> list[dict[str, object]] | None:
    """Litestar's validation messages as `{message, key, source}`, with `source` one of body, query, path,
    header or cookie, and `key` the field's path (left out for the body as a whole)."""
    if not isinstance(extra, list):
        return None
    errors = []
    for item in extra:
        if not isinstance(item, dict):
            errors.append({"message": str(item)})
            continue
        error: dict[str, object] = {"message": str(item.get("message", ""))}
        key, source = item.get("key"), item.get("source")
        # ParamType members print as "ParamType.QUERY": a client wants the location's name.
        source = getattr(source, "value", source)
        if key == "data" and source in (None, "body"):
            # The handler's body parameter itself (e.g. a required body left out): the whole body.
            key, source = None, "body"
        if key is not None:
            error["key"] = str(key)
        if source is not None:
            error["source"] = str(source)
        errors.append(error)
    return errors or None


def _summary(errors: list[dict[str, object]] | None) -> str | None:
    """The validation errors in one line: `body tags[0]: Expected `str`; query limit: …`."""
    parts = []
    for error in errors or []:
        where = " ".join(str(error[k]) for k in ("source", "key") if error.get(k) is not None)
        parts.append(f"{where}: {error['message']}" if where else str(error["message"]))
    return "; ".join(parts) or None


def _http_error(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, ValidationException):
        errors = _validation_errors(exc.extra)
        return problem(400, "VALIDATION_FAILED", TITLES["VALIDATION_FAILED"], _summary(errors) or exc.detail, errors=errors)
    if isinstance(exc, NotAuthorizedException):
        return problem(401, "UNAUTHORIZED", "Missing or invalid API key", headers={"WWW-Authenticate": 'Bearer realm="campaigns"'})
    if isinstance(exc, NotFoundException):
        return problem(404, "NOT_FOUND", "Not found")
    if exc.status_code == 400:
        code = "INVALID_JSON" if "JSON is malformed" in (exc.detail or "") else "BAD_REQUEST"
        return problem(400, code, TITLES[code], exc.detail)
    code = {405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 503: "SERVICE_UNAVAILABLE"}
    extra = exc.extra if isinstance(exc.extra, dict) else None
    headers = dict(exc.headers or {})
    for name in [n for n in headers if n.lower() == "allow"]:
        # Every method of the path, in the order OPTIONS gives them.
        headers["Allow"] = allow_value(headers.pop(name).split(","))
    return problem(exc.status_code, code.get(exc.status_code, "HTTP_ERROR"), exc.detail, extra=extra, headers=headers or None)


def _api_error(request: Request, exc: ApiError) -> Response:
    return problem(exc.status, exc.code, exc.title, exc.detail, **exc.members)


def _msgspec_error(request: Request, exc: msgspec.MsgspecError) -> Response:
    # Raised when a handler decodes client input itself (a CSV row, a JSON cell).
    return problem(400, "VALIDATION_FAILED", TITLES["VALIDATION_FAILED"], str(exc))


def _unencodable(request: Request, exc: UnicodeError) -> Response:
    # A string the database cannot store (an unpaired surrogate from a JSON \ud800 escape).
    return problem(422, "INVALID_VALUE", "A value cannot be stored", "strings must be valid Unicode")


def _pool_timeout(request: Request, exc: PoolTimeout) -> Response:
    log.warning("database pool exhausted on %s %s", request.method, request.url.path)
    return problem(503, "SERVICE_UNAVAILABLE", "The database is busy; retry shortly", headers={"Retry-After": "1"})


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "INTERNAL_ERROR", "Internal server error")


def exception_handlers() -> dict:
    return {
        psycopg.Error: _database_error,
        HTTPException: _http_error,
        ApiError: _api_error,
        msgspec.MsgspecError: _msgspec_error,
        UnicodeError: _unencodable,
        PoolTimeout: _pool_timeout,
        Exception: _unexpected,
    }
