"""The worker's own database connections: long-lived, autocommit, re-opened after a failure."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

import psycopg
from psycopg.rows import dict_row

from service.db_errors import db_error_fields, describe_db_error
from service.metrics import DATABASE_UP

log = logging.getLogger("campaigns.worker")

WORKER_ROLE = "campaigns_worker"
_DSN_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")
_DSN_PASSWORD_PARAM = re.compile(r"(password=)[^&\s]+", re.I)


def redact_dsn(dsn: str) -> str:
    return _DSN_PASSWORD_PARAM.sub(r"\1***", _DSN_PASSWORD.sub(r"\1***@", dsn))


def is_connection_error(exc: BaseException) -> bool:
    """A lost or refused connection (reconnect and retry), not a statement's error."""
    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, OSError)) and not isinstance(
        exc, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure, psycopg.errors.LockNotAvailable))


class DbConnection:
    """A long-lived autocommit connection that re-opens itself after a failure."""

    def __init__(self, dsn: str, name: str, role: str | None = WORKER_ROLE) -> None:
        self.dsn, self.name, self.role = dsn, name, role
        self.conn: psycopg.AsyncConnection | None = None

    async def get(self) -> psycopg.AsyncConnection:
        conn = self.conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        await self.reset()
        conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True, row_factory=dict_row,
                                                     application_name=f"campaigns-worker {self.name}")
        if self.role:
            try:
                await conn.execute(f"SET ROLE {self.role}")
            except psycopg.errors.InsufficientPrivilege:
                # The login role is not a member of campaigns_worker: keep its own rights.
                log.warning("cannot SET ROLE %s; continuing as the connecting role", self.role)
        self.conn = conn
        return conn

    async def reset(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # noqa: BLE001
                pass


class DatabaseUnavailable(RuntimeError):
    """The worker could not reach its database within CAMPAIGNS_WORKER_STARTUP_SECONDS."""

    def __init__(self, exc: BaseException, seconds: float) -> None:
        super().__init__(f"database unreachable for {seconds:.0f}s: {describe_db_error(exc)}")
        self.cause = exc
        self.fields = db_error_fields(exc)


async def wait_for_database(dsn: str, seconds: float, stopping: asyncio.Event) -> bool:
    """Until a connection opens (True), the worker is asked to stop (False), or `seconds` pass:
    DatabaseUnavailable naming the last error. One WARNING for the first failure, not one per try."""
    deadline = time.monotonic() + seconds
    delay, warned = 0.2, False
    while True:
        db = DbConnection(dsn, "startup", role=None)
        try:
            await db.get()
            return True
        except Exception as exc:  # noqa: BLE001 - any failure to connect is retried until the deadline
            if not warned:
                warned = True
                log.warning("database unreachable at start-up: %s; retrying for %.0fs", describe_db_error(exc),
                            seconds, extra={**db_error_fields(exc), "component": "startup"})
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DatabaseUnavailable(exc, seconds) from exc
        finally:
            await db.reset()
        try:
            await asyncio.wait_for(stopping.wait(), min(delay, remaining))
            return False
        except asyncio.TimeoutError:
            delay = min(delay * 2, 2.0)


class DbOutage:
    """The worker's view of its database across its connections (claimer, recorders, listener): one
    WARNING when calls start failing (with the error's message and SQLSTATE, and again only for an error
    not seen yet in this outage), one INFO with the outage's length when a call that started after the
    last failure succeeds. Nothing per retry."""

    def __init__(self, logger: logging.Logger, clock: Callable[[], float] = time.monotonic) -> None:
        self.log = logger
        self.clock = clock
        self.down_since: float | None = None
        self.last_failure = float("-inf")
        self.failures = 0
        self._seen: set[str] = set()

    def failed(self, component: str, exc: BaseException) -> None:
        now = self.clock()
        self.last_failure = now
        self.failures += 1
        fields = {**db_error_fields(exc), "component": component}
        description = describe_db_error(exc)
        if self.down_since is None:
            self.down_since = now
            self._seen = {fields["db_error"]}  # type: ignore[arg-type]
            DATABASE_UP.set(0)
            # A Python error (not the database's) keeps its traceback.
            trace = None if isinstance(exc, (psycopg.Error, OSError)) else exc
            self.log.warning("database calls failing (%s): %s; reconnecting with backoff", component, description,
                             extra=fields, exc_info=trace)
        elif fields["db_error"] not in self._seen:
            self._seen.add(fields["db_error"])  # type: ignore[arg-type]
            self.log.warning("database calls still failing (%s), now: %s", component, description, extra=fields)

    def succeeded(self, started: float) -> None:
        """A call that started at `started` (clock time) succeeded."""
        if self.down_since is None:
            DATABASE_UP.set(1)
            return
        if started < self.last_failure:
            return  # it began before the latest failure: not yet proof of recovery
        outage = self.clock() - self.down_since
        self.log.info("database reachable again after %.1fs (%d failed calls)", outage, self.failures,
                      extra={"outage_seconds": round(outage, 3), "failures": self.failures})
        self.down_since, self.failures = None, 0
        DATABASE_UP.set(1)
