"""A/B tests under concurrency, with real connections: pg_cron runs evaluate_ab_tests and step processing
at the same minutes, so a decision can overlap a batch that routes contacts into the tested step, and two
processing runs can make the first pass over the step together. Whatever the overlap, no contact stays
held back after the winner is deployed, and two runs never deadlock."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import time, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.support.ab import build, held, per_variant
from tests.support.processing import ts
from tests.support.waits import wait_until_blocked

T0 = ts("2026-03-02 14:00Z")          # Mon 15:00 in Paris (inside 09:00-17:00), 23:00 in Tokyo
WAVE_2 = ts("2026-03-03 00:00Z")      # Tue 09:00 in Tokyo: the second wave reaches the step
N = 400
PROCESS = "SELECT campaigns.process_due_steps(%s)"
EVALUATE = "SELECT campaigns.evaluate_ab_tests(%s)"


def connect(db_url: str, autocommit: bool = False) -> psycopg.Connection:
    """A connection that fails instead of hanging the suite when a lock wait goes wrong."""
    c = psycopg.connect(db_url, autocommit=autocommit)
    c.execute("SET statement_timeout = '20s'")
    if not autocommit:
        c.commit()
    return c


def _two_waves(db_url: str) -> dict:
    """A campaign whose A/B-tested first email is reached in two waves: the sending window lets the Paris
    half through at launch (the test starts and holds back the unsampled), the Tokyo half ten hours
    later, when the test's 4 hours are long over and its decision is due."""
    with connect(db_url, autocommit=True) as setup:
        w = build(setup, N, 20, [{"is_control": True}, {}], duration_hours=4,
                  timezones=("Europe/Paris", "Asia/Tokyo"),
                  campaign_cols={"sending_window_start": time(9), "sending_window_end": time(17)})
        setup.execute("SELECT campaigns.launch_campaign(%s, %s)", (w["campaign"], T0))
        assert setup.execute(PROCESS, (T0,)).fetchone()[0] == N // 2
        assert setup.execute("SELECT status FROM campaigns.ab_tests WHERE id = %s", (w["test"],)).fetchone()[0] == "running"
        assert held(setup, w) > 0
    return w


def _stranded(conn, w) -> int:
    """Contacts still held back at the step although the winner is deployed: nothing would ever release them."""
    return conn.execute(
        "SELECT count(*) FROM campaigns.campaign_contacts cc JOIN campaigns.ab_tests t ON t.step_id = cc.current_step_id "
        "WHERE t.id = %s AND t.status = 'winner_deployed' AND cc.status IN ('enrolled', 'active', 'paused') "
        "AND cc.next_email_scheduled_at IS NULL", (w["test"],)).fetchone()[0]


def _everyone_gets_the_step_once(db_url: str, w: dict) -> None:
    with connect(db_url, autocommit=True) as check:
        assert _stranded(check, w) == 0
        assert check.execute("SELECT status FROM campaigns.ab_tests WHERE id = %s", (w["test"],)).fetchone()[0] \
            == "winner_deployed"
        for hours in (1, 9):                    # inside the Tokyo window, then the Paris one
            check.execute(PROCESS, (WAVE_2 + timedelta(hours=hours),))
        assert sum(per_variant(check, w).values()) == N
        assert check.execute("SELECT count(DISTINCT enrollment_id) FROM campaigns.email_messages WHERE step_id = %s",
                             (w["step"],)).fetchone()[0] == N
        statuses = {r[0] for r in check.execute(
            "SELECT status FROM campaigns.campaign_contacts WHERE campaign_id = %s", (w["campaign"],))}
        assert statuses == {"completed"}


