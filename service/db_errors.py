"""Database errors as an operator needs to read them: the server's (or libpq's) message and the
SQLSTATE, never only the exception's class name ("OperationalError" says nothing about a wrong
password, a missing database or a refused port)."""

from __future__ import annotations

import re

import psycopg

_SPACE = re.compile(r"\s+")


def db_error_fields(exc: BaseException) -> dict[str, str | None]:
    """Structured log fields: `db_error` (class and message, on one line) and `sqlstate` (None when
    the server never answered: a refused connection, a timeout, a name that does not resolve)."""
    sqlstate = getattr(exc, "sqlstate", None) if isinstance(exc, psycopg.Error) else None
    diag = exc.diag if isinstance(exc, psycopg.Error) else None
    if diag is not None and diag.message_primary:
        # The server's own parts, without CONTEXT (the whole statement of a PL/pgSQL function).
        message = " ".join(part for part in (diag.message_primary, diag.message_detail and f"DETAIL: {diag.message_detail}",
                                             diag.message_hint and f"HINT: {diag.message_hint}") if part)
    else:
        message = str(exc)
    message = _SPACE.sub(" ", message).strip() or "(no message)"
    return {"db_error": f"{type(exc).__name__}: {message}"[:1000], "sqlstate": sqlstate}


def describe_db_error(exc: BaseException) -> str:
    """One line: `OperationalError: connection failed: … [SQLSTATE 3D000]`."""
    fields = db_error_fields(exc)
    return fields["db_error"] + (f" [SQLSTATE {fields['sqlstate']}]" if fields["sqlstate"] else "")  # type: ignore[operator]
