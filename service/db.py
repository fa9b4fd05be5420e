"""The connection pool and the per-request, tenant-scoped transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

# Every API transaction runs as this role, so Row Level Security applies whoever connects.
APP_ROLE = "campaigns_app"


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


@asynccontextmanager
async def tenant_transaction(pool: AsyncConnectionPool, tenant_id: UUID) -> AsyncIterator[psycopg.AsyncConnection]:
    """One transaction with campaigns.tenant_id set locally: RLS shows this tenant's rows only."""
    async with pool.connection() as conn:
        async with conn.transaction():
            await conn.execute("SELECT set_config('campaigns.tenant_id', %s, true)", (str(tenant_id),))
            yield conn
