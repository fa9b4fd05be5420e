"""The SQL tests' connection: by default inside a transaction rolled back at the end, on the database
the session shares (tests.support.rollback explains what that changes). A test that needs its work
committed (several connections, NOTIFY, a procedure that commits) is marked `commits` and gets an
autocommit connection on a fresh copy of the template, which `db_url` names."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.support import rollback


@pytest.fixture(scope="session")
def _rollback_connection(shared_db_url: str) -> Iterator[dict]:
    """One connection for every rolled-back test (its caches stay warm); replaced if a test broke it."""
    holder = {"url": shared_db_url, "conn": rollback.connect(shared_db_url)}
    yield holder
    holder["conn"].close()


@pytest.fixture
def conn(request: pytest.FixtureRequest, _rollback_connection) -> Iterator[psycopg.Connection]:
    if request.node.get_closest_marker("commits"):
        with psycopg.connect(request.getfixturevalue("db_url"), autocommit=True) as c:
            yield c
        return
    if "db_url" in request.fixturenames:
        pytest.fail("a test that uses db_url commits: mark it @pytest.mark.commits")
    c = _rollback_connection["conn"]
    if c.closed or c.broken:
        c = _rollback_connection["conn"] = rollback.connect(_rollback_connection["url"])
    rollback.begin(c)
    try:
        yield c
    finally:
        if not (c.closed or c.broken):
            rollback.end(c)