@pytest.mark.commits
def test_evaluation_waits_for_a_batch_routing_into_the_step_and_releases_what_it_held(db_url):
    w = _two_waves(db_url)
    with connect(db_url) as batch, connect(db_url) as evaluation, connect(db_url, autocommit=True) as monitor:
        assert batch.execute(PROCESS, (WAVE_2,)).fetchone()[0] == N // 2     # routes the second wave, open
        with ThreadPoolExecutor(1) as pool:
            decided = pool.submit(lambda: (evaluation.execute(EVALUATE, (WAVE_2,)).fetchone()[0], evaluation.commit())[0])
            wait_until_blocked(monitor, evaluation.info.backend_pid, decided)
            assert not decided.done(), "the decision must wait for the batch holding the test"
            batch.commit()
            assert decided.result(timeout=30) == 1
    _everyone_gets_the_step_once(db_url, w)


@pytest.mark.commits
def test_a_batch_routing_into_the_step_waits_for_a_decision_and_sends_the_winner(db_url):
    w = _two_waves(db_url)
    with connect(db_url) as batch, connect(db_url) as evaluation, connect(db_url, autocommit=True) as monitor:
        assert evaluation.execute(EVALUATE, (WAVE_2,)).fetchone()[0] == 1    # decided, not committed
        with ThreadPoolExecutor(1) as pool:
            routed = pool.submit(lambda: (batch.execute(PROCESS, (WAVE_2,)).fetchone()[0], batch.commit())[0])
            wait_until_blocked(monitor, batch.info.backend_pid, routed)
            assert not routed.done(), "the batch must wait for the decision before routing"
            evaluation.commit()
            assert routed.result(timeout=30) == N // 2
        # The second wave saw the decision: its unsampled contacts got the winner in the same pass.
        assert held(monitor, w) == 0
    _everyone_gets_the_step_once(db_url, w)


@pytest.mark.commits
@pytest.mark.parametrize("attempt", range(5))
def test_simultaneous_evaluation_and_batch_strand_nobody(db_url, attempt):
    w = _two_waves(db_url)
    gate = threading.Barrier(2, timeout=30)

    def call(sql):
        def job():
            with connect(db_url, autocommit=True) as c:
                gate.wait()
                return c.execute(sql, (WAVE_2,)).fetchone()[0]
        return job

    with ThreadPoolExecutor(2) as pool:
        results = [f.result(timeout=60) for f in (pool.submit(call(EVALUATE)), pool.submit(call(PROCESS)))]
    # The batch may also take the first wave's contacts the decision released, if it committed first.
    assert results[0] == 1 and results[1] >= N // 2
    _everyone_gets_the_step_once(db_url, w)


def _drain(db_url: str, gate: threading.Barrier, as_of) -> str | int:
    try:
        with connect(db_url, autocommit=True) as c:
            gate.wait()
            return c.execute("CALL campaigns.drain_due_steps(NULL, 50, 60, %s)", (as_of,)).fetchone()[0]
    except psycopg.Error as e:
        return e.sqlstate


@pytest.mark.commits
def test_two_drains_over_the_first_pass_of_an_ab_step_never_deadlock(conn, db_url):
    # 20 campaigns one after the other, each with an A/B-tested first email; for each, two drains start
    # together in batches of 50, so both make the first pass over the step at once: one starts the test
    # (its sample's assignments reference enrollments the other run has claimed) while the other waits
    # for the test row.
    for attempt in range(20):
        w = build(conn, 600, 20, [{}, {}])          # 60 per variant, 480 held back
        as_of = T0 + timedelta(minutes=attempt)
        conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (w["campaign"], as_of))
        gate = threading.Barrier(2, timeout=30)
        with ThreadPoolExecutor(2) as pool:
            results = [f.result(timeout=60) for f in [pool.submit(_drain, db_url, gate, as_of) for _ in range(2)]]
        assert all(isinstance(r, int) for r in results), f"attempt {attempt}: {results}"   # 40P01 was a deadlock
        assert sum(results) == 600
        assert conn.execute("SELECT count(*) FROM campaigns.ab_test_assignments WHERE ab_test_id = %s",
                            (w["test"],)).fetchone()[0] == 120
        assert per_variant(conn, w) == {"A": 60, "B": 60}
        assert held(conn, w) == 480


