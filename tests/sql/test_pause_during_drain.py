"""A pause takes effect at once, also in the middle of a large drain: pause_campaign waits for the
batch that is running and no longer, and once it has returned no new message of the campaign is
queued (the next batches skip a campaign being paused instead of claiming around the pause)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import psycopg
import pytest

from tests.support.factories import insert, make_campaign, make_step, make_tenant
from tests.support.processing import ts
from tests.support.waits import wait_until, wait_until_blocked

T0 = ts("2026-03-02 14:00Z")
CONTACTS = 40_000
BATCH = 2_000


def _launched(conn, n: int, at=T0):
    """A campaign of one email step, launched at `at` to n contacts (set-based, so the setup stays short)."""
    t = make_tenant(conn)["tenant_id"]
    conn.execute("INSERT INTO campaigns.contacts (tenant_id, email) "
                 "SELECT %s, 'drain' || i || '@example.com' FROM generate_series(1, %s) i", (t, n))
    segment = insert(conn, "segments", tenant_id=t, name="all")
    conn.execute("INSERT INTO campaigns.segment_contacts (tenant_id, segment_id, contact_id) "
                 "SELECT tenant_id, %s, id FROM campaigns.contacts WHERE tenant_id = %s", (segment, t))
    campaign = make_campaign(conn, t, segment_id=segment)
    make_step(conn, t, campaign)
    assert conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (campaign, at)).fetchone()[0] == n
    return campaign


def _queued(conn, campaign) -> int:
    return conn.execute("SELECT count(*) FROM campaigns.email_messages WHERE campaign_id = %s",
                        (campaign,)).fetchone()[0]


@pytest.mark.commits
def test_a_pause_during_a_drain_returns_within_a_batch_and_stops_the_campaign(conn, db_url):
    campaign = _launched(conn, CONTACTS)
    drained: list[int] = []

    def drain():
        with psycopg.connect(db_url, autocommit=True) as c:
            drained.append(c.execute("CALL campaigns.drain_due_steps(NULL, %s, 120, %s)",
                                     (BATCH, T0 + timedelta(minutes=1))).fetchone()[0])

    runner = threading.Thread(target=drain)
    runner.start()
    try:
        # Two committed batches: the drain is under way, and they give the pace of one batch.
        wait_until(lambda: _queued(conn, campaign) >= BATCH, interval=0.005)
        first = time.monotonic()
        wait_until(lambda: _queued(conn, campaign) >= 3 * BATCH, interval=0.005)
        batch_seconds = (time.monotonic() - first) / 2

        with psycopg.connect(db_url, autocommit=True) as pauser:
            before = _queued(conn, campaign)
            started = time.monotonic()
            paused = pauser.execute("SELECT campaigns.pause_campaign(%s)", (campaign,)).fetchone()[0]
            elapsed = time.monotonic() - started
        at_return = _queued(conn, campaign)
    finally:
        runner.join(120)
    assert not runner.is_alive()

    # The pause waited for the batch running when it came (and at most one more that started before
    # its lock request); before, each next batch claimed around it (33,000 more messages in ~4 s).
    assert at_return - before <= 2 * BATCH
    assert elapsed < 5 * batch_seconds + 1.0, (elapsed, batch_seconds)
    # Once it returned, nothing more of the campaign was queued, though the drain went on.
    assert _queued(conn, campaign) == at_return
    assert paused == CONTACTS - at_return > CONTACTS // 2
    statuses = dict(conn.execute("SELECT status, count(*) FROM campaigns.campaign_contacts WHERE campaign_id = %s "
                                 "GROUP BY status", (campaign,)).fetchall())
    assert statuses == {"completed": at_return, "paused": paused}

    # Resume hands the rest back to processing, each exactly once.
    conn.execute("SELECT campaigns.resume_campaign(%s)", (campaign,))
    conn.execute("CALL campaigns.drain_due_steps(NULL, %s, 120, %s)", (BATCH * 10, T0 + timedelta(minutes=2)))
    assert _queued(conn, campaign) == CONTACTS
    assert conn.execute("SELECT count(DISTINCT enrollment_id) FROM campaigns.email_messages WHERE campaign_id = %s",
                        (campaign,)).fetchone()[0] == CONTACTS


@pytest.mark.commits
def test_processing_skips_a_campaign_whose_pause_waits_and_takes_the_others(conn, db_url):
    """While a pause waits for a batch holding its campaign, another run leaves that campaign alone
    (before, it claimed the enrollments the pause had not reached yet) and processes the others."""
    paused_one = _launched(conn, 30, T0 - timedelta(minutes=1))   # due first: the first batch takes it
    other = _launched(conn, 20)
    key = "SELECT campaigns._processing_lock_key(%s)"
    while conn.execute(key, (other,)).fetchone()[0] == conn.execute(key, (paused_one,)).fetchone()[0]:
        other = _launched(conn, 20)   # one of 256 slots: another campaign on the same slot waits too
    run = "SELECT campaigns.process_due_steps(%s, %s)"
    with psycopg.connect(db_url) as a, psycopg.connect(db_url) as b, psycopg.connect(db_url) as c:
        assert a.execute(run, (T0, 10)).fetchone()[0] == 10           # holds 10 of the first campaign
        result: list[int] = []
        pauser = threading.Thread(target=lambda: result.append(
            b.execute("SELECT campaigns.pause_campaign(%s)", (paused_one,)).fetchone()[0]))
        pauser.start()
        wait_until_blocked(conn, b.info.backend_pid)
        assert c.execute(run, (T0, 1000)).fetchone()[0] == 20         # the other campaign only
        c.commit()
        assert pauser.is_alive()                                      # waiting for A's batch, not C's
        a.commit()
        pauser.join(30)
        b.commit()
    assert result == [20]
    assert (_queued(conn, paused_one), _queued(conn, other)) == (10, 20)
