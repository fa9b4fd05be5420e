"""campaigns.error_codes() is the one table of the engine's SQLSTATEs: the service loads it at start-up
and maps refusals from it."""

from __future__ import annotations

import re
from types import SimpleNamespace

import psycopg
import pytest

from litestar.testing import TestClient

from service import errors
from service.app import create_app
from service.errors import SQLSTATE_CODES, _database_error, load_sqlstate_codes

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def empty_table():
    """SQLSTATE_CODES as a process that has not loaded it yet; restored afterwards."""
    saved = dict(SQLSTATE_CODES.items())
    SQLSTATE_CODES.load([])
    yield SQLSTATE_CODES
    SQLSTATE_CODES.load([(state, e.code, e.status) for state, e in saved.items()])


def engine_error(conn) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as e:
        conn.execute("SELECT campaigns.pause_campaign(%s)", (MISSING,))
    return e.value


def test_every_code_is_of_the_engine_class_with_an_http_status(conn):
    for sqlstate, code, status, description in conn.execute("SELECT * FROM campaigns.error_codes()"):
        assert re.fullmatch(r"QC[0-9A-Z]{3}", sqlstate)
        assert re.fullmatch(r"[A-Z_]+", code) and 400 <= status < 500 and description


def test_loaded_once_the_table_maps_without_the_database(conn, empty_table):
    load_sqlstate_codes(conn)
    assert SQLSTATE_CODES["QC404"] == errors.ErrorCode("NOT_FOUND", 404)
    # No pool at all: the loaded table is enough.
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace()), method="GET", url=SimpleNamespace(path="/x"))
    response = _database_error(request, engine_error(conn))
    assert (response.status_code, response.content["code"]) == (404, "NOT_FOUND")


def test_the_app_loads_the_table_at_start_up(conn, shared_db_url, empty_table):
    assert not SQLSTATE_CODES.loaded
    with TestClient(create_app(shared_db_url)):
        assert SQLSTATE_CODES.loaded
        assert len(SQLSTATE_CODES) == conn.execute("SELECT count(*) FROM campaigns.error_codes()").fetchone()[0]


def test_qc105_is_invalid_steps_at_launch(conn):
    # The one definition (an older comment copy disagreed about it).
    row = conn.execute("SELECT code, http_status FROM campaigns.error_codes() WHERE sqlstate = 'QC105'").fetchone()
    assert row == ("CAMPAIGN_STEPS_INVALID", 422)
