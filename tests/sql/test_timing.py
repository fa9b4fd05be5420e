"""When process_due_steps sends: waits measured from the due time (no drift, no double count), units
and DST, trailing waits, sending windows (next_window_open), campaign daily limits and sender caps
and gaps."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from tests.support.factories import make_enrollment, make_sender
from tests.support.processing import (
    DAY, MINUTE, add_steps, enrollment, enrollments, launch, messages, new_campaign, process, sent_steps, ts, wait,
)

T0 = ts("2026-03-02 14:00Z")  # a Monday
WEEKDAYS = [1, 2, 3, 4, 5]
NY = "America/New_York"


def next_window_open(conn, at: datetime, tz: str, days, start, end) -> datetime:
    return conn.execute("SELECT campaigns.next_window_open(%s, %s, %s::smallint[], %s, %s)",
                        (at, tz, days, start, end)).fetchone()[0]


# -- waits ---------------------------------------------------------------------------------------


def _five_step_sequence(conn):
    s = new_campaign(conn, 1)
    steps = add_steps(conn, s, "email", wait(2, "days"), "email", wait(3, "days"), "email")
    launch(conn, s.campaign_id, T0)
    return s, steps[0], steps[2], steps[4]


def test_sequence_sends_at_t0_plus_2d_plus_5d_despite_cron_lag(conn):
    s, e1, e2, e3 = _five_step_sequence(conn)
    contact = s.contacts[0]

    process(conn, T0 + 4 * MINUTE)
    assert enrollment(conn, s.campaign_id, contact)["next_email_scheduled_at"] == T0 + 2 * DAY
    # Every 5-minute run before the due time does nothing.
    for run in [T0 + 9 * MINUTE, T0 + DAY, T0 + 2 * DAY - MINUTE]:
        assert process(conn, run) == 0

    process(conn, T0 + 2 * DAY + 3 * MINUTE)
    assert enrollment(conn, s.campaign_id, contact)["next_email_scheduled_at"] == T0 + 5 * DAY
    assert process(conn, T0 + 5 * DAY - MINUTE) == 0

    process(conn, T0 + 5 * DAY + 2 * MINUTE)
    sent = {m["step_id"]: m["queued_at"] for m in messages(conn, s.campaign_id)}
    assert sent == {e1: T0 + 4 * MINUTE, e2: T0 + 2 * DAY + 3 * MINUTE, e3: T0 + 5 * DAY + 2 * MINUTE}
    for step, due in [(e1, T0), (e2, T0 + 2 * DAY), (e3, T0 + 5 * DAY)]:
        assert due <= sent[step] < due + 5 * MINUTE  # each within one processing interval
    assert enrollment(conn, s.campaign_id, contact)["status"] == "completed"


def test_an_email_queued_late_puts_the_next_one_a_full_wait_after_it(conn):
    s, e1, e2, e3 = _five_step_sequence(conn)
    contact = s.contacts[0]
    process(conn, T0)
    process(conn, T0 + 3 * DAY)  # a whole day late for the second email (an outage)
    e = enrollment(conn, s.campaign_id, contact)
    assert e["next_email_scheduled_at"] == T0 + 6 * DAY  # 3 days after it went, not T0 + 5d
    assert sent_steps(conn, s.campaign_id, contact) == [e1, e2]
    assert process(conn, T0 + 6 * DAY - MINUTE) == 0

    process(conn, T0 + 6 * DAY + MINUTE)
    assert sent_steps(conn, s.campaign_id, contact) == [e1, e2, e3]
    q = {m["step_id"]: m["queued_at"] for m in messages(conn, s.campaign_id)}
    assert q[e3] - q[e2] >= 3 * DAY


def test_after_an_outage_longer_than_a_wait_the_emails_do_not_bunch(conn):
    s, e1, e2, e3 = _five_step_sequence(conn)  # waits of 2 and 3 days
    contact = s.contacts[0]
    process(conn, T0)
    back = T0 + 9 * DAY  # processing was down past both nominal due times (T0 + 2d, T0 + 5d)
    process(conn, back)
    assert sent_steps(conn, s.campaign_id, contact) == [e1, e2]
    for run in (back + 5 * MINUTE, back + 10 * MINUTE, back + 3 * DAY - MINUTE):
        assert process(conn, run) == 0
    process(conn, back + 3 * DAY)
    q = {m["step_id"]: m["queued_at"] for m in messages(conn, s.campaign_id)}
    assert q == {e1: T0, e2: back, e3: back + 3 * DAY}


@pytest.mark.parametrize(("lag", "next_due"), [
    (5 * MINUTE, T0 + 2 * DAY),                                          # on time: from the due time
    (5 * MINUTE + timedelta(seconds=1), T0 + 2 * DAY + 5 * MINUTE + timedelta(seconds=1)),  # late: from the queue time
])
def test_processing_lag_up_to_five_minutes_keeps_the_schedule(conn, lag, next_due):
    s, e1, e2, e3 = _five_step_sequence(conn)
    process(conn, T0 + lag)
    assert enrollment(conn, s.campaign_id, s.contacts[0])["next_email_scheduled_at"] == next_due


def test_after_a_six_day_pause_the_next_emails_keep_their_waits(conn):
    s = new_campaign(conn, 1)
    e1, _, e2, _, e3 = add_steps(conn, s, "email", wait(2, "days"), "email", wait(2, "days"), "email")
    launch(conn, s.campaign_id, T0)
    process(conn, T0)
    conn.execute("SELECT campaigns.pause_campaign(%s)", (s.campaign_id,))
    assert process(conn, T0 + 3 * DAY) == 0
    resumed = T0 + 7 * DAY
    conn.execute("SELECT campaigns.resume_campaign(%s, %s)", (s.campaign_id, resumed))

    process(conn, resumed)  # the second email was due during the pause: it goes now
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [e1, e2]
    # The third follows two days after the second went, not at the next run.
    assert enrollment(conn, s.campaign_id, s.contacts[0])["next_email_scheduled_at"] == resumed + 2 * DAY
    for run in (resumed + 5 * MINUTE, resumed + DAY, resumed + 2 * DAY - MINUTE):
        assert process(conn, run) == 0
    process(conn, resumed + 2 * DAY)
    q = {m["step_id"]: m["queued_at"] for m in messages(conn, s.campaign_id)}
    assert q == {e1: T0, e2: resumed, e3: resumed + 2 * DAY}
    assert enrollment(conn, s.campaign_id, s.contacts[0])["status"] == "completed"


def test_a_deferral_by_the_window_is_not_lateness(conn):
    """An email the sending window moved is on time at its new due time: the next wait counts from it."""
    s = _window_campaign(conn)
    e1, _, e2 = add_steps(conn, s, "email", wait(2, "days"), "email")
    saturday_15 = ts("2026-03-07 20:00Z")
    launch(conn, s.campaign_id, saturday_15)
    monday_9 = ts("2026-03-09 13:00Z")  # 09:00 EDT
    assert enrollment(conn, s.campaign_id, s.contacts[0])["next_email_scheduled_at"] == monday_9
    process(conn, monday_9 + 4 * MINUTE)
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [e1]
    assert enrollment(conn, s.campaign_id, s.contacts[0])["next_email_scheduled_at"] == monday_9 + 2 * DAY


def test_wait_between_two_emails_is_counted_once(conn):
    s = new_campaign(conn, 1)
    e1, _, e2 = add_steps(conn, s, "email", wait(2, "days"), "email")
    launch(conn, s.campaign_id, T0)
    for run in [T0 + i * 5 * MINUTE for i in range(0, 12)] + [T0 + 2 * DAY + MINUTE]:
        process(conn, run)
    q = {m["step_id"]: m["queued_at"] for m in messages(conn, s.campaign_id)}
    assert q[e2] - q[e1] == 2 * DAY + MINUTE  # two days (plus the run offset), not four


@pytest.mark.parametrize(("value", "unit", "delta"), [
    (90, "minutes", timedelta(minutes=90)),
    (5, "hours", timedelta(hours=5)),
    (3, "days", timedelta(days=3)),
    (2, "weeks", timedelta(days=14)),
])
def test_wait_units(conn, value, unit, delta):
    s = new_campaign(conn, 1)
    add_steps(conn, s, "email", wait(value, unit), "email")
    launch(conn, s.campaign_id, T0)
    process(conn, T0 + MINUTE)
    assert enrollment(conn, s.campaign_id, s.contacts[0])["next_email_scheduled_at"] == T0 + delta
    assert process(conn, T0 + delta - timedelta(seconds=1)) == 0
    process(conn, T0 + delta)
    assert len(messages(conn, s.campaign_id)) == 2


@pytest.mark.parametrize(("value", "unit", "expected"), [
    # 2026-03-06 09:00 EST (14:00Z); the US clocks go forward on 2026-03-08.
    (3, "days", "2026-03-09 13:00Z"),   # 09:00 EDT
    (1, "weeks", "2026-03-13 13:00Z"),  # 09:00 EDT
    (72, "hours", "2026-03-09 14:00Z"),  # elapsed time: 10:00 EDT
])
def test_calendar_waits_keep_local_time_across_us_dst(conn, value, unit, expected):
    s = new_campaign(conn, [{"timezone": NY}])
    add_steps(conn, s, "email", wait(value, unit), "email")
    launch(conn, s.campaign_id, ts("2026-03-06 14:00Z"))
    process(conn, ts("2026-03-06 14:04Z"))
    assert enrollment(conn, s.campaign_id, s.contacts[0])["next_email_scheduled_at"] == ts(expected)


def test_days_wait_uses_the_campaign_timezone_when_the_contact_has_none(conn):
    # 2026-03-27 09:00 CET = 08:00Z; the EU change is on 2026-03-29; 09:00 CEST = 07:00Z.
    s = new_campaign(conn, 1, timezone="Europe/Paris")
    add_steps(conn, s, "email", wait(3, "days"), "email")
    launch(conn, s.campaign_id, ts("2026-03-27 08:00Z"))
    process(conn, ts("2026-03-27 08:02Z"))
    assert enrollment(conn, s.campaign_id, s.contacts[0])["next_email_scheduled_at"] == ts("2026-03-30 07:00Z")


def test_trailing_wait_completes_only_when_it_has_elapsed(conn):
    s = new_campaign(conn, 1)
    add_steps(conn, s, "email", wait(2, "days"))
    launch(conn, s.campaign_id, T0)
    process(conn, T0 + MINUTE)
    e = enrollment(conn, s.campaign_id, s.contacts[0])
    assert e["status"] == "active" and e["completed_at"] is None
    assert e["next_email_scheduled_at"] == T0 + 2 * DAY

    assert process(conn, T0 + 2 * DAY - MINUTE) == 0
    assert enrollment(conn, s.campaign_id, s.contacts[0])["status"] == "active"

    process(conn, T0 + 2 * DAY + 4 * MINUTE)
    e = enrollment(conn, s.campaign_id, s.contacts[0])
    assert e["status"] == "completed"
    assert e["completed_at"] == T0 + 2 * DAY
    assert e["next_email_scheduled_at"] is None and e["current_step_id"] is None
    assert len(messages(conn, s.campaign_id)) == 1


# -- sending window (117-119) ----------------------------------------------------------------------


@pytest.mark.parametrize(("at", "expected"), [
    ("2026-03-07 20:00Z", "2026-03-09 13:00Z"),  # Sat 15:00 EST -> Mon 09:00 EDT (across DST)
    ("2026-03-10 22:30Z", "2026-03-11 13:00Z"),  # Tue 18:30 EDT -> Wed 09:00 EDT
    ("2026-03-10 11:00Z", "2026-03-10 13:00Z"),  # Tue 07:00 EDT -> Tue 09:00 EDT
    ("2026-03-10 14:00Z", "2026-03-10 14:00Z"),  # Tue 10:00 EDT: inside, unchanged
    ("2026-03-10 13:00Z", "2026-03-10 13:00Z"),  # Tue 09:00 EDT: the start is inside
    ("2026-03-10 21:00Z", "2026-03-11 13:00Z"),  # Tue 17:00 EDT: the end is outside
    ("2026-03-13 21:30Z", "2026-03-16 13:00Z"),  # Fri 17:30 EDT -> Mon 09:00 EDT
])
def test_next_window_open_weekdays_nine_to_five(conn, at, expected):
    assert next_window_open(conn, ts(at), NY, WEEKDAYS, time(9), time(17)) == ts(expected)


def test_next_window_open_without_a_window_is_the_instant_itself(conn):
    assert next_window_open(conn, ts("2026-03-07 20:00Z"), NY, None, None, None) == ts("2026-03-07 20:00Z")


def test_next_window_open_sunday_is_day_7(conn):
    # Sat 15:00 EST with only Sundays allowed -> Sun 09:00 EST... the clocks change at 02:00, so EDT.
    assert next_window_open(conn, ts("2026-03-07 20:00Z"), NY, [7], time(9), time(17)) == ts("2026-03-08 13:00Z")


def test_next_window_open_days_without_hours(conn):
    # Tuesday with only Saturdays allowed -> Saturday at local midnight.
    assert next_window_open(conn, ts("2026-03-10 14:00Z"), "UTC", [6], None, None) == ts("2026-03-14 00:00Z")


def _window_campaign(conn, **cols):
    cols = {"sending_days": WEEKDAYS, "sending_window_start": time(9), "sending_window_end": time(17), **cols}
    return new_campaign(conn, [{"timezone": NY}], **cols)


def test_email_due_saturday_is_deferred_to_monday_morning(conn):
    s = _window_campaign(conn)
    e1, _, e2 = add_steps(conn, s, "email", wait(2, "days"), "email")
    thursday_15 = ts("2026-03-05 20:00Z")  # Thu 15:00 EST, inside the window
    launch(conn, s.campaign_id, thursday_15)
    process(conn, thursday_15 + 2 * MINUTE)
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [e1]

    saturday_15 = ts("2026-03-07 20:00Z")
    assert enrollment(conn, s.campaign_id, s.contacts[0])["next_email_scheduled_at"] == saturday_15
    process(conn, saturday_15 + 4 * MINUTE)
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [e1]  # nothing on Saturday
    monday_9 = ts("2026-03-09 13:00Z")  # 09:00 EDT
    assert enrollment(conn, s.campaign_id, s.contacts[0])["next_email_scheduled_at"] == monday_9
    assert process(conn, ts("2026-03-08 15:00Z")) == 0  # nor on Sunday

    process(conn, monday_9 + 3 * MINUTE)
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [e1, e2]
    assert messages(conn, s.campaign_id, step_id=e2)[0]["queued_at"] == monday_9 + 3 * MINUTE


@pytest.mark.parametrize(("launch_at", "wait_hours", "due", "opens"), [
    ("2026-03-10 20:30Z", 2, "2026-03-10 22:30Z", "2026-03-11 13:00Z"),  # Tue 18:30 EDT -> Wed 09:00
    ("2026-03-09 13:00Z", 22, "2026-03-10 11:00Z", "2026-03-10 13:00Z"),  # Tue 07:00 EDT -> Tue 09:00
])
def test_email_due_outside_the_hours_waits_for_the_window(conn, launch_at, wait_hours, due, opens):
    s = _window_campaign(conn)
    e1, _, e2 = add_steps(conn, s, "email", wait(wait_hours, "hours"), "email")
    launch(conn, s.campaign_id, ts(launch_at))
    process(conn, ts(launch_at))
    assert enrollment(conn, s.campaign_id, s.contacts[0])["next_email_scheduled_at"] == ts(due)

    process(conn, ts(due) + MINUTE)
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [e1]
    assert enrollment(conn, s.campaign_id, s.contacts[0])["next_email_scheduled_at"] == ts(opens)
    process(conn, ts(opens) + MINUTE)
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [e1, e2]


def test_window_missed_send_anyway_sends_at_once(conn):
    s = _window_campaign(conn, window_missed_action="send_anyway")
    e1, _, e2 = add_steps(conn, s, "email", wait(2, "days"), "email")
    launch(conn, s.campaign_id, ts("2026-03-05 20:00Z"))
    process(conn, ts("2026-03-05 20:00Z"))
    process(conn, ts("2026-03-07 20:04Z"))  # Saturday
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [e1, e2]
    assert messages(conn, s.campaign_id, step_id=e2)[0]["queued_at"] == ts("2026-03-07 20:04Z")


def test_window_is_judged_in_the_recipients_timezone(conn):
    # Tue 16:30 in New York is 21:30 in Paris: the Paris contact waits, the New York one does not.
    s = new_campaign(conn, [{"timezone": NY}, {"timezone": "Europe/Paris"}], status="active",
                     sending_days=WEEKDAYS, sending_window_start=time(9), sending_window_end=time(17))
    (e1,) = add_steps(conn, s, "email")
    for c in s.contacts:
        make_enrollment(conn, s.tenant_id, s.campaign_id, c, current_step_id=e1,
                        next_email_scheduled_at=ts("2026-03-10 20:00Z"))
    process(conn, ts("2026-03-10 20:30Z"))
    assert [m["contact_id"] for m in messages(conn, s.campaign_id)] == [s.contacts[0]]
    # Wed 09:00 CET = 08:00Z
    assert enrollment(conn, s.campaign_id, s.contacts[1])["next_email_scheduled_at"] == ts("2026-03-11 08:00Z")


# -- campaign daily limit (124) --------------------------------------------------------------------


def test_daily_limit_defers_the_excess_to_the_next_local_midnight(conn):
    s = new_campaign(conn, 5, daily_limit=3, timezone=NY)
    add_steps(conn, s, "email")
    t = ts("2026-03-03 15:00Z")  # Tue 10:00 EST
    launch(conn, s.campaign_id, t)
    assert process(conn, t + MINUTE) == 5
    assert len(messages(conn, s.campaign_id)) == 3
    midnight = ts("2026-03-04 05:00Z")  # Wed 00:00 EST
    waiting = [e for e in enrollments(conn, s.campaign_id) if e["steps_completed"] == 0]
    assert len(waiting) == 2
    assert {e["next_email_scheduled_at"] for e in waiting} == {midnight}
    assert {e["status"] for e in waiting} == {"active"}

    assert process(conn, midnight - MINUTE) == 0
    process(conn, midnight + 2 * MINUTE)
    assert len(messages(conn, s.campaign_id)) == 5
    assert {e["status"] for e in enrollments(conn, s.campaign_id)} == {"completed"}


def test_daily_limit_counts_mail_already_queued_today(conn):
    s = new_campaign(conn, 5, daily_limit=3, timezone=NY)
    add_steps(conn, s, "email")
    t = ts("2026-03-03 15:00Z")
    launch(conn, s.campaign_id, t)
    process(conn, t, 2)
    process(conn, t + 5 * MINUTE, 2)
    process(conn, t + 10 * MINUTE)
    assert len(messages(conn, s.campaign_id)) == 3


def test_daily_limit_serves_due_follow_ups_before_first_steps(conn):
    s = new_campaign(conn, 5, daily_limit=3, status="active")
    e1, e2 = add_steps(conn, s, "email", "email")
    first, follow = s.contacts[:3], s.contacts[3:]
    for i, c in enumerate(first):  # due earlier than the follow-ups, on purpose
        make_enrollment(conn, s.tenant_id, s.campaign_id, c, current_step_id=e1,
                        next_email_scheduled_at=T0 - timedelta(hours=3 - i))
    for c in follow:
        make_enrollment(conn, s.tenant_id, s.campaign_id, c, status="active", current_step_id=e2,
                        steps_completed=1, next_email_scheduled_at=T0 - MINUTE)
    process(conn, T0)
    sent = {(m["contact_id"], m["step_id"]) for m in messages(conn, s.campaign_id)}
    assert sent == {(follow[0], e2), (follow[1], e2), (first[0], e1)}


# -- sender account cap and gap (125) --------------------------------------------------------------


def test_sender_daily_cap_defers_to_the_next_utc_midnight(conn):
    s = new_campaign(conn, 4)
    sender = make_sender(conn, s.tenant_id, daily_limit=2)
    conn.execute("UPDATE campaigns.campaigns SET sender_account_id = %s WHERE id = %s", (sender, s.campaign_id))
    add_steps(conn, s, "email")
    t = ts("2026-03-03 15:00Z")
    launch(conn, s.campaign_id, t)
    process(conn, t)
    assert len(messages(conn, s.campaign_id)) == 2
    waiting = [e for e in enrollments(conn, s.campaign_id) if e["steps_completed"] == 0]
    assert {e["next_email_scheduled_at"] for e in waiting} == {ts("2026-03-04 00:00Z")}
    assert process(conn, t + 3 * timedelta(hours=1)) == 0

    process(conn, ts("2026-03-04 00:03Z"))
    assert len(messages(conn, s.campaign_id)) == 4
    assert {m["sender_account_id"] for m in messages(conn, s.campaign_id)} == {sender}


def test_sender_daily_cap_is_shared_by_the_senders_campaigns(conn):
    a = new_campaign(conn, 2)
    b = new_campaign(conn, 2, tenant_id=a.tenant_id)
    sender = make_sender(conn, a.tenant_id, daily_limit=3)
    for s in (a, b):
        conn.execute("UPDATE campaigns.campaigns SET sender_account_id = %s WHERE id = %s", (sender, s.campaign_id))
        add_steps(conn, s, "email")
        launch(conn, s.campaign_id, T0)
    process(conn, T0)
    n = conn.execute("SELECT count(*) FROM campaigns.email_messages WHERE sender_account_id = %s",
                     (sender,)).fetchone()[0]
    assert n == 3


def test_sender_min_gap_spaces_the_slots_and_continues_from_last_slot(conn):
    s = new_campaign(conn, 5, status="active")
    sender = make_sender(conn, s.tenant_id, min_gap_seconds=120)
    conn.execute("UPDATE campaigns.campaigns SET sender_account_id = %s WHERE id = %s", (sender, s.campaign_id))
    (e1,) = add_steps(conn, s, "email")
    for i, c in enumerate(s.contacts):
        due = T0 if i < 3 else T0 + 30 * timedelta(seconds=1)
        make_enrollment(conn, s.tenant_id, s.campaign_id, c, current_step_id=e1, next_email_scheduled_at=due)
    gap = timedelta(seconds=120)

    process(conn, T0)
    slots = sorted(m["next_attempt_at"] for m in messages(conn, s.campaign_id))
    assert slots == [T0, T0 + gap, T0 + 2 * gap]
    last = conn.execute("SELECT last_slot_at FROM campaigns.sender_accounts WHERE id = %s", (sender,)).fetchone()[0]
    assert last == T0 + 2 * gap

    process(conn, T0 + MINUTE)
    slots = sorted(m["next_attempt_at"] for m in messages(conn, s.campaign_id))
    assert slots == [T0 + k * gap for k in range(5)]
    last = conn.execute("SELECT last_slot_at FROM campaigns.sender_accounts WHERE id = %s", (sender,)).fetchone()[0]
    assert last == T0 + 4 * gap


def test_sender_slots_beyond_an_hour_are_deferred_not_queued(conn):
    s = new_campaign(conn, 40)
    sender = make_sender(conn, s.tenant_id, min_gap_seconds=120)
    conn.execute("UPDATE campaigns.campaigns SET sender_account_id = %s WHERE id = %s", (sender, s.campaign_id))
    add_steps(conn, s, "email")
    launch(conn, s.campaign_id, T0)
    process(conn, T0)
    msgs = messages(conn, s.campaign_id)
    assert len(msgs) == 31  # slots T0 .. T0+60min
    assert max(m["next_attempt_at"] for m in msgs) == T0 + timedelta(hours=1)
    waiting = sorted(e["next_email_scheduled_at"] for e in enrollments(conn, s.campaign_id)
                     if e["steps_completed"] == 0)
    assert waiting == [T0 + timedelta(seconds=120 * k) for k in range(31, 40)]
