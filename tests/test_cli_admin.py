"""campaignctl import-contacts and status, run as the operator would (subprocesses, a real database)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.factories import make_campaign, make_segment, make_step, make_tenant

CTL = [sys.executable, "-m", "service.cli"]


def ctl(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run([*CTL, *args], capture_output=True, text=True, env=env, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)


def test_import_contacts_upserts_and_reports_rejections(conn, db_url, tmp_path):
    t = make_tenant(conn)["tenant_id"]
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text(
        "Email,First Name,Company,Timezone,industry,status\n"
        "ada@example.com,Ada,Engines,Europe/London,,\n"
        "grace@example.com,Grace,Navy,,,\n"
        "not-an-email,Bad,,,,\n"
        "alan@example.com,Alan,,Mars/Olympus,,\n"
        "ADA@example.com,Augusta,,,computing,unsubscribed\n"
    )
    first = ctl(db_url, "import-contacts", str(csv_file), "--tenant", str(t))
    assert first.returncode == 1, first.stderr                     # some rows were rejected
    # The bad email, the bad timezone, and the first of two rows for one address (the last one wins).
    assert "created 2, updated 0, rejected 3" in first.stdout
    for code in ("INVALID_EMAIL", "INVALID_TIMEZONE", "DUPLICATE_IN_BATCH"):
        assert f"rejected {code}: 1" in first.stdout
    assert "rows/s" in first.stderr and "ignored columns: status" in first.stderr
    rows = dict(conn.execute("SELECT lower(email), first_name FROM campaigns.contacts WHERE tenant_id = %s", (t,)).fetchall())
    assert rows == {"ada@example.com": "Augusta", "grace@example.com": "Grace"}
    status, industry = conn.execute("SELECT status, custom_fields->>'industry' FROM campaigns.contacts "
                                    "WHERE lower(email) = 'ada@example.com'").fetchone()
    assert (status, industry) == ("active", "computing")           # an import never changes a status
    good = tmp_path / "good.csv"
    good.write_text("email,first_name\ngrace@example.com,Grace H.\n")
    again = ctl(db_url, "import-contacts", str(good), "--tenant", str(t))
    assert again.returncode == 0 and "created 0, updated 1, rejected 0" in again.stdout


def test_import_contacts_refuses_bad_input_with_a_clear_error(conn, db_url, tmp_path):
    t = make_tenant(conn)["tenant_id"]
    no_email = tmp_path / "no_email.csv"
    no_email.write_text("name\nAda\n")
    for args in (["import-contacts", str(tmp_path / "missing.csv"), "--tenant", str(t)],
                 ["import-contacts", str(no_email), "--tenant", str(t)],
                 ["import-contacts", str(no_email), "--tenant", "not-a-uuid"]):
        result = ctl(db_url, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert conn.execute("SELECT count(*) FROM campaigns.contacts WHERE tenant_id = %s", (t,)).fetchone()[0] == 0


def test_status_lists_launched_campaigns_with_counts(conn, db_url):
    t = make_tenant(conn, "Acme")["tenant_id"]
    contacts = [conn.execute("INSERT INTO campaigns.contacts (tenant_id, email) VALUES (%s, %s) RETURNING id",
                             (t, f"s{i}@example.com")).fetchone()[0] for i in range(3)]
    campaign = make_campaign(conn, t, name="Spring", segment_id=make_segment(conn, t, contacts))
    make_step(conn, t, campaign)
    make_campaign(conn, t, name="Still a draft")
    conn.execute("SELECT campaigns.launch_campaign(%s)", (campaign,))
    conn.execute("SELECT campaigns.process_due_steps()")
    result = ctl(db_url, "status")
    assert result.returncode == 0, result.stderr
    assert "outbox: 3 queued (3 due now), 0 sending" in result.stdout
    line = next(row for row in result.stdout.splitlines() if "Spring" in row)
    assert "completed=3" in line and line.split()[-4:] == ["3", "3", "0", "0"]  # queued, due, sent, failed
    assert "Still a draft" not in result.stdout
    assert "dead letters by reason: none" in result.stdout


def test_status_shows_dead_letters_by_reason(conn, db_url):
    t = make_tenant(conn, "Initech")["tenant_id"]
    contacts = [conn.execute("INSERT INTO campaigns.contacts (tenant_id, email) VALUES (%s, %s) RETURNING id",
                             (t, f"d{i}@example.com")).fetchone()[0] for i in range(3)]
    campaign = make_campaign(conn, t, name="Dead", segment_id=make_segment(conn, t, contacts))
    make_step(conn, t, campaign)
    conn.execute("SELECT campaigns.launch_campaign(%s)", (campaign,))
    conn.execute("SELECT campaigns.process_due_steps()")
    rows = conn.execute("SELECT message_id FROM campaigns.claim_outbox_batch('w', 10)").fetchall()
    outcomes = [("failed", "550 5.1.1 unknown"), ("rejected", "554 5.7.1 spam"), ("failed", "550 5.1.1 unknown")]
    for (message_id,), (outcome, reply) in zip(rows, outcomes):
        conn.execute("SELECT campaigns.record_send_result(%s, 'w', %s, %s)", (message_id, outcome, reply))
    result = ctl(db_url, "status", "--tenant", str(t))
    assert result.returncode == 0, result.stderr
    assert "dead letters by reason: bounced 2, rejected 1" in result.stdout
