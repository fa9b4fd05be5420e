"""campaigns.drain_due_steps, what the pg_cron job calls: process_due_steps batch after batch, each
batch committed, until nothing is due or the time budget is spent."""

from __future__ import annotations

import threading

import psycopg
import pytest

from tests.support.processing import MINUTE, add_steps, enrollments, launch, messages, new_campaign, ts

T0 = ts("2026-03-02 14:00Z")
DRAIN = "CALL campaigns.drain_due_steps(NULL, %s, %s, %s)"


def drain(conn, batch, as_of=T0 + MINUTE, max_seconds=60.0) -> int:
    return conn.execute(DRAIN, (batch, max_seconds, as_of)).fetchone()[0]


def launched(conn, n, *steps):
    s = new_campaign(conn, n)
    add_steps(conn, s, *(steps or ("email",)))
    launch(conn, s.campaign_id, T0)
    return s


@pytest.mark.commits
def test_drains_every_due_enrollment_in_committed_batches(conn, db_url):
    s = launched(conn, 12)
    assert drain(conn, 5) == 12
    msgs = messages(conn, s.campaign_id)
    assert len(msgs) == 12 and len({m["enrollment_id"] for m in msgs}) == 12
    # Each batch was its own committed transaction: the queued rows carry one xmin per batch.
    with psycopg.connect(db_url) as other:
        xmins = other.execute("SELECT count(DISTINCT xmin::text) FROM campaigns.email_messages WHERE campaign_id = %s",
                              (s.campaign_id,)).fetchone()[0]
    assert xmins == 3  # 5 + 5 + 2
    assert {e["status"] for e in enrollments(conn, s.campaign_id)} == {"completed"}
    assert drain(conn, 5) == 0  # nothing left


@pytest.mark.commits  # the procedure commits between batches
def test_stops_at_a_short_batch_and_leaves_what_is_not_due(conn):
    s = launched(conn, 4, "email", {"step_type": "wait", "wait_duration_value": 1, "wait_duration_unit": "hours"}, "email")
    assert drain(conn, 3) == 4
    assert len(messages(conn, s.campaign_id)) == 4  # the follow-ups are an hour away
    assert drain(conn, 3, as_of=T0 + 61 * MINUTE) == 4
    assert len(messages(conn, s.campaign_id)) == 8


@pytest.mark.commits  # the procedure commits between batches
def test_time_budget_ends_the_drain_after_the_running_batch(conn):
    s = launched(conn, 10)
    assert drain(conn, 4, max_seconds=0.000001) == 4
    assert len(messages(conn, s.campaign_id)) == 4
    assert drain(conn, 4) == 6


@pytest.mark.commits
def test_concurrent_drains_and_a_dba_queue_each_step_once(conn, db_url):
    s = launched(conn, 300)
    results: list[int] = []

    def run():
        with psycopg.connect(db_url, autocommit=True) as c:
            results.append(drain(c, 7))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    by_hand = conn.execute("SELECT campaigns.process_due_steps(%s, 11)", (T0 + MINUTE,)).fetchone()[0]
    for t in threads:
        t.join(60)
    assert sum(results) + by_hand + drain(conn, 50) == 300
    msgs = messages(conn, s.campaign_id)
    assert len(msgs) == 300 and len({(m["enrollment_id"], m["step_id"]) for m in msgs}) == 300


@pytest.mark.parametrize("batch, seconds", [(0, 10.0), (None, 10.0), (5, 0.0), (5, None)])
def test_bad_arguments_are_qc422(conn, batch, seconds):
    with pytest.raises(psycopg.Error) as e:
        drain(conn, batch, max_seconds=seconds)
    assert e.value.sqlstate == "QC422"


@pytest.mark.commits  # the procedure commits between batches
def test_a_callers_search_path_cannot_redirect_it(conn):
    """It has no SET search_path (it commits), so every name in it is qualified: a decoy
    process_due_steps earlier on the caller's path is never called."""
    s = launched(conn, 3)
    conn.execute("CREATE SCHEMA decoy")
    conn.execute("CREATE FUNCTION decoy.process_due_steps(timestamptz, integer) RETURNS integer "
                 "LANGUAGE sql AS 'SELECT 1000000'")
    conn.execute("SET search_path = decoy, public")
    assert drain(conn, 2) == 3
    assert len(messages(conn, s.campaign_id)) == 3


def test_inside_a_transaction_block_it_cannot_commit(conn):
    launched(conn, 2)
    with pytest.raises(psycopg.Error) as e, conn.transaction():
        drain(conn, 1)
    assert e.value.sqlstate == "2D000"  # invalid transaction termination: call it on its own
