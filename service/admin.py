"""Operator commands: `campaignctl import-contacts FILE.csv` and `campaignctl status`.

The import reads the file as a stream and sends it in chunks through campaigns.upsert_contacts, the
same set-based function, with the same column rules (service.contacts_csv), as the API's CSV import.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TextIO
from uuid import UUID

import psycopg

from service.contacts_csv import csv_columns, csv_row, has_email_column

CHUNK = 1_000
SHOWN_REJECTIONS = 20


class AdminError(RuntimeError):
    """Bad input for an operator command: printed as one line, exit status 2."""


def _progress(out: TextIO, done: int, started: float, final: bool = False) -> None:
    rate = done / max(time.monotonic() - started, 1e-6)
    out.write(f"\r{done:,} rows, {rate:,.0f} rows/s" + ("\n" if final else ""))
    out.flush()


def import_contacts(url: str, path: Path, tenant_id: UUID, out: TextIO = sys.stderr) -> dict:
    """Upsert the CSV's contacts into the tenant; returns the counts and the rejected rows."""
    if not path.is_file():
        raise AdminError(f"{path}: no such file")
    counts: Counter[str] = Counter()
    rejected: list[dict] = []
    started = time.monotonic()
    with path.open(newline="", encoding="utf-8-sig") as handle, psycopg.connect(url) as conn:
        if conn.execute("SELECT 1 FROM campaigns.tenants WHERE id = %s", (tenant_id,)).fetchone() is None:
            raise AdminError(f"tenant {tenant_id} not found")
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise AdminError(f"{path}: empty file") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise AdminError(f"{path}: not a UTF-8 CSV ({exc})") from None
        columns, ignored = csv_columns(header)
        if not has_email_column(columns):
            raise AdminError(f"{path}: the header has no email column")
        if ignored:
            out.write(f"ignored columns: {', '.join(ignored)}\n")
        line = 1
        while True:
            chunk: list[tuple[int, dict]] = []
            try:
                for cells in reader:
                    line += 1
                    row = csv_row(columns, cells)
                    if row is None:  # a blank record
                        continue
                    chunk.append((line, row))
                    if len(chunk) == CHUNK:
                        break
            except (csv.Error, UnicodeDecodeError) as exc:
                raise AdminError(f"{path}: line {line + 1}: {exc}") from None
            if not chunk:
                break
            with conn.transaction():
                rows = conn.execute(
                    "SELECT row_index, outcome, error_code, error_field FROM campaigns.upsert_contacts(%s::jsonb, %s)",
                    (json.dumps([row for _, row in chunk]), tenant_id)).fetchall()
            for index, outcome, code, field in rows:
                counts[outcome] += 1
                if outcome == "rejected":
                    counts[f"rejected:{code}"] += 1
                    if len(rejected) < SHOWN_REJECTIONS:
                        rejected.append({"line": chunk[index][0], "code": code, "field": field,
                                         "email": chunk[index][1].get("email")})
            _progress(out, sum(counts[k] for k in ("created", "updated", "rejected")), started)
    _progress(out, sum(counts[k] for k in ("created", "updated", "rejected")), started, final=True)
    return {"created": counts["created"], "updated": counts["updated"], "rejected": counts["rejected"],
            "reasons": {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("rejected:")},
            "rejected_rows": rejected}


STATUS_QUERY = """
SELECT t.name AS tenant, c.name AS campaign, c.status,
       coalesce(e.counts, '{}') AS enrollments,
       coalesce(m.queued, 0) AS queued, coalesce(m.due, 0) AS due, coalesce(m.sending, 0) AS sending,
       coalesce(m.sent, 0) AS sent, coalesce(m.failed, 0) AS failed
FROM campaigns.campaigns c
JOIN campaigns.tenants t ON t.id = c.tenant_id
LEFT JOIN LATERAL (
    SELECT jsonb_object_agg(status, n) AS counts
    FROM (SELECT status, count(*) AS n FROM campaigns.campaign_contacts cc
          WHERE cc.tenant_id = c.tenant_id AND cc.campaign_id = c.id GROUP BY status) x) e ON true
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE status = 'queued') AS queued,
           count(*) FILTER (WHERE status = 'queued' AND next_attempt_at <= now()) AS due,
           count(*) FILTER (WHERE status = 'sending') AS sending,
           count(*) FILTER (WHERE status = 'sent') AS sent,
           count(*) FILTER (WHERE status = 'failed') AS failed
    FROM campaigns.email_messages mm WHERE mm.tenant_id = c.tenant_id AND mm.campaign_id = c.id) m ON true
WHERE (%(tenant)s::uuid IS NULL OR c.tenant_id = %(tenant)s::uuid) AND c.status <> 'draft'
ORDER BY t.name, c.created_at
"""


def status_report(url: str, tenant_id: UUID | None) -> str:
    """Launched campaigns with enrollments by status, the outbox queue and failures."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(STATUS_QUERY, {"tenant": tenant_id}).fetchall()
        queue = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'queued' AND next_attempt_at <= now()), "
            "count(*) FILTER (WHERE status = 'sending') FROM campaigns.email_messages "
            "WHERE status IN ('queued', 'sending') AND (%(t)s::uuid IS NULL OR tenant_id = %(t)s::uuid)",
            {"t": tenant_id}).fetchone()
        dead = conn.execute(
            "SELECT coalesce(failure_kind, 'unknown'), count(*) FROM campaigns.email_messages "
            "WHERE status = 'failed' AND (%(t)s::uuid IS NULL OR tenant_id = %(t)s::uuid) GROUP BY 1 ORDER BY 2 DESC, 1",
            {"t": tenant_id}).fetchall()
    reasons = ", ".join(f"{kind} {n:,}" for kind, n in dead) or "none"
    lines = [f"outbox: {queue[0]:,} queued ({queue[1]:,} due now), {queue[2]:,} sending",
             f"dead letters by reason: {reasons}", ""]
    if not rows:
        return "\n".join(lines + ["no launched campaign"])
    header = f"{'tenant':<16} {'campaign':<32} {'status':<10} {'enrollments':<44} {'queued':>7} {'due':>6} {'sent':>8} {'failed':>7}"
    lines.append(header)
    lines.append("-" * len(header))
    for tenant, campaign, status, enrollments, queued, due, sending, sent, failed in rows:
        counts = " ".join(f"{k}={v}" for k, v in sorted(enrollments.items())) or "-"
        lines.append(f"{tenant[:16]:<16} {campaign[:32]:<32} {status:<10} {counts[:44]:<44} {queued:>7,} {due:>6,} {sent:>8,} {failed:>7,}")
    return "\n".join(lines)
