"""A connection whose work is never committed: every test using it runs inside one transaction that
is rolled back at the end, on a database shared by the session.

Each statement runs under its own savepoint (what psql's ON_ERROR_ROLLBACK does), so a statement
that fails rolls back alone and the test goes on, as it would in autocommit; `conn.transaction()`
blocks are savepoints inside the test's transaction. commit() and BEGIN/COMMIT/ROLLBACK statements are
refused (they would end the test's transaction, and a COMMIT would keep its rows in the shared database).

What differs from autocommit, so tests that depend on it must be marked `commits` instead: now() is the
test's start for every statement (clock_timestamp() still moves); other connections see nothing;
NOTIFY is never delivered; deferred constraints are never checked (that happens at commit); `SET LOCAL`
inside a `conn.transaction()` block that succeeds lasts until the end of the test.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

_TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|PREPARE\s+TRANSACTION)\b(?!\s+TO\b)",
                                  re.I)
_REFUSED = ("this test's connection is rolled back at the end: mark the test `commits` to get a database of "
            "its own")


class SavepointCursor(psycopg.Cursor):
    """Runs each execute() under a savepoint while the connection is inside a transaction."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> SavepointCursor:  # type: ignore[override]
        if isinstance(query, str) and _TRANSACTION_CONTROL.match(query):
            raise AssertionError(f"{query.strip()!r}: {_REFUSED}")
        pgconn = self._conn.pgconn
        if self._conn.autocommit or pgconn.transaction_status != TransactionStatus.INTRANS:
            return super().execute(query, params, **kwargs)
        _command(pgconn, b"SAVEPOINT _test_statement")
        try:
            super().execute(query, params, **kwargs)
        except BaseException:
            if pgconn.transaction_status == TransactionStatus.INERROR:
                _command(pgconn, b"ROLLBACK TO SAVEPOINT _test_statement")
            _command(pgconn, b"RELEASE SAVEPOINT _test_statement")
            raise
        _command(pgconn, b"RELEASE SAVEPOINT _test_statement")
        return self


def _command(pgconn: Any, command: bytes) -> None:
    result = pgconn.exec_(command)
    if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
        raise psycopg.OperationalError(f"{command.decode()}: {pgconn.error_message.decode(errors='replace')}")


class RollbackConnection(psycopg.Connection):
    """A connection that refuses to commit (see the module docstring)."""

    def commit(self) -> None:
        raise AssertionError(_REFUSED)


def connect(url: str) -> RollbackConnection:
    return RollbackConnection.connect(url, autocommit=False, cursor_factory=SavepointCursor)


def begin(conn: RollbackConnection) -> None:
    """Open the test's transaction (so that `conn.transaction()` blocks are savepoints inside it)."""
    assert conn.info.transaction_status == TransactionStatus.IDLE, conn.info.transaction_status
    conn.execute("SELECT 1")
    assert conn.info.transaction_status == TransactionStatus.INTRANS


def end(conn: RollbackConnection) -> None:
    """Roll the test's transaction back. SET (even without LOCAL), SET ROLE, temporary tables and LISTEN
    all go with it; a session advisory lock would not, so none may be left behind."""
    conn.rollback()
    held = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()").fetchone()[0]
    conn.rollback()
    assert held == 0, "the test left a session advisory lock on the shared connection"
