"""Contact CSV import: the CLI and the API read a file the same way (service.contacts_csv), and both
skip blank records instead of reporting them as rejected rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.factories import make_tenant
from litestar.testing import TestClient

from service.app import create_app
from service.contacts_csv import csv_columns, csv_row

ROOT = Path(__file__).resolve().parent.parent
# Blank records: an empty line, a line of separators only, a line of spaces.
CSV_WITH_BLANK_ROWS = "email,first_name\nada@example.com,Ada\n\n,\n   ,  \ngrace@example.com,Grace\n\n"


def _emails(conn, tenant_id) -> set[str]:
    rows = conn.execute("SELECT lower(email) FROM campaigns.contacts WHERE tenant_id = %s", (tenant_id,)).fetchall()
    return {r[0] for r in rows}


def test_a_blank_record_is_no_row():
    columns, _ = csv_columns(["email", "first_name"])
    assert csv_row(columns, []) is None
    assert csv_row(columns, ["", ""]) is None
    assert csv_row(columns, ["  ", "\t"]) is None
    assert csv_row(columns, ["", "Ada"]) == {"first_name": "Ada"}   # not blank: rejected later for its email


def test_cli_import_skips_blank_rows(conn, db_url, tmp_path):
    tenant = make_tenant(conn)["tenant_id"]
    path = tmp_path / "contacts.csv"
    path.write_text(CSV_WITH_BLANK_ROWS)
    result = subprocess.run([sys.executable, "-m", "service.cli", "import-contacts", str(path), "--tenant", str(tenant)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env={**os.environ, "DATABASE_URL": db_url})
    assert result.returncode == 0, result.stdout + result.stderr     # nothing rejected
    assert _emails(conn, tenant) == {"ada@example.com", "grace@example.com"}


def test_api_import_skips_blank_rows(conn, db_url):
    tenant = make_tenant(conn)
    with TestClient(create_app(db_url)) as client:
        r = client.post("/api/contacts/import", content=CSV_WITH_BLANK_ROWS.encode(),
                        headers={"Authorization": f"Bearer {tenant['api_key']}", "content-type": "text/csv"})
    assert r.status_code == 200
    body = r.json()
    assert (body["rows"], body["created"], body["rejected"]) == (2, 2, 0)
    assert _emails(conn, tenant["tenant_id"]) == {"ada@example.com", "grace@example.com"}
