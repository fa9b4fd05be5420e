"""Every routine in schema campaigns has one home: a CREATE in db/functions (or, for uuid_v7, which
column defaults need before the function files run, in its migration). A routine that exists in the
database but in no file is a leftover: when a signature changes, its file drops the old one first.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "db" / "functions"
MIGRATIONS_DIR = ROOT / "db" / "migrations"
_CREATE = re.compile(r"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\s+campaigns\.(\w+)\s*\(", re.M | re.I)
# A family file stays readable in one sitting.
MAX_LINES = 320


def defined_in(directory: Path) -> Counter[str]:
    """How many routines of each name the .sql files of a directory create (overloads count apart)."""
    found: Counter[str] = Counter()
    for path in sorted(directory.glob("*.sql")):
        found.update(_CREATE.findall(path.read_text()))
    return found


def routines_in_database(conn) -> Counter[str]:
    rows = conn.execute(
        """
        SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'campaigns' AND p.prokind IN ('f', 'p')
        """
    ).fetchall()
    return Counter(name for (name,) in rows)


def test_every_routine_in_the_schema_is_defined_by_a_file(conn):
    in_files = defined_in(FUNCTIONS_DIR) + defined_in(MIGRATIONS_DIR)
    in_database = routines_in_database(conn)
    # One entry per overload: a routine whose old signature was left behind shows up twice here.
    leftovers = {name: n - in_files[name] for name, n in in_database.items() if n > in_files[name]}
    assert leftovers == {}, "routines no file defines (drop the old signature at the top of its file)"


def test_every_routine_in_the_files_exists(conn):
    in_database = routines_in_database(conn)
    assert sorted(set(defined_in(FUNCTIONS_DIR)) - set(in_database)) == []


def test_each_routine_has_one_home():
    in_files = defined_in(FUNCTIONS_DIR)
    homes: dict[str, list[str]] = {}
    for path in sorted(FUNCTIONS_DIR.glob("*.sql")):
        for name in set(_CREATE.findall(path.read_text())):
            homes.setdefault(name, []).append(path.name)
    assert {name: files for name, files in homes.items() if len(files) > 1} == {}
    assert set(in_files) & set(defined_in(MIGRATIONS_DIR)) == set()


def test_family_files_stay_short():
    long = {p.name: n for p in FUNCTIONS_DIR.glob("*.sql") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_suppression_check_is_inlined_into_its_callers(conn):
    """The one suppression rule is a SQL function the planner inlines: the calling statement scans the
    lists itself (a join or hashed subplan is possible) instead of calling a function per row."""
    conn.execute("SET search_path = pg_catalog, campaigns")
    for query in (
        # As launch asks it (one join against both lists) …
        "SELECT c.id FROM campaigns.contacts c WHERE NOT EXISTS (SELECT FROM campaigns._suppressed_addresses(now()) x "
        "WHERE x.tenant_id = c.tenant_id AND x.email_key = lower(c.email))",
        # … and as processing and the claim ask it (inside an OR or a CASE).
        "SELECT c.id FROM campaigns.contacts c WHERE c.status <> 'active' OR EXISTS (SELECT FROM "
        "campaigns._suppressed_addresses(now()) x WHERE x.tenant_id = c.tenant_id AND x.email_key = lower(c.email))",
    ):
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN (COSTS OFF) " + query))
        assert "Function Scan" not in plan, plan
        assert "on suppressions" in plan and "on global_suppressions" in plan, plan
