"""Helpers of the A/B tests (test_ab_tests, test_ab_concurrency): a campaign whose email step carries an
A/B test, its figures per variant, and the contacts held back at the step."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.support.factories import insert, make_campaign, make_step, make_tenant


def build(conn: psycopg.Connection, n: int, sample_percent: float, variants: list[dict], *,
          steps_before: tuple[dict, ...] = (), timezones: tuple[str | None, ...] = (None,),
          campaign_cols: dict[str, Any] | None = None, **test_cols) -> dict:
    """A tenant with n contacts in a segment (their timezones taken in turn from `timezones`), and a
    campaign (with `campaign_cols`) whose email step carries an A/B test with `test_cols`. `steps_before`
    are step specs put in front of the tested step, linked in order."""
    t = make_tenant(conn)["tenant_id"]
    conn.execute("INSERT INTO campaigns.contacts (tenant_id, email, timezone) "
                 "SELECT %s, 'ab' || i || '@example.com', (%s::text[])[1 + i %% %s] FROM generate_series(1, %s) i",
                 (t, list(timezones), len(timezones), n))
    segment = insert(conn, "segments", tenant_id=t, name="all")
    conn.execute("INSERT INTO campaigns.segment_contacts (tenant_id, segment_id, contact_id) "
                 "SELECT tenant_id, %s, id FROM campaigns.contacts WHERE tenant_id = %s", (segment, t))
    campaign = make_campaign(conn, t, segment_id=segment, **(campaign_cols or {}))
    before = [make_step(conn, t, campaign, **spec) for spec in steps_before]
    step = make_step(conn, t, campaign, subject_line="Default subject")
    for a, b in zip(before, before[1:] + [step]):
        conn.execute("UPDATE campaigns.campaign_steps SET next_step_id = %s WHERE id = %s", (b, a))
    test = insert(conn, "ab_tests", tenant_id=t, campaign_id=campaign, step_id=step,
                  sample_percent=sample_percent, **test_cols)
    ids = {}
    for i, v in enumerate(variants):
        ids[v.get("variant_name", "ABCDE"[i])] = insert(
            conn, "ab_test_variants", tenant_id=t, ab_test_id=test,
            **{"variant_name": "ABCDE"[i], "subject_line": f"Subject {'ABCDE'[i]}", **v})
    return {"tenant": t, "campaign": campaign, "step": step, "test": test, "variants": ids, "before": before}


def per_variant(conn: psycopg.Connection, w: dict) -> dict:
    """Messages queued per variant name."""
    rows = conn.execute(
        "SELECT v.variant_name, count(m.id) FROM campaigns.ab_test_variants v "
        "LEFT JOIN campaigns.email_messages m ON m.ab_variant_id = v.id "
        "WHERE v.ab_test_id = %s GROUP BY 1 ORDER BY 1", (w["test"],)).fetchall()
    return dict(rows)


def held(conn: psycopg.Connection, w: dict) -> int:
    """Enrollments waiting at the tested step with no due time (held back for the winner)."""
    return conn.execute(
        "SELECT count(*) FROM campaigns.campaign_contacts WHERE campaign_id = %s AND status IN ('enrolled', 'active') "
        "AND current_step_id = %s AND next_email_scheduled_at IS NULL", (w["campaign"], w["step"])).fetchone()[0]
