"""campaigns.rollup_analytics and campaigns._rate: one campaign_analytics row per campaign and UTC day,
built from sends and tracked events (52-54, 140), idempotent, singleton, readable by BI; and the step
counters, which count tracked events, never queued mail (55)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.support.factories import (
    make_campaign, make_contact, make_enrollment, make_message, make_segment, make_step, make_tenant,
)

DAY = date(2026, 3, 2)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
ROLLUP_LOCK = "SELECT pg_advisory_xact_lock(hashtext('campaigns.rollup_analytics'))"
COUNTS = ("emails_sent", "emails_delivered", "emails_bounced", "unique_opens", "total_opens", "unique_clicks",
          "total_clicks", "replies", "spam_complaints", "unsubscribes")
RATES = ("delivery_rate", "open_rate", "click_rate", "click_to_open_rate", "reply_rate", "unsubscribe_rate",
         "bounce_rate", "complaint_rate")


# -- helpers ------------------------------------------------------------------------------------


def campaign(conn, tenant_id: UUID, **cols: Any) -> tuple[UUID, UUID]:
    """A launched campaign with one email step: (campaign_id, step_id). on_reply continue keeps replies simple."""
    cols.setdefault("status", "active")
    cols.setdefault("launched_at", T0 - timedelta(days=10))
    cols.setdefault("on_reply", "continue")
    campaign_id = make_campaign(conn, tenant_id, **cols)
    return campaign_id, make_step(conn, tenant_id, campaign_id)


def sent(conn, tenant_id: UUID, campaign_id: UUID, step_id: UUID, at: datetime = T0) -> UUID:
    """A message to a new contact, sent at `at`."""
    enr = make_enrollment(conn, tenant_id, campaign_id, make_contact(conn, tenant_id), status="active",
                          started_at=at, next_email_scheduled_at=at + timedelta(days=30))
    return make_message(conn, tenant_id, enr, step_id, status="sent", sent_at=at, queued_at=at)


def event(conn, message_id: UUID, event_type: str, at: datetime, **details: Any) -> None:
    conn.execute("SELECT campaigns.record_email_event(%s, %s, %s, %s)", (message_id, event_type, at, Jsonb(details)))


def rollup(conn, day: date = DAY, days_back: int = 0) -> int:
    return conn.execute("SELECT campaigns.rollup_analytics(%s, %s)", (day, days_back)).fetchone()[0]


def analytics(conn, campaign_id: UUID) -> dict[date, dict[str, Any]]:
    cur = conn.execute("SELECT * FROM campaigns.campaign_analytics WHERE campaign_id = %s ORDER BY date", (campaign_id,))
    names = [d.name for d in cur.description]
    return {r["date"]: r for r in (dict(zip(names, row)) for row in cur.fetchall())}


def counts(row: dict[str, Any]) -> dict[str, int]:
    return {k: row[k] for k in COUNTS}


def zero_counts(**nonzero: int) -> dict[str, int]:
    return {k: nonzero.get(k, 0) for k in COUNTS}


def rates(row: dict[str, Any]) -> dict[str, Decimal]:
    return {k: row[k] for k in RATES}


@pytest.fixture
def tenant(conn) -> UUID:
    return make_tenant(conn)["tenant_id"]


def small_dataset(conn, tenant_id: UUID, campaign_id: UUID, step_id: UUID, day_start: datetime = T0) -> None:
    """Five messages sent on one day: four delivered, one hard-bounced; opens, clicks, a reply, an unsubscribe."""
    at = lambda minutes: day_start + timedelta(minutes=minutes)  # noqa: E731
    m1, m2, m3, m4, m5 = (sent(conn, tenant_id, campaign_id, step_id, at(0)) for _ in range(5))
    for m in (m1, m2, m3, m5):
        event(conn, m, "delivered", at(1))
    event(conn, m1, "open", at(10))
    event(conn, m1, "open", at(20))
    event(conn, m1, "click", at(21))
    event(conn, m2, "open", at(30))
    event(conn, m2, "unsubscribe", at(31))
    event(conn, m3, "click", at(40))   # a click without an open counts as an open
    event(conn, m3, "click", at(41))
    event(conn, m3, "reply", at(50))
    event(conn, m4, "bounce_hard", at(2))


SMALL_COUNTS = zero_counts(emails_sent=5, emails_delivered=4, emails_bounced=1, unique_opens=3, total_opens=3,
                           unique_clicks=2, total_clicks=3, replies=1, unsubscribes=1)
# delivery 4/5, open 3/4, click 2/4, click-to-open 2/3, reply 1/4, unsubscribe 1/4, bounce 1/5.
SMALL_RATES = {"delivery_rate": Decimal("80.00"), "open_rate": Decimal("75.00"), "click_rate": Decimal("50.00"),
               "click_to_open_rate": Decimal("66.67"), "reply_rate": Decimal("25.00"),
               "unsubscribe_rate": Decimal("25.00"), "bounce_rate": Decimal("20.00"), "complaint_rate": Decimal("0.00")}


# -- rates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("part", "whole", "expected"), [
    (4900, 5000, "98.00"),   # delivery
    (1470, 4900, "30.00"),   # open
    (245, 4900, "5.00"),     # click
    (245, 1470, "16.67"),    # click-to-open
    (1, 3, "33.33"),
    (2, 3, "66.67"),
    (1, 8, "12.50"),
    (1, 200000, "0.00"),
    (3, 3, "100.00"),
    (0, 0, "0"),             # zero denominators give 0, never an error
    (7, 0, "0"),
    (7, None, "0"),
])
def test_rate_formula(conn, part, whole, expected):
    value = conn.execute("SELECT campaigns._rate(%s, %s)", (part, whole)).fetchone()[0]
    assert value == Decimal(expected)


def test_rollup_counts_and_rates_of_a_real_day(conn, tenant):
    c, step = campaign(conn, tenant)
    small_dataset(conn, tenant, c, step)
    assert rollup(conn) == 1
    rows = analytics(conn, c)
    assert list(rows) == [DAY]
    assert counts(rows[DAY]) == SMALL_COUNTS
    assert rates(rows[DAY]) == SMALL_RATES
    assert rows[DAY]["tenant_id"] == tenant


def test_rates_with_a_third(conn, tenant):
    # sent 3, delivered 3, one opener who also clicked: 33.33 % open and click, CTOR 100.
    c, step = campaign(conn, tenant)
    messages = [sent(conn, tenant, c, step) for _ in range(3)]
    for m in messages:
        event(conn, m, "delivered", T0 + timedelta(minutes=1))
    event(conn, messages[0], "open", T0 + timedelta(minutes=5))
    event(conn, messages[0], "click", T0 + timedelta(minutes=6))
    rollup(conn)
    row = analytics(conn, c)[DAY]
    assert (row["delivery_rate"], row["open_rate"], row["click_rate"], row["click_to_open_rate"]) == (
        Decimal("100.00"), Decimal("33.33"), Decimal("33.33"), Decimal("100.00"))


def test_one_row_per_campaign_and_day_and_none_without_activity(conn, tenant):
    c1, s1 = campaign(conn, tenant)
    c2, s2 = campaign(conn, tenant)
    quiet, _ = campaign(conn, tenant)
    small_dataset(conn, tenant, c1, s1)
    m = sent(conn, tenant, c2, s2, T0 + timedelta(hours=3))
    event(conn, m, "delivered", T0 + timedelta(hours=3, minutes=1))
    assert rollup(conn) == 2
    assert counts(analytics(conn, c1)[DAY]) == SMALL_COUNTS
    assert counts(analytics(conn, c2)[DAY]) == zero_counts(emails_sent=1, emails_delivered=1)
    assert analytics(conn, quiet) == {}
    assert conn.execute("SELECT count(*) FROM campaigns.campaign_analytics").fetchone()[0] == 2


def test_rerun_changes_nothing_and_a_new_event_updates_the_same_row(conn, tenant):
    c, step = campaign(conn, tenant)
    small_dataset(conn, tenant, c, step)
    assert rollup(conn) == 1
    first = analytics(conn, c)[DAY]
    assert rollup(conn) == 0
    assert analytics(conn, c)[DAY] == first  # same id, same calculated_at, same counts

    # A later event of that day (recorded afterwards) updates the same row.
    extra = sent(conn, tenant, c, step, T0 + timedelta(hours=5))
    event(conn, extra, "delivered", T0 + timedelta(hours=5, minutes=1))
    assert rollup(conn) == 1
    again = analytics(conn, c)[DAY]
    assert again["id"] == first["id"]
    assert (again["emails_sent"], again["emails_delivered"]) == (6, 5)
    assert again["calculated_at"] >= first["calculated_at"]
    assert conn.execute("SELECT count(*) FROM campaigns.campaign_analytics").fetchone()[0] == 1


def test_paused_campaign_events_are_counted(conn, tenant):
    c, step = campaign(conn, tenant)
    m = sent(conn, tenant, c, step)
    conn.execute("SELECT campaigns.pause_campaign(%s)", (c,))
    event(conn, m, "delivered", T0 + timedelta(minutes=1))
    event(conn, m, "open", T0 + timedelta(hours=2))
    assert rollup(conn) == 1
    assert counts(analytics(conn, c)[DAY]) == zero_counts(emails_sent=1, emails_delivered=1, unique_opens=1, total_opens=1)


def test_late_open_counts_on_the_day_it_happened(conn, tenant):
    c, step = campaign(conn, tenant)
    three_days_ago = T0 - timedelta(days=3)
    m = sent(conn, tenant, c, step, three_days_ago)
    event(conn, m, "delivered", three_days_ago + timedelta(minutes=1))
    rollup(conn, DAY - timedelta(days=3))
    before = analytics(conn, c)[DAY - timedelta(days=3)]
    assert counts(before) == zero_counts(emails_sent=1, emails_delivered=1)

    event(conn, m, "open", T0 + timedelta(hours=1))
    assert rollup(conn, DAY, 7) == 1
    rows = analytics(conn, c)
    assert set(rows) == {DAY - timedelta(days=3), DAY}
    assert rows[DAY - timedelta(days=3)] == before
    assert counts(rows[DAY]) == zero_counts(unique_opens=1, total_opens=1)
    # Nothing sent or delivered that day: those rates have a zero denominator and are 0.
    assert rates(rows[DAY]) == dict.fromkeys(RATES, Decimal("0.00"))


def test_days_back_reaches_exactly_that_far(conn, tenant):
    c, step = campaign(conn, tenant)
    for back in (7, 8):
        sent(conn, tenant, c, step, T0 - timedelta(days=back))
    rollup(conn, DAY, 7)
    assert set(analytics(conn, c)) == {DAY - timedelta(days=7)}


def test_null_day_means_yesterday_in_utc(conn, tenant):
    # The cron job calls rollup_analytics(NULL, 7). Inside one transaction now() is fixed, so "yesterday"
    # is exact; the session zone is far from UTC to show it is not used.
    c, step = campaign(conn, tenant)
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL TIME ZONE 'Pacific/Kiritimati'")
        yesterday, noon = conn.execute(
            "SELECT (now() AT TIME ZONE 'UTC')::date - 1, "
            "((now() AT TIME ZONE 'UTC')::date - 1 + time '12:00') AT TIME ZONE 'UTC'").fetchone()
        sent(conn, tenant, c, step, noon)
        sent(conn, tenant, c, step, noon + timedelta(days=1))  # today: not yet
        assert conn.execute("SELECT campaigns.rollup_analytics(NULL, 7)").fetchone()[0] == 1
        assert {d: r["emails_sent"] for d, r in analytics(conn, c).items()} == {yesterday: 1}


@pytest.mark.parametrize("days_back", [-1, 367, None])
def test_days_back_out_of_range_is_qc422(conn, days_back):
    with pytest.raises(psycopg.Error) as exc:
        conn.execute("SELECT campaigns.rollup_analytics(%s, %s)", (DAY, days_back))
    assert exc.value.sqlstate == "QC422"


def test_days_back_366_is_accepted(conn):
    assert rollup(conn, DAY, 366) == 0


@pytest.mark.parametrize("session_zone", ["UTC", "Pacific/Auckland", "America/Los_Angeles"])
def test_day_boundary_is_utc_midnight(conn, tenant, session_zone):
    conn.execute(f"SET TIME ZONE '{session_zone}'")
    c, step = campaign(conn, tenant)
    late, early = sent(conn, tenant, c, step), sent(conn, tenant, c, step)
    event(conn, late, "open", datetime(2026, 3, 2, 23, 59, 59, tzinfo=timezone.utc))
    event(conn, early, "open", datetime(2026, 3, 3, 0, 0, 0, tzinfo=timezone.utc))
    assert rollup(conn, DAY + timedelta(days=1), 1) == 2
    rows = analytics(conn, c)
    assert counts(rows[DAY]) == zero_counts(emails_sent=2, unique_opens=1, total_opens=1)
    assert counts(rows[DAY + timedelta(days=1)]) == zero_counts(unique_opens=1, total_opens=1)


@pytest.mark.commits
def test_a_running_rollup_makes_another_return_zero_at_once(conn, db_url, tenant):
    c, step = campaign(conn, tenant)
    sent(conn, tenant, c, step)
    with psycopg.connect(db_url) as holder:
        holder.execute(ROLLUP_LOCK)  # transaction left open, holding the lock
        conn.execute("SET statement_timeout = '3s'")
        assert rollup(conn) == 0
        assert analytics(conn, c) == {}
        holder.rollback()
    assert rollup(conn) == 1
    assert counts(analytics(conn, c)[DAY]) == zero_counts(emails_sent=1)


def test_readonly_role_reads_every_tenants_rows(conn, tenant):
    other = make_tenant(conn, "Other")["tenant_id"]
    for t in (tenant, other):
        c, step = campaign(conn, t)
        sent(conn, t, c, step)
    assert rollup(conn) == 2
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL ROLE campaigns_readonly")
        seen = conn.execute("SELECT tenant_id, emails_sent FROM campaigns.campaign_analytics ORDER BY tenant_id").fetchall()
    assert sorted(seen) == sorted([(tenant, 1), (other, 1)])


def test_readonly_role_cannot_read_the_messages(conn):
    with pytest.raises(psycopg.Error) as exc, conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL ROLE campaigns_readonly")
        conn.execute("SELECT count(*) FROM campaigns.email_messages")
    assert exc.value.sqlstate == "42501"


@pytest.mark.parametrize(("event_type", "column"), [
    ("delivered", "emails_delivered"), ("reply", "replies"), ("unsubscribe", "unsubscribes"),
    ("complaint", "spam_complaints")])
def test_a_repeated_event_on_a_later_day_counts_the_message_once(conn, tenant, event_type, column):
    c, step = campaign(conn, tenant)
    m = sent(conn, tenant, c, step)
    event(conn, m, event_type, T0 + timedelta(minutes=1))
    event(conn, m, event_type, T0 + timedelta(days=1))  # a provider retry (or a second reply) without an event id
    rollup(conn, DAY + timedelta(days=1), 1)
    rows = analytics(conn, c)
    assert rows[DAY][column] == 1
    assert sum(r[column] for r in rows.values()) == 1


# -- step counters (55) ---------------------------------------------------------------------------


def step_counters(conn, step_id: UUID) -> tuple:
    return conn.execute("SELECT emails_sent, emails_delivered, opens, clicks, replies, unsubscribes, bounces "
                        "FROM campaigns.campaign_steps WHERE id = %s", (step_id,)).fetchone()


def test_queued_mail_leaves_step_counters_at_zero(conn, tenant):
    contacts = [make_contact(conn, tenant) for _ in range(3)]
    c = make_campaign(conn, tenant, segment_id=make_segment(conn, tenant, contacts))
    step = make_step(conn, tenant, c)
    conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (c, T0))
    conn.execute("SELECT campaigns.process_due_steps(%s)", (T0 + timedelta(minutes=1),))
    assert conn.execute("SELECT count(*) FROM campaigns.email_messages WHERE campaign_id = %s AND status = 'queued'",
                        (c,)).fetchone()[0] == 3
    assert step_counters(conn, step) == (0, 0, 0, 0, 0, 0, 0)


def test_step_counters_follow_the_events(conn, tenant):
    c, step = campaign(conn, tenant)
    small_dataset(conn, tenant, c, step)
    _, delivered, opens, clicks, replies, unsubscribes, bounces = step_counters(conn, step)
    assert (delivered, opens, clicks, replies, unsubscribes, bounces) == (4, 3, 2, 1, 1, 1)
