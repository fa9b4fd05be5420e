"""Fixtures of the API tests: the API in process (ASGI, lifespan on) on one database per module, and a
new tenant per test, so Row Level Security keeps the tests of a module apart. A test that counts
rows counts its tenant's, or compares before and after. The helpers live in tests.support.api."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.support.api import InProcessApi, Tenant, in_process, new_tenant


def _own_database(request: pytest.FixtureRequest) -> bool:
    if request.node.get_closest_marker("own_database"):
        return True
    if "db_url" in request.fixturenames:
        pytest.fail("an API test with a database of its own is marked @pytest.mark.own_database")
    return False


@pytest.fixture(scope="module")
def module_api_app(module_db_url: str) -> Iterator[InProcessApi]:
    with in_process(module_db_url) as app:
        yield app


@pytest.fixture
def conn(request: pytest.FixtureRequest) -> Iterator[psycopg.Connection]:
    """A superuser connection in autocommit (the DBA's view) on the module's database (or the test's own)."""
    if _own_database(request):
        with psycopg.connect(request.getfixturevalue("db_url"), autocommit=True) as c:
            yield c
    else:
        yield request.getfixturevalue("module_conn")


@pytest.fixture
def api_app(request: pytest.FixtureRequest) -> Iterator[InProcessApi]:
    """The API on the module's database (no pg_cron there), or on the test's own database when it is
    marked own_database (it calls engine functions that act on every tenant)."""
    if _own_database(request):
        with in_process(request.getfixturevalue("db_url")) as app:
            yield app
    else:
        yield request.getfixturevalue("module_api_app")


@pytest.fixture(scope="module")
def cron_api_app(cron_db_url: str) -> Iterator[InProcessApi]:
    """The API on the database pg_cron runs in, with the engine's jobs installed."""
    with in_process(cron_db_url) as app:
        yield app


@pytest.fixture
def tenant(conn: psycopg.Connection) -> Tenant:
    return new_tenant(conn, "Acme")


@pytest.fixture
def other_tenant(conn: psycopg.Connection) -> Tenant:
    return new_tenant(conn, "Globex")


@pytest.fixture
def anonymous(api_app: InProcessApi) -> Iterator[httpx.Client]:
    """A client without an API key."""
    with api_app.client() as c:
        yield c


@pytest.fixture
def api(api_app: InProcessApi, tenant: Tenant) -> Iterator[httpx.Client]:
    """A client acting as the tenant's admin."""
    with api_app.client(tenant.api_key) as c:
        yield c


@pytest.fixture
def other_api(api_app: InProcessApi, other_tenant: Tenant) -> Iterator[httpx.Client]:
    with api_app.client(other_tenant.api_key) as c:
        yield c
