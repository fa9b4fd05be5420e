"""Fixtures of the API tests: the API served over real HTTP on a fresh database, two tenants and
their clients. The helpers live in api_helpers.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest
from api_helpers import Tenant, client, new_tenant, serve


@pytest.fixture
def api_url(db_url: str) -> Iterator[str]:
    """The API on a fresh test database (no pg_cron there)."""
    with serve(db_url) as url:
        yield url


@pytest.fixture
def cron_api_url(cron_db_url: str) -> Iterator[str]:
    """The API on the database pg_cron runs in, with the engine's jobs installed."""
    with serve(cron_db_url) as url:
        yield url


@pytest.fixture
def tenant(conn: psycopg.Connection) -> Tenant:
    return new_tenant(conn, "Acme")


@pytest.fixture
def other_tenant(conn: psycopg.Connection) -> Tenant:
    return new_tenant(conn, "Globex")


@pytest.fixture
def api(api_url: str, tenant: Tenant) -> Iterator[httpx.Client]:
    """A client acting as the tenant's admin."""
    with client(api_url, tenant.api_key) as c:
        yield c


@pytest.fixture
def other_api(api_url: str, other_tenant: Tenant) -> Iterator[httpx.Client]:
    with client(api_url, other_tenant.api_key) as c:
        yield c
