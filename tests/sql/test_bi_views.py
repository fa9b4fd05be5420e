"""The BI views: readable by campaigns_readonly across tenants, closed to the API role, right totals."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from tests.support.factories import insert, make_campaign, make_step, make_tenant


@pytest.fixture
def two_tenants(conn):
    out = []
    for name in ("A", "B"):
        t = make_tenant(conn, name)["tenant_id"]
        campaign = make_campaign(conn, t, status="active", launched_at="2026-03-01 09:00+00", total_contacts=10)
        first = make_step(conn, t, campaign, emails_sent=10, emails_delivered=9, opens=6, clicks=3, bounces=1)
        make_step(conn, t, campaign, emails_sent=5, emails_delivered=5, opens=1, replies=1)
        make_step(conn, t, campaign, step_type="wait")
        for day, sent, delivered, opens in ((date(2026, 3, 1), 6, 6, 3), (date(2026, 3, 2), 4, 3, 3)):
            insert(conn, "campaign_analytics", tenant_id=t, campaign_id=campaign, date=day, emails_sent=sent,
                   emails_delivered=delivered, unique_opens=opens)
        make_campaign(conn, t)  # a draft: not in the performance view
        out.append({"tenant": t, "campaign": campaign, "first": first})
    return out


def _as(conn, role):
    conn.execute(f"SET ROLE {role}")


def test_readonly_role_reads_every_tenant_with_totals_and_rates(conn, two_tenants):
    _as(conn, "campaigns_readonly")
    rows = conn.execute(
        "SELECT campaign_id, emails_sent, emails_delivered, unique_opens, delivery_rate, open_rate, first_day, last_day "
        "FROM campaigns.bi_campaign_performance ORDER BY tenant_name").fetchall()
    assert [r[0] for r in rows] == [t["campaign"] for t in two_tenants]
    sent, delivered, opens, delivery_rate, open_rate, first, last = rows[0][1:]
    assert (sent, delivered, opens) == (10, 9, 6)
    assert (float(delivery_rate), float(open_rate)) == (90.0, 66.67)
    assert (first, last) == (date(2026, 3, 1), date(2026, 3, 2))
    assert conn.execute("SELECT count(*) FROM campaigns.bi_daily_metrics").fetchone()[0] == 4


def test_step_funnel_has_email_steps_with_reach(conn, two_tenants):
    _as(conn, "campaigns_readonly")
    rows = conn.execute(
        "SELECT step_order, emails_sent, open_rate, bounce_rate, reach_rate FROM campaigns.bi_step_funnel "
        "WHERE campaign_id = %s ORDER BY step_order", (two_tenants[0]["campaign"],)).fetchall()
    assert [(r[0], r[1]) for r in rows] == [(1, 10), (2, 5)]          # the wait step is not a funnel row
    assert [float(r[2]) for r in rows] == [66.67, 20.0]
    assert float(rows[0][3]) == 10.0
    assert [float(r[4]) for r in rows] == [100.0, 50.0]


@pytest.mark.parametrize("relation", ["campaigns.contacts", "campaigns.email_messages", "campaigns.campaign_contacts"])
def test_readonly_role_cannot_read_raw_tables(conn, relation):
    _as(conn, "campaigns_readonly")
    with pytest.raises(psycopg.Error) as e:
        conn.execute(f"SELECT 1 FROM {relation} LIMIT 1")
    assert e.value.sqlstate == "42501"


@pytest.mark.parametrize("view", ["bi_campaign_performance", "bi_step_funnel", "bi_daily_metrics"])
def test_api_role_cannot_read_the_cross_tenant_views(conn, two_tenants, view):
    _as(conn, "campaigns_app")
    with pytest.raises(psycopg.Error) as e:
        conn.execute(f"SELECT 1 FROM campaigns.{view} LIMIT 1")
    assert e.value.sqlstate == "42501"
