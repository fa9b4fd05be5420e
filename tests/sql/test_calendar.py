"""Calendar rules: recurring schedules (123), blackout dates (120), send-time preview (121), per-contact caps (127)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from tests.support.factories import insert, make_campaign, make_contact, make_segment, make_step, make_tenant

UTC = timezone.utc


def _sql_error(conn, sql, args=()) -> str:
    with pytest.raises(psycopg.Error) as e:
        conn.execute(sql, args)
    return e.value.sqlstate


def next_occurrences(conn, rec: dict, after: datetime, n: int) -> list[datetime]:
    out = []
    for _ in range(n):
        after = conn.execute("SELECT campaigns.next_occurrence(%s, %s)", (json.dumps(rec), after)).fetchone()[0]
        if after is None:
            break
        out.append(after)
    return out


def test_weekly_mon_wed_fri_sends_on_each_of_those_days(conn):
    rec = {"frequency": "weekly", "days_of_week": [1, 3, 5], "time": "09:00", "timezone": "America/New_York",
           "start_date": "2026-03-02"}
    got = next_occurrences(conn, rec, datetime(2026, 3, 2, 0, 0, tzinfo=UTC), 6)
    # Local 09:00 kept across the DST change of 2026-03-08 (EST = UTC-5, then EDT = UTC-4).
    assert got == [datetime(2026, 3, 2, 14, tzinfo=UTC), datetime(2026, 3, 4, 14, tzinfo=UTC), datetime(2026, 3, 6, 14, tzinfo=UTC),
                   datetime(2026, 3, 9, 13, tzinfo=UTC), datetime(2026, 3, 11, 13, tzinfo=UTC), datetime(2026, 3, 13, 13, tzinfo=UTC)]


def test_monthly_31st_clamps_to_the_last_day(conn):
    rec = {"frequency": "monthly", "day_of_month": 31, "time": "08:30", "start_date": "2026-01-01"}
    got = next_occurrences(conn, rec, datetime(2026, 1, 1, tzinfo=UTC), 4)
    assert [d.date().isoformat() for d in got] == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]


def test_interval_and_end_date(conn):
    rec = {"frequency": "daily", "interval": 3, "start_date": "2026-03-01", "end_date": "2026-03-08"}
    got = next_occurrences(conn, rec, datetime(2026, 3, 1, tzinfo=UTC), 10)
    assert [d.day for d in got] == [1, 4, 7]


@pytest.mark.parametrize("rec", [
    {"frequency": "hourly"}, {"frequency": "weekly"}, {"frequency": "weekly", "days_of_week": [0]},
    {"frequency": "monthly", "day_of_month": 32}, {"frequency": "daily", "time": "25:00"},
    {"frequency": "daily", "timezone": "Mars/Base"}, {"frequency": "daily", "interval": "x"},
])
def test_invalid_recurrence_refused(conn, rec):
    t = make_tenant(conn)["tenant_id"]
    campaign = make_campaign(conn, t)
    assert _sql_error(conn, "SELECT campaigns.schedule_recurring_campaign(%s, %s)", (campaign, json.dumps(rec))) == "QC422"
    assert conn.execute("SELECT status, recurrence FROM campaigns.campaigns WHERE id = %s", (campaign,)).fetchone() == ("draft", None)


def test_recurring_campaign_launches_a_clone_per_occurrence(conn):
    t = make_tenant(conn)["tenant_id"]
    contacts = [make_contact(conn, t) for _ in range(3)]
    parent = make_campaign(conn, t, name="Weekly digest", segment_id=make_segment(conn, t, contacts))
    make_step(conn, t, parent)
    rec = {"frequency": "weekly", "days_of_week": [1, 3], "time": "09:00", "occurrences": 3}
    first = conn.execute("SELECT campaigns.schedule_recurring_campaign(%s, %s, %s)",
                         (parent, json.dumps(rec), datetime(2026, 3, 2, 10, tzinfo=UTC))).fetchone()[0]
    assert first == datetime(2026, 3, 4, 9, tzinfo=UTC)          # Monday 09:00 had passed: Wednesday
    for day in (4, 9, 11):
        assert conn.execute("SELECT campaigns.launch_scheduled_campaigns(%s)",
                            (datetime(2026, 3, day, 9, 1, tzinfo=UTC),)).fetchone()[0] == 1
    children = conn.execute(
        "SELECT name, status, total_contacts FROM campaigns.campaigns WHERE parent_campaign_id = %s ORDER BY name",
        (parent,)).fetchall()
    assert children == [("Weekly digest — 2026-03-04 09:00", "active", 3), ("Weekly digest — 2026-03-09 09:00", "active", 3),
                        ("Weekly digest — 2026-03-11 09:00", "active", 3)]
    assert conn.execute("SELECT status, occurrence_count, scheduled_at FROM campaigns.campaigns WHERE id = %s",
                        (parent,)).fetchone() == ("completed", 3, None)
    # The template itself never enrolls anyone.
    assert conn.execute("SELECT count(*) FROM campaigns.campaign_contacts WHERE campaign_id = %s", (parent,)).fetchone()[0] == 0


def test_a_failed_occurrence_is_recorded_and_the_series_goes_on(conn):
    t = make_tenant(conn)["tenant_id"]
    parent = make_campaign(conn, t, segment_id=make_segment(conn, t, []))   # nobody to enroll: QC102
    make_step(conn, t, parent)
    conn.execute("SELECT campaigns.schedule_recurring_campaign(%s, %s, %s)",
                 (parent, json.dumps({"frequency": "daily"}), datetime(2026, 3, 2, 10, tzinfo=UTC)))
    assert conn.execute("SELECT campaigns.launch_scheduled_campaigns(%s)", (datetime(2026, 3, 3, 9, tzinfo=UTC),)).fetchone()[0] == 0
    status, error, scheduled = conn.execute(
        "SELECT status, schedule_error, scheduled_at FROM campaigns.campaigns WHERE id = %s", (parent,)).fetchone()
    assert (status, error[:5], scheduled) == ("scheduled", "QC102", datetime(2026, 3, 4, 9, tzinfo=UTC))
    assert conn.execute("SELECT count(*) FROM campaigns.campaigns WHERE parent_campaign_id = %s", (parent,)).fetchone()[0] == 0


def test_blackout_delay_moves_the_send_to_the_next_open_day_at_window_start(conn):
    t = make_tenant(conn)["tenant_id"]
    contact = make_contact(conn, t, timezone="Europe/London")
    campaign = make_campaign(conn, t, segment_id=make_segment(conn, t, [contact]),
                             sending_window_start="10:00", sending_window_end="17:00")
    make_step(conn, t, campaign)
    insert(conn, "blackout_dates", tenant_id=t, name="Holiday", starts_on="2026-03-03", ends_on="2026-03-04", action="delay")
    conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (campaign, datetime(2026, 3, 3, 11, tzinfo=UTC)))
    conn.execute("SELECT campaigns.process_due_steps(%s)", (datetime(2026, 3, 3, 11, tzinfo=UTC),))
    assert conn.execute("SELECT count(*) FROM campaigns.email_messages").fetchone()[0] == 0
    due = conn.execute("SELECT next_email_scheduled_at FROM campaigns.campaign_contacts").fetchone()[0]
    assert due == datetime(2026, 3, 5, 10, tzinfo=UTC)              # Thursday 10:00 London (GMT)
    conn.execute("SELECT campaigns.process_due_steps(%s)", (due,))
    assert conn.execute("SELECT count(*) FROM campaigns.email_messages").fetchone()[0] == 1


def test_blackout_skip_skips_that_email_and_allow_overrides(conn):
    t = make_tenant(conn)["tenant_id"]
    contacts = [make_contact(conn, t) for _ in range(2)]
    skipped = make_campaign(conn, t, segment_id=make_segment(conn, t, contacts[:1]))
    allowed = make_campaign(conn, t, segment_id=make_segment(conn, t, contacts[1:]))
    for campaign in (skipped, allowed):
        second = make_step(conn, t, campaign, subject_line="second", step_order=2)
        make_step(conn, t, campaign, subject_line="first", step_order=1, next_step_id=second)
    insert(conn, "blackout_dates", tenant_id=t, name="Quiet day", starts_on="2026-03-03", ends_on="2026-03-03", action="skip")
    insert(conn, "blackout_dates", tenant_id=t, name="Launch day", starts_on="2026-03-03", ends_on="2026-03-03",
           action="allow", campaign_ids=[allowed])
    at = datetime(2026, 3, 3, 12, tzinfo=UTC)
    for campaign in (skipped, allowed):
        conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (campaign, at))
    conn.execute("SELECT campaigns.process_due_steps(%s)", (at,))
    sent = dict(conn.execute("SELECT m.campaign_id, s.subject_line FROM campaigns.email_messages m "
                             "JOIN campaigns.campaign_steps s ON s.id = m.step_id").fetchall())
    assert sent == {allowed: "first"}
    # The skipped enrollment stands on its second email, which goes out on the next open day.
    conn.execute("SELECT campaigns.process_due_steps(%s)", (datetime(2026, 3, 4, 9, tzinfo=UTC),))
    subjects = [r[0] for r in conn.execute("SELECT s.subject_line FROM campaigns.email_messages m JOIN campaigns.campaign_steps s "
                                           "ON s.id = m.step_id WHERE m.campaign_id = %s", (skipped,))]
    assert subjects == ["second"]


def test_send_time_preview(conn):
    t = make_tenant(conn)["tenant_id"]
    ny = make_contact(conn, t, email="a-ny@example.com", timezone="America/New_York")
    london = make_contact(conn, t, email="b-london@example.com", timezone="Europe/London")
    campaign = make_campaign(conn, t, segment_id=make_segment(conn, t, [ny, london]), send_strategy="optimized")
    rows = conn.execute("SELECT contact_id, contact_timezone, send_time, send_time_local "
                        "FROM campaigns.preview_send_times(%s, 10, %s)", (campaign, datetime(2026, 3, 10, 3, tzinfo=UTC))).fetchall()
    assert rows == [
        (ny, "America/New_York", datetime(2026, 3, 10, 13, tzinfo=UTC), "2026-03-10 09:00:00 EDT"),
        (london, "Europe/London", datetime(2026, 3, 10, 9, tzinfo=UTC), "2026-03-10 09:00:00 GMT"),
    ]
    # The session's own timezone is left as it was.
    assert conn.execute("SHOW timezone").fetchone()[0] == conn.execute("SELECT current_setting('timezone')").fetchone()[0]
    assert _sql_error(conn, "SELECT * FROM campaigns.preview_send_times(%s, 0)", (campaign,)) == "QC422"


def test_per_contact_daily_cap_and_gap_across_campaigns(conn):
    t = make_tenant(conn)["tenant_id"]
    conn.execute("UPDATE campaigns.tenants SET max_emails_per_contact_per_day = 2, min_hours_between_emails = 4 WHERE id = %s", (t,))
    contact = make_contact(conn, t)
    campaigns_ = []
    for _ in range(3):
        c = make_campaign(conn, t, segment_id=make_segment(conn, t, [contact]))
        make_step(conn, t, c)
        campaigns_.append(c)
    at = datetime(2026, 3, 3, 8, tzinfo=UTC)
    for c in campaigns_:
        conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (c, at))
    conn.execute("SELECT campaigns.process_due_steps(%s)", (at,))
    assert conn.execute("SELECT count(*) FROM campaigns.email_messages").fetchone()[0] == 1
    dues = sorted(r[0] for r in conn.execute(
        "SELECT next_email_scheduled_at FROM campaigns.campaign_contacts WHERE status = 'active' AND steps_completed = 0"))
    # The second after the 4-hour gap; the third would be a third email within 24 hours: it waits
    # until the first one ages out.
    assert dues == [at + timedelta(hours=4), at + timedelta(hours=24)]
    conn.execute("SELECT campaigns.process_due_steps(%s)", (at + timedelta(hours=4),))
    assert conn.execute("SELECT count(*) FROM campaigns.email_messages").fetchone()[0] == 2
    conn.execute("SELECT campaigns.process_due_steps(%s)", (at + timedelta(hours=23),))
    assert conn.execute("SELECT count(*) FROM campaigns.email_messages").fetchone()[0] == 2
    conn.execute("SELECT campaigns.process_due_steps(%s)", (at + timedelta(hours=24),))
    assert conn.execute("SELECT count(*) FROM campaigns.email_messages").fetchone()[0] == 3


def test_caps_are_opt_in(conn):
    t = make_tenant(conn)["tenant_id"]
    contact = make_contact(conn, t)
    at = datetime(2026, 3, 3, 8, tzinfo=UTC)
    for _ in range(3):
        c = make_campaign(conn, t, segment_id=make_segment(conn, t, [contact]))
        make_step(conn, t, c)
        conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (c, at))
    conn.execute("SELECT campaigns.process_due_steps(%s)", (at,))
    assert conn.execute("SELECT count(*) FROM campaigns.email_messages").fetchone()[0] == 3
