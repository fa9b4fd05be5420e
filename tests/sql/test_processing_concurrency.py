"""process_due_steps under concurrency, with several real connections: overlapping runs take
disjoint rows and never queue a step twice, a pause is never overwritten, a rolled-back run leaves
nothing behind, uncommitted mail is invisible, limits hold across runs, and committed mail wakes
the outbox listener; a run stalled after its claim (held by a contact row lock) probes pause and end_date
against it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from tests.support.factories import make_enrollment, make_message, make_sender
from tests.support.processing import (
    DAY, MINUTE, action, add_steps, campaign, enrollments, launch, messages, new_campaign, process, ts, wait,
)
from tests.support.waits import wait_until_blocked

T0 = ts("2026-03-02 14:00Z")


def connect(db_url: str, autocommit: bool = False) -> psycopg.Connection:
    """A connection that fails instead of hanging the suite when a lock wait goes wrong."""
    c = psycopg.connect(db_url, autocommit=autocommit)
    c.execute("SET statement_timeout = '20s'")
    if not autocommit:
        c.commit()
    return c


def run_threads(*jobs: Callable[[], Any]) -> list[Any]:
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [f.result(timeout=60) for f in futures]


def _launched(conn, n: int, *steps, **campaign_cols):
    s = new_campaign(conn, n, **campaign_cols)
    add_steps(conn, s, *(steps or ("email",)))
    launch(conn, s.campaign_id, T0)
    return s


def _assert_one_message_each(conn, s, n: int) -> None:
    msgs = messages(conn, s.campaign_id)
    assert len(msgs) == n
    assert len({(m["enrollment_id"], m["step_id"]) for m in msgs}) == n


# -- overlapping runs (40, 135) ------------------------------------------------------------------------


@pytest.mark.commits
def test_two_open_runs_and_a_dba_call_take_disjoint_rows(conn, db_url):
    s = _launched(conn, 300)
    gate = threading.Barrier(3, timeout=30)

    def worker():
        with connect(db_url) as c:
            with c.transaction():
                gate.wait()                  # start together
                n = process(c, T0 + MINUTE, 120)
                gate.wait()                  # both hold their rows ...
                gate.wait()                  # ... while the DBA runs by hand
            return n

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(worker) for _ in range(2)]
        gate.wait()
        gate.wait()
        dba = process(conn, T0 + MINUTE)     # default batch: takes only what nobody holds
        gate.wait()
        claimed = sorted(f.result(timeout=60) for f in futures)

    assert claimed == [120, 120]
    assert dba == 60
    _assert_one_message_each(conn, s, 300)
    assert {e["status"] for e in enrollments(conn, s.campaign_id)} == {"completed"}


@pytest.mark.commits
def test_many_workers_looping_until_idle_process_each_enrollment_once(conn, db_url):
    s = _launched(conn, 300, "email", wait(1, "minutes"), "email")

    def worker():
        total = 0
        with connect(db_url, autocommit=True) as c:
            for run_at in (T0, T0 + 5 * MINUTE):
                while (n := process(c, run_at, 17)) > 0:
                    total += n
        return total

    totals = run_threads(*[worker] * 4)
    # Each enrollment is processed twice (once per email), by whichever worker got it.
    assert sum(totals) == 600
    _assert_one_message_each(conn, s, 600)
    assert {e["status"] for e in enrollments(conn, s.campaign_id)} == {"completed"}


@pytest.mark.commits
def test_a_run_holding_rows_makes_another_run_skip_them(conn, db_url):
    s = _launched(conn, 5)
    with connect(db_url) as a:
        assert process(a, T0) == 5                # not committed
        assert process(conn, T0) == 0             # skipped, not waited for
        a.commit()
    assert process(conn, T0) == 0
    _assert_one_message_each(conn, s, 5)


# -- pause against processing (45) ---------------------------------------------------------------


@pytest.mark.commits
def test_pause_waiting_on_a_processing_run_is_not_overwritten(conn, db_url):
    s = _launched(conn, 20, "email", wait(1, "days"), "email")
    with connect(db_url) as a, connect(db_url) as b:
        assert process(a, T0 + MINUTE) == 20     # holds the 20 rows, not committed
        pid_b = b.info.backend_pid

        def pause():
            n = b.execute("SELECT campaigns.pause_campaign(%s)", (s.campaign_id,)).fetchone()[0]
            b.commit()
            return n

        with ThreadPoolExecutor(1) as pool:
            paused = pool.submit(pause)
            wait_until_blocked(conn, pid_b)
            a.commit()
            assert paused.result(timeout=30) == 20

    rows = enrollments(conn, s.campaign_id)
    assert {(e["status"], e["pause_reason"]) for e in rows} == {("paused", "campaign")}
    assert {e["steps_completed"] for e in rows} == {1}   # the run's work is kept, under the pause
    assert campaign(conn, s.campaign_id)["status"] == "paused"
    assert process(conn, T0 + 2 * DAY) == 0
    assert len(messages(conn, s.campaign_id)) == 20


@pytest.mark.commits
def test_processing_while_a_pause_is_uncommitted_takes_nothing(conn, db_url):
    s = _launched(conn, 10)
    with connect(db_url) as b, connect(db_url) as a:
        b.execute("SELECT campaigns.pause_campaign(%s)", (s.campaign_id,))  # holds the rows
        assert process(a, T0 + MINUTE) == 0
        a.commit()
        b.commit()
    assert process(conn, T0 + MINUTE) == 0
    assert messages(conn, s.campaign_id) == []
    assert {e["status"] for e in enrollments(conn, s.campaign_id)} == {"paused"}


# -- crash safety (41) -----------------------------------------------------------------------------


def test_rolled_back_run_leaves_nothing_and_the_retry_queues_once(conn):
    s = _launched(conn, 1, "email", wait(1, "days"), "email")
    before = enrollments(conn, s.campaign_id)
    with conn.transaction() as tx:
        assert process(conn, T0 + MINUTE) == 1
        assert len(messages(conn, s.campaign_id)) == 1
        raise psycopg.Rollback(tx)               # the run dies before commit
    assert messages(conn, s.campaign_id) == []
    assert enrollments(conn, s.campaign_id) == before

    assert process(conn, T0 + 2 * MINUTE) == 1
    _assert_one_message_each(conn, s, 1)
    assert enrollments(conn, s.campaign_id)[0]["steps_completed"] == 1


def test_step_already_queued_is_not_queued_again(conn):
    # The state an enqueue-then-update design leaves after a crash: message there, enrollment not advanced.
    s = _launched(conn, 1, "email", wait(1, "days"), "email")
    (e,) = enrollments(conn, s.campaign_id)
    first = make_message(conn, s.tenant_id, e["id"], s.steps[0])
    process(conn, T0 + MINUTE)
    msgs = messages(conn, s.campaign_id)
    assert [m["id"] for m in msgs] == [first]
    (e,) = enrollments(conn, s.campaign_id)
    assert e["current_step_id"] == s.steps[2] and e["steps_completed"] == 1


@pytest.mark.commits
def test_uncommitted_mail_is_invisible_to_other_connections(conn, db_url):
    s = _launched(conn, 3)
    with connect(db_url) as a:
        process(a, T0)
        assert a.execute("SELECT count(*) FROM campaigns.email_messages").fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM campaigns.email_messages").fetchone()[0] == 0
        assert {e["status"] for e in enrollments(conn, s.campaign_id)} == {"enrolled"}
        a.commit()
    assert len(messages(conn, s.campaign_id)) == 3


# -- limits across concurrent runs (124, 125) --------------------------------------------------------


@pytest.mark.commits
def test_concurrent_runs_do_not_both_spend_the_daily_limit(conn, db_url):
    s = _launched(conn, 10, daily_limit=3)
    gate = threading.Barrier(2, timeout=30)

    def worker():
        with connect(db_url) as c:
            with c.transaction():
                gate.wait()
                return process(c, T0 + MINUTE, 5)

    assert run_threads(worker, worker) == [5, 5]
    assert len(messages(conn, s.campaign_id)) == 3


@pytest.mark.commits
def test_concurrent_runs_keep_a_shared_senders_gap(conn, db_url):
    a = new_campaign(conn, 3, status="active")
    b = new_campaign(conn, 3, status="active", tenant_id=a.tenant_id)
    sender = make_sender(conn, a.tenant_id, min_gap_seconds=120)
    for s in (a, b):
        conn.execute("UPDATE campaigns.campaigns SET sender_account_id = %s WHERE id = %s", (sender, s.campaign_id))
        (email1,) = add_steps(conn, s, "email")
        for c in s.contacts:
            make_enrollment(conn, s.tenant_id, s.campaign_id, c, current_step_id=email1, next_email_scheduled_at=T0)
    gate = threading.Barrier(2, timeout=30)

    def worker():
        with connect(db_url) as c:
            with c.transaction():
                gate.wait()
                return process(c, T0, 3)

    assert sum(run_threads(worker, worker)) == 6
    slots = sorted(r[0] for r in conn.execute(
        "SELECT next_attempt_at FROM campaigns.email_messages WHERE sender_account_id = %s", (sender,)))
    assert slots == [T0 + timedelta(seconds=120 * k) for k in range(6)]


# -- wake-up of the outbox worker ------------------------------------------------------------------


@pytest.mark.commits
def test_committed_mail_notifies_the_outbox_listener(conn, db_url):
    _launched(conn, 3)
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN campaigns_outbox")
        with connect(db_url) as a:
            process(a, T0)
            assert list(listener.notifies(timeout=0.5, stop_after=1)) == []  # not before commit
            a.commit()
        received = list(listener.notifies(timeout=5, stop_after=1))
    assert len(received) == 1
    assert received[0].channel == "campaigns_outbox"
    assert received[0].payload == "3"


@pytest.mark.commits
def test_a_run_that_queues_nothing_does_not_notify(conn, db_url):
    _launched(conn, 1, send_strategy="scheduled", start_date=T0 + DAY)
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN campaigns_outbox")
        assert process(conn, T0) == 0
        assert list(listener.notifies(timeout=0.5, stop_after=1)) == []



# -- a run that is slow between its claim and its sends ------------------------------------------
# A run is stalled deterministically after it has claimed its rows: the campaign's first step is an
# add_tag action, and a third connection holds the contact's row lock, so the run waits inside its
# hop loop (rows claimed, email not yet queued) for as long as the test wants.


def _stalled_run(conn, db_url, s, run_at, other: Callable[[psycopg.Connection], Any]):
    """Run process_due_steps(run_at) on connection A, stall it after its claim, run `other` on
    connection B until it blocks, then let A go. Returns (A's result, B's result); a result is the
    SQLSTATE when the call failed."""
    with connect(db_url) as c, connect(db_url) as a, connect(db_url) as b:
        c.execute("SELECT FROM campaigns.contacts WHERE id = ANY(%s) FOR UPDATE", (s.contacts,))

        def call(cx, fn):
            def job():
                try:
                    result = fn(cx)
                    cx.commit()
                    return result
                except psycopg.Error as exc:
                    cx.rollback()
                    return exc.sqlstate
            return job

        with ThreadPoolExecutor(2) as pool:
            fa = pool.submit(call(a, lambda cx: process(cx, run_at)))
            wait_until_blocked(conn, a.info.backend_pid)
            fb = pool.submit(call(b, other))
            wait_until_blocked(conn, b.info.backend_pid, done=fb)  # B may also not need to wait at all
            c.commit()
            return fa.result(timeout=30), fb.result(timeout=30)


def _action_first_campaign(conn, **cols):
    s = new_campaign(conn, 1, **cols)
    add_steps(conn, s, action("add_tag", {"tag": "seen"}), "email", wait(1, "days"), "email")
    launch(conn, s.campaign_id, T0)
    return s


@pytest.mark.commits
def test_pause_of_an_unlimited_campaign_during_a_slow_run(conn, db_url):
    s = _action_first_campaign(conn)
    pause = lambda cx: cx.execute("SELECT campaigns.pause_campaign(%s)", (s.campaign_id,)).fetchone()[0]  # noqa: E731
    assert _stalled_run(conn, db_url, s, T0 + MINUTE, pause) == (1, 1)
    (e,) = enrollments(conn, s.campaign_id)
    assert (e["status"], e["pause_reason"], e["steps_completed"]) == ("paused", "campaign", 1)
    assert len(messages(conn, s.campaign_id)) == 1


@pytest.mark.commits
def test_pause_of_a_daily_limited_campaign_during_a_slow_run(conn, db_url):
    s = _action_first_campaign(conn, daily_limit=10)
    pause = lambda cx: cx.execute("SELECT campaigns.pause_campaign(%s)", (s.campaign_id,)).fetchone()[0]  # noqa: E731
    assert _stalled_run(conn, db_url, s, T0 + MINUTE, pause) == (1, 1)
    (e,) = enrollments(conn, s.campaign_id)
    assert (e["status"], e["pause_reason"], e["steps_completed"]) == ("paused", "campaign", 1)
    assert len(messages(conn, s.campaign_id)) == 1


@pytest.mark.commits
def test_end_date_reached_during_a_slow_run_cancels_the_runs_mail(conn, db_url):
    s = _action_first_campaign(conn, end_date=T0 + timedelta(hours=1))
    end = lambda cx: process(cx, T0 + timedelta(hours=2))  # noqa: E731
    assert _stalled_run(conn, db_url, s, T0 + MINUTE, end) == (1, 0)
    (e,) = enrollments(conn, s.campaign_id)
    assert (e["status"], e["exit_reason"]) == ("exited", "campaign_ended")
    assert campaign(conn, s.campaign_id)["status"] == "completed"
    assert [m["status"] for m in messages(conn, s.campaign_id)] == ["cancelled"]
