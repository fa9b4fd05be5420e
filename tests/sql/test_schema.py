"""The schema as a whole: a fresh migrate matches the committed snapshot, migrate is idempotent, and the
naming, typing and documentation conventions hold for every object (so a new table cannot skip them).

Regenerate the snapshot after an intended schema change (or a function signature change):
    UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest tests/sql/test_schema.py -k snapshot
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest

from service.errors import SQLSTATE_CODES, load_sqlstate_codes
from service.migrate import migrate
from tests.support.pg import pg_tool

SNAPSHOT = Path(__file__).with_name("schema_snapshot.sql")
_NOISE = re.compile(r"^(--|SET |SELECT pg_catalog\.set_config|\\restrict|\\unrestrict)")


# A function's (or procedure's) body: from its CREATE line to the closing dollar quote. The snapshot
# keeps each routine's signature and settings but not its body (the bodies are db/functions/*.sql themselves,
# re-applied on every migrate; test_second_migrate_changes_nothing covers them).
_FUNCTION_BODY = re.compile(r"^(CREATE (?:FUNCTION|PROCEDURE) [^\n]*\n(?:[^\n]*\n)*?)    AS (\$[^$]*\$)\n.*?\n\2;$", re.M | re.S)


def schema_dump(url: str) -> str:
    """pg_dump --schema-only of schema campaigns without comments, settings, function bodies or
    blank-line runs."""
    args = [pg_tool("pg_dump"), "--schema-only", "--schema=campaigns", "--no-owner", url]
    raw = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    raw = _FUNCTION_BODY.sub(lambda m: m.group(1) + "    AS <body>;", raw)
    lines = [line.rstrip() for line in raw.splitlines() if not _NOISE.match(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def assert_matches_snapshot(dump: str) -> None:
    if os.environ.get("UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(dump)
        return
    assert SNAPSHOT.exists(), "no snapshot: run once with UPDATE_SNAPSHOT=1"
    # Compared as lists so a failure shows the differing lines.
    assert dump.splitlines() == SNAPSHOT.read_text().splitlines()


def test_template_database_matches_snapshot(shared_db_url):
    # A copy of the template in which nothing is ever committed.
    assert_matches_snapshot(schema_dump(shared_db_url))


def test_migrate_empty_database_matches_snapshot(pg_server):
    name = f"campaigns_empty_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name)
    try:
        report = migrate(url)
        assert report.migrations_applied == sorted(p.stem for p in (Path(__file__).parents[2] / "db" / "migrations").glob("*.sql"))
        assert report.functions_changed > 0
        assert_matches_snapshot(schema_dump(url))
    finally:
        pg_server.drop_database(name)


@pytest.mark.commits
def test_second_migrate_changes_nothing(db_url):
    before = schema_dump(db_url)
    report = migrate(db_url)
    assert report.migrations_applied == []
    assert report.functions_changed == 0
    assert report.function_files  # the functions were re-applied, not skipped
    assert schema_dump(db_url) == before


# A procedure that commits cannot carry a SET clause (PostgreSQL forbids transaction control under
# one), so these qualify every name instead (test_drain checks one under a hostile search_path).
COMMITTING_PROCEDURES = ["campaigns.drain_due_steps(bigint,integer,double precision,timestamp with time zone)"]
# Written to be inlined into the calling query, which any SET clause prevents; these qualify every name
# (test_function_files checks that the planner inlines them).
INLINED_FUNCTIONS = ["campaigns._processing_lock_key(uuid)", "campaigns._suppressed_addresses(timestamp with time zone)"]


def test_public_functions_have_comment_and_search_path(conn):
    rows = conn.execute(
        """
        SELECT p.oid::regprocedure::text,
               obj_description(p.oid, 'pg_proc') IS NOT NULL,
               EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search\\_path=%%')
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'campaigns' AND p.proname NOT LIKE '\\_%%'
        ORDER BY 1
        """
    ).fetchall()
    assert rows, "no public function found"
    assert [name for name, has_comment, _ in rows if not has_comment] == [], "functions without COMMENT ON FUNCTION"
    assert [name for name, _, has_path in rows if not has_path] == COMMITTING_PROCEDURES, \
        "functions without SET search_path"


def test_private_functions_set_search_path_too(conn):
    missing = conn.execute(
        """
        SELECT p.oid::regprocedure::text
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'campaigns'
          AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search\\_path=%%')
        """
    ).fetchall()
    assert sorted(name for (name,) in missing) == sorted(COMMITTING_PROCEDURES + INLINED_FUNCTIONS)


def _tables(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'campaigns' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1"
    )]


def _primary_keys(conn: psycopg.Connection) -> dict[str, list[tuple[str, str, bool]]]:
    """table -> [(column, type, has default)] of its primary key."""
    keys: dict[str, list[tuple[str, str, bool]]] = {}
    for table, column, type_, has_default in conn.execute(
        """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.atthasdef
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
        WHERE n.nspname = 'campaigns' AND k.contype = 'p'
        ORDER BY c.relname, a.attnum
        """
    ):
        keys.setdefault(table, []).append((column, type_, has_default))
    return keys


def test_every_table_has_uuid_id_primary_key(conn):
    tables = _tables(conn)
    keys = _primary_keys(conn)
    assert "timezone_names" in tables and "tenants" in tables
    # The exceptions: a reference table keyed by the IANA name itself; idempotency keys, keyed by the
    # client's key; tables partitioned by time, whose key must hold the partition key (and the tenant).
    assert keys["timezone_names"] == [("name", "text", False)]
    assert keys["event_idempotency_keys"] == [("tenant_id", "uuid", False), ("key", "text", False)]
    partitioned = {r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'campaigns' AND c.relkind = 'p'")}
    assert "contact_events" in partitioned
    for table in partitioned:
        assert set(keys[table]) == {("id", "uuid", True), ("tenant_id", "uuid", False),
                                    ("occurred_at", "timestamp with time zone", False)}, table
    exceptions = {"timezone_names", "event_idempotency_keys", *partitioned}
    wrong = {t: keys.get(t) for t in tables if t not in exceptions and keys.get(t) != [("id", "uuid", True)]}
    assert wrong == {}


def test_no_timestamp_without_time_zone(conn):
    columns = conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'campaigns' AND data_type LIKE 'timestamp%%'"
    ).fetchall()
    assert columns, "no timestamp column found"
    assert [(t, c) for t, c, d in columns if d != "timestamp with time zone"] == []


# The prefix each kind of constraint must carry (NOT NULL constraints, catalogued from PostgreSQL 18, are unnamed by convention).
_CONSTRAINT_PREFIX = {"p": "pk_", "u": "uq_", "f": "fk_", "c": "ck_", "x": "ex_", "t": "tg_"}


def test_constraints_are_named_by_kind(conn):
    rows = conn.execute(
        """
        SELECT k.conname, k.contype::text FROM pg_constraint k
        JOIN pg_namespace n ON n.oid = k.connamespace
        LEFT JOIN pg_class t ON t.oid = k.conrelid
        -- A partition's constraints are named by PostgreSQL after its parent's.
        WHERE n.nspname = 'campaigns' AND k.contype <> 'n' AND NOT coalesce(t.relispartition, false)
        """
    ).fetchall()
    assert len(rows) > 50
    # Constraint triggers (deferred to commit) are triggers first: named trg_ like every trigger.
    assert [name for name, kind in rows if kind == "t" and not name.startswith("trg_")] == []
    rows = [(name, kind) for name, kind in rows if kind != "t"]
    assert [(name, kind) for name, kind in rows if not name.startswith(_CONSTRAINT_PREFIX[kind])] == []
    assert [name for name, _ in rows if not re.match(r"^(pk|uq|fk|ck|ix)_", name)] == []


def test_indexes_are_named_by_kind(conn):
    rows = conn.execute(
        """
        SELECT i.relname, x.indisunique, x.indisprimary FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = i.relnamespace
        WHERE n.nspname = 'campaigns' AND NOT t.relispartition
        """
    ).fetchall()
    assert rows
    assert [name for name, *_ in rows if not re.match(r"^(pk|uq|fk|ck|ix)_", name)] == []
    assert [name for name, _, primary in rows if primary and not name.startswith("pk_")] == []
    assert [name for name, unique, primary in rows if unique and not primary and not name.startswith("uq_")] == []
    assert [name for name, unique, _ in rows if not unique and not name.startswith("ix_")] == []


def test_error_codes_load_into_the_service_table(conn):
    rows = conn.execute("SELECT * FROM campaigns.error_codes()").fetchall()
    in_sql = {sqlstate: (code, status) for sqlstate, code, status, _description in rows}
    assert len(in_sql) == len(rows), "duplicate sqlstate in campaigns.error_codes()"
    load_sqlstate_codes(conn)
    assert in_sql == {state: (e.code, e.status) for state, e in SQLSTATE_CODES.items()}
