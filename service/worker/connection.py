"""The worker's own database connections: long-lived, autocommit, re-opened after a failure."""

from __future__ import annotations

import logging
import re

import psycopg
from psycopg.rows import dict_row

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
