"""The BI views: readable by campaigns_readonly across tenants, closed to the API role, right totals."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import psycopg
import pytest

from tests.support.factories import insert, make_campaign, make_step, make_tenant


@pytest.fixture
def two_tenants(conn):
    out = []
    for name in ("A", "B"):
        t = make_tenant(conn, name)["tenant_id"]
        # The same campaign name in both tenants: BI must never blend them.
        campaign = make_campaign(conn, t, name="Welcome", status="active", launched_at="2026-03-01 09:00+00",
                                 total_contacts=10)
        first = make_step(conn, t, campaign, emails_sent=10, emails_delivered=9, opens=6, clicks=3, bounces=1)
        make_step(conn, t, campaign, emails_sent=5, emails_delivered=5, opens=1, replies=1)
        make_step(conn, t, campaign, step_type="wait")
        for day, sent, delivered, opens in ((date(2026, 3, 1), 6, 6, 3), (date(2026, 3, 2), 4, 3, 3)):
            insert(conn, "campaign_analytics", tenant_id=t, campaign_id=campaign, date=day, emails_sent=sent,
                   emails_delivered=delivered, unique_opens=opens)
        make_campaign(conn, t)  # a draft: not in the performance view
        # Scheduled for later: not launched, so not in the performance view either.
        make_campaign(conn, t, status="scheduled", scheduled_at="2026-04-01 09:00+00")
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


BI_VIEWS = ["bi_campaign_performance", "bi_step_funnel", "bi_daily_metrics"]
# The counters and rates of every BI relation, by name: one type for each kind of figure.
COUNTER = re.compile(r"^(emails_\w+|unique_\w+|total_\w+|replies|spam_complaints|unsubscribes|bounces)$")
RATE = re.compile(r"^\w+_rate$")


def _columns(conn, relation):
    return dict(conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", (f"campaigns.{relation}",)).fetchall())


@pytest.mark.parametrize("relation", BI_VIEWS + ["campaign_analytics"])
def test_counters_are_bigint_and_rates_numeric_5_2_everywhere(conn, relation):
    columns = _columns(conn, relation)
    counters = {name: kind for name, kind in columns.items() if COUNTER.match(name)}
    rates = {name: kind for name, kind in columns.items() if RATE.match(name)}
    assert counters and set(counters.values()) == {"bigint"}, counters
    assert rates and set(rates.values()) == {"numeric(5,2)"}, rates


@pytest.mark.parametrize("view", BI_VIEWS)
def test_every_view_names_the_tenant(conn, view):
    assert {"tenant_id", "tenant_name"} <= set(_columns(conn, view))


def test_performance_lists_only_launched_campaigns(conn, two_tenants):
    _as(conn, "campaigns_readonly")
    listed = {r[0] for r in conn.execute("SELECT campaign_id FROM campaigns.bi_campaign_performance")}
    assert listed == {t["campaign"] for t in two_tenants}


def test_step_funnel_tells_drafts_apart(conn, two_tenants):
    draft = make_campaign(conn, two_tenants[0]["tenant"])
    make_step(conn, two_tenants[0]["tenant"], draft, emails_sent=0)
    _as(conn, "campaigns_readonly")
    statuses = dict(conn.execute(
        "SELECT DISTINCT campaign_id, campaign_status FROM campaigns.bi_step_funnel").fetchall())
    assert statuses[draft] == "draft"
    assert {statuses[t["campaign"]] for t in two_tenants} == {"active"}


def _doc_queries() -> list[str]:
    text = (Path(__file__).parents[2] / "docs" / "bi.md").read_text()
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def test_documented_queries_run_as_the_bi_role_and_keep_tenants_apart(conn, two_tenants):
    queries = [q for q in _doc_queries() if "campaigns." in q and "CREATE ROLE" not in q]
    league = [q for q in queries if "GROUP BY tenant_id, tenant_name, campaign_id, campaign_name" in q]
    assert len(queries) >= 4 and len(league) == 1
    for t in two_tenants:  # the league table covers the last 30 days
        insert(conn, "campaign_analytics", tenant_id=t["tenant"], campaign_id=t["campaign"],
               date=date.today(), emails_sent=3, emails_delivered=3)
    _as(conn, "campaigns_readonly")
    for query in queries:
        rows = conn.execute(query.replace("'…'", "NULL")).fetchall()
        if query in league:
            # Each tenant has a campaign named "Welcome": two rows, one per campaign, never one blend.
            assert sorted((r[2], r[3]) for r in rows if r[3] == "Welcome") == sorted(
                (t["campaign"], "Welcome") for t in two_tenants)
