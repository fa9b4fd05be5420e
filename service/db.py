"""The connection pool and the per-request, tenant-scoped transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import msgspec
import psycopg
from psycopg.adapt import Loader
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool

# Every API transaction runs as this role, so Row Level Security applies whoever connects.
APP_ROLE = "campaigns_app"

T = TypeVar("T")


async def _configure(conn: psycopg.AsyncConnection) -> None:
    await conn.set_autocommit(True)
    await conn.execute(f"SET ROLE {APP_ROLE}")
    await conn.execute("SET application_name = 'campaigns-api'")


def create_pool(url: str, min_size: int = 2, max_size: int = 10) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        configure=_configure,
        kwargs={"row_factory": dict_row},
    )


@dataclass(frozen=True)
class AuthContext:
    """Who the presented API key acts for."""

    tenant_id: UUID
    user_id: UUID


# Resolves the key (SECURITY DEFINER, hashes only) and, in the same statement and transaction, sets the
# tenant and user for Row Level Security: one round trip. No row: the key is unknown, nothing is set.
_AUTHENTICATE_AND_SCOPE = """
SELECT a.tenant_id, a.user_id,
       set_config('campaigns.tenant_id', a.tenant_id::text, true),
       set_config('campaigns.user_id', coalesce(a.user_id::text, ''), true)
FROM campaigns.authenticate_api_key(%s) a
"""


class RequestTransaction:
    """One request's pooled connection and its transaction, opened by the API key.

    `begin` checks the connection out, opens the transaction and resolves the key with the tenant
    set, in one statement; `end` commits (or rolls back when given the error) and returns the
    connection. `end` is idempotent, so a safety net may call it again."""

    __slots__ = ("pool", "conn", "auth", "_tx", "_open")

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self.conn: psycopg.AsyncConnection | None = None
        self.auth: AuthContext | None = None
        self._tx: Any = None
        self._open = False

    async def begin(self, api_key: str) -> AuthContext | None:
        """The key's tenant and user, with the transaction open for them; None (and released) when unknown."""
        self.conn = await self.pool.getconn()
        self._open = True
        try:
            self._tx = self.conn.transaction()
            await self._tx.__aenter__()
            cur = await self.conn.execute(_AUTHENTICATE_AND_SCOPE, (api_key,))
            row = await cur.fetchone()
        except BaseException as exc:
            await self.end(exc)
            raise
        if row is None:
            await self.end(None)
            return None
        self.auth = AuthContext(tenant_id=row["tenant_id"], user_id=row["user_id"])
        return self.auth

    @property
    def open(self) -> bool:
        return self._open

    async def end(self, error: BaseException | None) -> None:
        """Commit, or roll back when `error` is given; then give the connection back to the pool."""
        if not self._open:
            return
        self._open = False
        conn, tx, self._tx = self.conn, self._tx, None
        try:
            if tx is not None:
                await tx.__aexit__(type(error) if error else None, error, error.__traceback__ if error else None)
        finally:
            await self.pool.putconn(conn)


@asynccontextmanager
async def tenant_transaction(
    pool: AsyncConnectionPool, tenant_id: UUID, user_id: UUID | None = None
) -> AsyncIterator[psycopg.AsyncConnection]:
    """One transaction with campaigns.tenant_id (and campaigns.user_id) set locally: RLS shows this
    tenant's rows only, and functions that record an actor (created_by, approvals, audit) read the user.
    For callers that know the tenant already (a signed link); with an API key use RequestTransaction.

    Commits when the block ends normally, rolls back when it raises."""
    async with pool.connection() as conn:
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('campaigns.tenant_id', %s, true), set_config('campaigns.user_id', %s, true)",
                (str(tenant_id), str(user_id) if user_id else ""),
            )
            yield conn


@asynccontextmanager
async def api_key_transaction(pool: AsyncConnectionPool, api_key: str) -> AsyncIterator[RequestTransaction | None]:
    """A RequestTransaction as a block: None when the key is unknown; commits when the block ends
    normally, rolls back when it raises."""
    request_tx = RequestTransaction(pool)
    if await request_tx.begin(api_key) is None:
        yield None
        return
    try:
        yield request_tx
    except BaseException as exc:
        await request_tx.end(exc)
        raise
    await request_tx.end(None)


class _RawJson(Loader):
    """json / jsonb columns as their bytes: msgspec decodes them straight into the response Struct."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


class ResponseShapeError(RuntimeError):
    """A query's document did not fit the response type: a bug in the query or the Struct (a 500)."""


class Db:
    """The request's connection inside its tenant transaction.

    Every read query returns one row whose first column is a JSON document (to_jsonb of a row, or a
    jsonb_build_object of a page); `doc` decodes it into the response Struct in one step."""

    def __init__(self, conn: psycopg.AsyncConnection, auth: AuthContext | None = None) -> None:
        self.conn = conn
        self.auth = auth

    async def doc(self, query: str, params: Sequence[Any] | dict[str, Any] | None, type: type[T]) -> T | None:
        cur = self.conn.cursor(row_factory=tuple_row)
        cur.adapters.register_loader("jsonb", _RawJson)
        cur.adapters.register_loader("json", _RawJson)
        await cur.execute(query, params)
        row = await cur.fetchone()
        if row is None or row[0] is None:
            return None
        try:
            return msgspec.json.decode(row[0], type=type)
        except msgspec.ValidationError as exc:
            raise ResponseShapeError(f"{type.__name__}: {exc}") from exc

    async def execute(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> int:
        """Run a statement; returns its row count."""
        cur = await self.conn.execute(query, params)
        return cur.rowcount