@pytest.mark.commits
def test_a_run_never_waits_for_a_second_test_while_an_evaluation_decides_both(conn, db_url):
    """The evaluation locks tests in id order; a run that locked the higher one in its first hop and
    reaches the lower one in a later hop takes it only if free (else those contacts wait a pass):
    waiting there would close a cycle with the evaluation (40P01)."""
    low, high = sorted([uuid.uuid4(), uuid.uuid4()])
    # Reached in a later hop: a notify action, then an add_tag action, then the tested email.
    later = build(conn, 2, 50, [{"is_control": True}, {}], id=low, steps_before=(
        {"step_type": "action", "action_type": "notify", "action_config": Jsonb({})},
        {"step_type": "action", "action_type": "add_tag", "action_config": Jsonb({"tag": "seen"})}))
    first = build(conn, 2, 50, [{"is_control": True}, {}], id=high)       # reached in the first hop
    for w in (later, first):
        conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (w["campaign"], T0))
    # Both running (with no sample) since long enough to be decided now.
    conn.execute("UPDATE campaigns.ab_tests SET status = 'running', started_at = %s WHERE id = ANY(%s)",
                 (T0 - timedelta(hours=5), [low, high]))
    stalled = conn.execute("SELECT contact_id FROM campaigns.campaign_contacts WHERE campaign_id = %s LIMIT 1",
                           (later["campaign"],)).fetchone()[0]

    with connect(db_url) as blocker, connect(db_url) as run, connect(db_url) as evaluation, \
            connect(db_url, autocommit=True) as monitor, ThreadPoolExecutor(2) as pool:
        # The run stalls in its second hop (the add_tag waits for this contact's row), holding the
        # first test shared since its first hop.
        blocker.execute("SELECT FROM campaigns.contacts WHERE id = %s FOR UPDATE", (stalled,))
        processed = pool.submit(lambda: (run.execute(PROCESS, (T0,)).fetchone()[0], run.commit())[0])
        wait_until_blocked(monitor, run.info.backend_pid)
        # The evaluation decides the lower test, then waits for the higher one, which the run holds.
        decided = pool.submit(lambda: (evaluation.execute(EVALUATE, (T0,)).fetchone()[0], evaluation.commit())[0])
        wait_until_blocked(monitor, evaluation.info.backend_pid, decided)
        blocker.commit()
        assert processed.result(timeout=30) == 4          # not 40P01: it did not wait for the lower test
        assert decided.result(timeout=30) == 2
    for w in (later, first):
        assert _stranded(conn, w) == 0
    conn.execute(PROCESS, (T0 + timedelta(minutes=1),))
    for w in (later, first):
        assert _stranded(conn, w) == 0 and held(conn, w) == 0
        assert per_variant(conn, w) == {"A": 2, "B": 0}   # no sample: the control for everyone


MIGRATION = Path(__file__).resolve().parents[2] / "db" / "migrations" / "0036_release_stranded_ab_contacts.sql"


def test_the_migration_releases_contacts_stranded_before(conn):
    """Databases that ran the racy routing can hold stranded contacts: the migration gives them a due
    time, and the next pass sends them the winner. Held-back contacts of a running test stay held."""
    stranded, running = build(conn, 40, 50, [{"is_control": True}, {}]), build(conn, 40, 50, [{}, {}])
    for w in (stranded, running):
        conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (w["campaign"], T0))
    conn.execute(PROCESS, (T0,))
    # The state the race left: the winner deployed, the held-back contacts never released.
    conn.execute("UPDATE campaigns.ab_tests SET status = 'winner_deployed', winner_variant_id = %s, decided_at = %s, "
                 "decision = 'manual' WHERE id = %s", (stranded["variants"]["B"], T0 + timedelta(hours=4), stranded["test"]))
    assert (_stranded(conn, stranded), held(conn, running)) == (20, 20)

    conn.execute(MIGRATION.read_text())
    assert (_stranded(conn, stranded), held(conn, running)) == (0, 20)
    conn.execute(PROCESS, (ts("2030-01-01 00:00Z"),))
    assert per_variant(conn, stranded) == {"A": 10, "B": 30}
    assert per_variant(conn, running) == {"A": 10, "B": 10}
