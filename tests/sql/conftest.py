"""The SQL tests' connection (`conn`) is `tx_conn` (see the root conftest): inside a transaction rolled
back at the end, on the database the session shares, unless the test is marked `commits`."""

from __future__ import annotations

import psycopg
import pytest


@pytest.fixture
def conn(tx_conn: psycopg.Connection) -> psycopg.Connection:
    return tx_conn
