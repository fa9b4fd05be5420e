"""Every error the API returns, as RFC 9457 problem details with a stable `code`, mapped in one place.

SQLSTATE_CODES mirrors campaigns.error_codes() in db/functions/00_errors.sql (a test keeps them equal).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, ValidationException

log = logging.getLogger("campaigns.errors")

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int


# The engine's own SQLSTATEs (class QC).
SQLSTATE_CODES: dict[str, ErrorCode] = {
    "QC404": ErrorCode("NOT_FOUND", 404),
    "QC409": ErrorCode("INVALID_STATE_TRANSITION", 409),
    "QC422": ErrorCode("VALIDATION_FAILED", 422),
    "QC101": ErrorCode("CAMPAIGN_HAS_NO_STEPS", 422),
    "QC102": ErrorCode("CAMPAIGN_HAS_NO_AUDIENCE", 422),
    "QC103": ErrorCode("APPROVAL_REQUIRED", 409),
    "QC104": ErrorCode("MONTHLY_QUOTA_EXCEEDED", 409),
    "QC105": ErrorCode("CAMPAIGN_STEPS_INVALID", 422),
    "QC201": ErrorCode("TOO_MANY_STEPS", 422),
    "QC202": ErrorCode("INVALID_STEP_RULE", 422),
    "QC203": ErrorCode("STEP_TARGET_OUTSIDE_CAMPAIGN", 422),
    "QC204": ErrorCode("STEP_CYCLE", 422),
    "QC205": ErrorCode("CAMPAIGN_NOT_EDITABLE", 409),
    "QC301": ErrorCode("INVALID_TIME_RANGE", 400),
    "QC302": ErrorCode("INVALID_TIMEZONE", 422),
    "QC401": ErrorCode("UNKNOWN_EVENT_TYPE", 422),
    "QC402": ErrorCode("NOT_APPROVER", 403),
}

# PostgreSQL's integrity errors, by SQLSTATE; the constraint name becomes part of the code.
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
}


def problem(status: int, code: str, title: str, detail: str | None = None, extra: dict | None = None, **members: object) -> Response:
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    # Extra members never override the problem's own.
    for key, value in {**(extra or {}), **members}.items():
        if value is not None and key not in body and key != "detail":
            body[key] = value
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON)


def _database_error(request: Request, exc: psycopg.Error) -> Response:
    diag = exc.diag
    state = exc.sqlstate or ""
    if state in SQLSTATE_CODES:
        mapped = SQLSTATE_CODES[state]
        return problem(mapped.status, mapped.code, diag.message_primary or mapped.code, diag.message_detail, hint=diag.message_hint)
    if state in INTEGRITY_CODES:
        mapped = INTEGRITY_CODES[state]
        return problem(
            mapped.status, mapped.code, diag.message_primary or mapped.code, diag.message_detail,
            constraint=diag.constraint_name, column=diag.column_name,
        )
    log.exception("unmapped database error %s on %s %s", state, request.method, request.url.path)
    return problem(500, "INTERNAL_ERROR", "Internal server error")


def _http_error(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, ValidationException):
        return problem(400, "VALIDATION_FAILED", "Request validation failed", exc.detail, errors=exc.extra or None)
    if isinstance(exc, NotAuthorizedException):
        return problem(401, "UNAUTHORIZED", "Missing or invalid API key")
    if isinstance(exc, NotFoundException):
        return problem(404, "NOT_FOUND", "Not found")
    code = {405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 503: "SERVICE_UNAVAILABLE"}
    extra = exc.extra if isinstance(exc.extra, dict) else None
    return problem(exc.status_code, code.get(exc.status_code, "HTTP_ERROR"), exc.detail, extra=extra)


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "INTERNAL_ERROR", "Internal server error")


def exception_handlers() -> dict:
    return {psycopg.Error: _database_error, HTTPException: _http_error, Exception: _unexpected}

