"""The fault suite: real worker processes against a real aiosmtpd server that injects faults.

- SIGKILL at random points, 20 times, while 2,000 messages go out → every message delivered, none
  dead-lettered for the crashes (a reclaim is not an attempt); duplicates only for kills that fell
  between SMTP acceptance and recording, never more than the kills.
- A message the worker dies on every time (a poison row) → failed as worker_crashed after
  CAMPAIGNS_WORKER_MAX_RECLAIMS reclaims; the rest of the mail goes out.
- 20% of SMTP commands answered 451 and 5% dropped, some recipients 550 → every deliverable message
  delivered, the 550s bounced and suppressed, nothing expired.
- 550 → failed, bounce event, address suppressed (with a worker process).
- PostgreSQL restarted mid-run → the worker reconnects and finishes.
- 4 workers at once → no message sent twice.
- pause → nothing more sent until resume; unsubscribe → queued mail cancelled.

Each test prints its figures (run with -s to see them).
"""

from __future__ import annotations

import random
import threading
import time

import httpx
import psycopg
import pytest

from service.tracking.tokens import UNSUBSCRIBE, TokenSigner
from tests.support.outbox import SECRET, make_outbox, spawn_worker, statuses, stop_process
from tests.support.waits import db_now, wait_for_claim_cycle, wait_until

pytestmark = pytest.mark.slow


def sent_count(conn, campaign_id) -> int:
    return statuses(conn, campaign_id).get("sent", 0)


def wait_all_sent(conn, campaign_id, count, timeout=120.0):
    wait_until(lambda: sent_count(conn, campaign_id) >= count, timeout, interval=0.1,
               message=lambda: f"{statuses(conn, campaign_id)}: not {count} sent")


def wait_started(log, count, timeout=30.0):
    """Until `count` worker processes have logged their start (so SIGTERM meets the handler)."""
    wait_until(lambda: log.read_text(errors="replace").count(" starting: ") >= count, timeout, interval=0.05,
               message="the worker did not start")


def test_sigkill_20_times_while_2000_messages_go_out(conn, db_url, smtp, tmp_path):
    n, kills_wanted = 2000, 20
    # Paced (30 a second, plus a second's burst per process start) so the kills land while mail is going out; one SMTP connection per worker,
    # so a kill can strand at most one accepted-but-unrecorded message.
    box = make_outbox(conn, n, rate=30)
    settings = dict(CAMPAIGNS_WORKER_CONNECTIONS=1, CAMPAIGNS_WORKER_BATCH_SIZE=10, CAMPAIGNS_WORKER_LEASE_SECONDS=2)
    rng = random.Random(20260302)
    kills: list[float] = []
    log = tmp_path / "workers.log"
    for i in range(kills_wanted):
        proc = spawn_worker(db_url, smtp, log=log, **settings)
        # Once it runs (a loaded machine may take seconds to start Python), so the kill meets claimed mail.
        wait_started(log, i + 1)
        time.sleep(rng.uniform(0.2, 0.9))  # the fault itself: a kill at a random moment, not a wait for anything
        proc.kill()
        proc.wait(10)
        kills.append(time.monotonic())
    during = len(smtp.received)
    started_before = log.read_text(errors="replace").count(" starting: ")
    proc = spawn_worker(db_url, smtp, log=log, **settings)
    try:
        wait_all_sent(conn, box.campaign_id, n, timeout=180)
        wait_started(log, started_before + 1)
    finally:
        code = stop_process(proc)
    ids = smtp.message_ids()
    duplicates = smtp.duplicates()
    extra = sum(c - 1 for c in duplicates.values())
    reclaimed, most, attempts = conn.execute(
        "SELECT count(*) FILTER (WHERE lease_reclaims > 0), max(lease_reclaims), array_agg(DISTINCT attempts) "
        "FROM campaigns.email_messages WHERE campaign_id = %s", (box.campaign_id,)).fetchone()
    print(f"\nSIGKILL suite: {len(kills)} kills, {during} messages accepted while killing, "
          f"{len(ids)} accepted in all, {len(set(ids))} distinct, {extra} duplicates, "
          f"{reclaimed} messages reclaimed from a dead worker (at most {most} times)")
    assert code == 0
    assert set(ids) == box.smtp_ids(conn)  # every message delivered
    assert statuses(conn, box.campaign_id) == {"sent": n}  # none dead-lettered for the crashes
    assert attempts == [1]  # a reclaim is not an attempt: each message has one recorded result
    assert reclaimed > 0
    assert extra <= len(kills)
    # each duplicate: its first copy was accepted shortly before a kill (the acceptance→record window)
    first_seen: dict[str, float] = {}
    for r in smtp.received:
        first_seen.setdefault(r.message_id, r.at)
    for message_id in duplicates:
        t = first_seen[message_id]
        assert any(t <= k <= t + 2.0 for k in kills), f"{message_id} duplicated without a kill after its acceptance"
        reclaims = conn.execute("SELECT lease_reclaims FROM campaigns.email_messages WHERE smtp_message_id = %s",
                                (message_id,)).fetchone()[0]
        assert reclaims >= 1


def test_a_message_the_worker_dies_on_every_time_is_dead_lettered_as_worker_crashed(conn, db_url, smtp, tmp_path):
    # The relay stands in for whatever kills the process on this one message: each time a worker
    # reaches its RCPT, the test SIGKILLs that worker. With CAMPAIGNS_WORKER_MAX_RECLAIMS=2 the
    # message is reclaimed twice, and the claim after the third death fails it instead.
    n, max_reclaims = 20, 2
    box = make_outbox(conn, n)
    poison = conn.execute("SELECT to_email FROM campaigns.email_messages WHERE campaign_id = %s "
                          "ORDER BY next_attempt_at, id OFFSET 5 LIMIT 1", (box.campaign_id,)).fetchone()[0]
    procs: list = []
    killed: list = []
    lock = threading.Lock()

    def kill_on_poison(address: str) -> None:
        if address.lower() == poison.lower():
            with lock:
                if procs and procs[-1].poll() is None:
                    procs[-1].kill()
                    killed.append(procs[-1].pid)

    smtp.on_rcpt = kill_on_poison
    # One message in hand at a time (batch 1, one connection): the poison takes no bystander with it.
    settings = dict(CAMPAIGNS_WORKER_CONNECTIONS=1, CAMPAIGNS_WORKER_BATCH_SIZE=1, CAMPAIGNS_WORKER_LEASE_SECONDS=2,
                    CAMPAIGNS_WORKER_MAX_RECLAIMS=max_reclaims)
    done = {"sent": n - 1, "failed": 1}
    try:
        for _ in range(max_reclaims + 3):
            with lock:
                procs.append(spawn_worker(db_url, smtp, log=tmp_path / "workers.log", **settings))
            wait_until(lambda: procs[-1].poll() is not None or statuses(conn, box.campaign_id) == done,
                       timeout=60, interval=0.05, message=lambda: f"{statuses(conn, box.campaign_id)}")
            if procs[-1].poll() is None:
                break
    finally:
        with lock:
            code = stop_process(procs[-1])
    row = conn.execute("SELECT failure_kind, lease_reclaims, attempts, last_error FROM campaigns.dead_letters "
                       "WHERE campaign_id = %s", (box.campaign_id,)).fetchall()
    print(f"\npoison: {len(killed)} workers killed on it, {len(procs)} started; dead letter {row}")
    assert code == 0
    assert len(killed) == max_reclaims + 1
    assert [r[:3] for r in row] == [("worker_crashed", max_reclaims, 0)]
    assert statuses(conn, box.campaign_id) == done
    assert poison not in {r.rcpt for r in smtp.received}
    assert smtp.duplicates() == {} and len(smtp.received) == n - 1


def test_451s_and_dropped_connections_deliver_everything_and_550s_bounce(conn, db_url, smtp, tmp_path):
    n, refused = 1000, 10
    box = make_outbox(conn, n)
    victims = [e for (e,) in conn.execute("SELECT to_email FROM campaigns.email_messages WHERE campaign_id = %s "
                                          "ORDER BY id LIMIT %s", (box.campaign_id, refused))]
    for v in victims:
        smtp.rcpt_replies[v.lower()] = "550 5.1.1 User unknown"
    rng = random.Random(42)

    def fault(command: str) -> str | None:
        r = rng.random()
        return "451 4.7.1 Greylisted, try again later" if r < 0.20 else "drop" if r < 0.25 else None

    smtp.fault = fault
    proc = spawn_worker(db_url, smtp, log=tmp_path / "worker.log", CAMPAIGNS_WORKER_CONNECTIONS=4,
                        CAMPAIGNS_WORKER_BATCH_SIZE=100, CAMPAIGNS_WORKER_LEASE_SECONDS=30)
    done = {"sent": n - refused, "failed": refused}
    try:
        wait_until(lambda: statuses(conn, box.campaign_id) == done, timeout=180, interval=0.1,
                   message=lambda: f"{statuses(conn, box.campaign_id)}: not {done}")
    finally:
        assert stop_process(proc) == 0
    attempts = [a for (a,) in conn.execute("SELECT attempts FROM campaigns.email_messages WHERE campaign_id = %s",
                                           (box.campaign_id,))]
    commands = sum(smtp.commands.values())
    print(f"\nfaults: {commands} commands, {dict(smtp.faults)} injected ({sum(smtp.faults.values()) / commands:.0%}); "
          f"{n} messages in {sum(attempts)} attempts (max {max(attempts)})")
    assert set(smtp.message_ids()) == box.smtp_ids(conn) - set(
        m for (m,) in conn.execute("SELECT smtp_message_id FROM campaigns.email_messages WHERE to_email = ANY (%s)", (victims,)))
    assert smtp.duplicates() == {}
    kinds = conn.execute("SELECT failure_kind, count(*) FROM campaigns.dead_letters WHERE campaign_id = %s GROUP BY 1",
                         (box.campaign_id,)).fetchall()
    assert kinds == [("bounced", refused)]
    assert conn.execute("SELECT count(*) FROM campaigns.suppressions WHERE tenant_id = %s AND reason = 'hard_bounce' "
                        "AND lower(email) = ANY (%s)", (box.tenant_id, [v.lower() for v in victims])).fetchone()[0] == refused
    assert sum(attempts) > n * 1.5 and max(attempts) >= 4
    assert 0.2 < sum(smtp.faults.values()) / commands < 0.3


def test_550_with_a_worker_process(conn, db_url, smtp, tmp_path):
    box = make_outbox(conn, 50)
    victims = [e for (e,) in conn.execute("SELECT to_email FROM campaigns.email_messages WHERE campaign_id = %s "
                                          "ORDER BY id LIMIT 5", (box.campaign_id,))]
    for v in victims:
        smtp.rcpt_replies[v.lower()] = "550 5.1.1 User unknown"
    proc = spawn_worker(db_url, smtp, "--once", log=tmp_path / "worker.log")
    assert proc.wait(60) == 0
    assert statuses(conn, box.campaign_id) == {"sent": 45, "failed": 5}
    assert conn.execute("SELECT count(*) FROM campaigns.email_events WHERE campaign_id = %s AND event_type = 'bounce_hard'",
                        (box.campaign_id,)).fetchone()[0] == 5
    assert conn.execute("SELECT count(*) FROM campaigns.suppressions WHERE tenant_id = %s AND reason = 'hard_bounce'",
                        (box.tenant_id,)).fetchone()[0] == 5


def test_postgresql_restart_mid_run(own_cluster, smtp, tmp_path):
    n = 1000
    with psycopg.connect(own_cluster.url, autocommit=True) as conn:
        box = make_outbox(conn, n, rate=250)
    proc = spawn_worker(own_cluster.url, smtp, log=tmp_path / "worker.log", CAMPAIGNS_WORKER_LEASE_SECONDS=10,
                        CAMPAIGNS_WORKER_BATCH_SIZE=50)
    try:
        smtp.wait_for(200, timeout=60)
        before = len(smtp.received)
        own_cluster.restart()
        smtp.wait_for(n, timeout=120)
        with psycopg.connect(own_cluster.url, autocommit=True) as conn:
            wait_all_sent(conn, box.campaign_id, n, timeout=60)
            final = statuses(conn, box.campaign_id)
    finally:
        assert stop_process(proc) == 0
    log = (tmp_path / "worker.log").read_text()
    print(f"\nrestart: {before} sent before the restart, {len(smtp.received)} accepted, "
          f"{len(smtp.duplicates())} duplicates; worker log mentions {log.count('retrying') + log.count('reconnecting')} "
          "reconnect attempts")
    assert final == {"sent": n}
    assert smtp.duplicates() == {}
    assert "reconnecting" in log or "retrying" in log


def test_four_workers_never_send_twice(conn, db_url, smtp, tmp_path):
    n = 2000
    box = make_outbox(conn, n)
    procs = [spawn_worker(db_url, smtp, log=tmp_path / f"w{i}.log", CAMPAIGNS_WORKER_BATCH_SIZE=50,
                          CAMPAIGNS_WORKER_CONNECTIONS=2) for i in range(4)]
    try:
        wait_all_sent(conn, box.campaign_id, n, timeout=180)
    finally:
        codes = [stop_process(p) for p in procs]
    per_worker = dict(conn.execute("SELECT locked_by, count(*) FROM campaigns.email_messages WHERE campaign_id = %s "
                                   "GROUP BY 1", (box.campaign_id,)).fetchall())
    print(f"\n4 workers: {sorted(per_worker.values())} messages each, {len(smtp.received)} accepted, "
          f"{len(smtp.duplicates())} duplicates")
    assert codes == [0, 0, 0, 0]
    assert smtp.duplicates() == {} and len(smtp.received) == n
    assert set(smtp.message_ids()) == box.smtp_ids(conn)
    assert len(per_worker) >= 2


def test_pause_stops_a_worker_process_until_resume(conn, db_url, smtp, tmp_path):
    n = 400
    box = make_outbox(conn, n, rate=100)
    proc = spawn_worker(db_url, smtp, log=tmp_path / "worker.log", CAMPAIGNS_WORKER_BATCH_SIZE=100)
    try:
        smtp.wait_for(100, timeout=30)
        conn.execute("SELECT campaigns.pause_campaign(%s)", (box.campaign_id,))
        # Claimed mail is released (or its send, already under way, is recorded): nothing is in flight.
        wait_until(lambda: "sending" not in statuses(conn, box.campaign_id))
        at_pause = len(smtp.received)
        # A claim that started after the pause took nothing: nothing more is sent.
        wait_for_claim_cycle(conn)
        after = len(smtp.received)
        held = statuses(conn, box.campaign_id)
        conn.execute("SELECT campaigns.resume_campaign(%s)", (box.campaign_id,))
        wait_all_sent(conn, box.campaign_id, n, timeout=60)
    finally:
        assert stop_process(proc) == 0
    print(f"\npause: {at_pause} sent when paused, {after} after the next claim, held {held}")
    assert after == at_pause
    assert "sending" not in held and held["queued"] > 0
    assert smtp.duplicates() == {} and len(smtp.received) == n


def test_unsubscribe_cancels_queued_mail_with_a_worker_running(conn, db_url, smtp, app_url, tmp_path):
    n = 200
    box = make_outbox(conn, n, rate=30)
    row = conn.execute("SELECT id, tenant_id, contact_id, campaign_id, step_id, to_email FROM campaigns.email_messages "
                       "WHERE campaign_id = %s ORDER BY next_attempt_at DESC, id DESC LIMIT 1", (box.campaign_id,)).fetchone()
    conn.execute("UPDATE campaigns.email_messages SET next_attempt_at = now() + interval '3 seconds' WHERE id = %s", (row[0],))
    proc = spawn_worker(db_url, smtp, log=tmp_path / "worker.log")
    try:
        smtp.wait_for(20, timeout=30)
        token = TokenSigner(SECRET).sign(UNSUBSCRIBE, TokenSigner.ids(*row[:5]))
        r = httpx.post(f"{app_url}/unsubscribe/{token}", content="List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200
        assert conn.execute("SELECT status FROM campaigns.email_messages WHERE id = %s", (row[0],)).fetchone()[0] == "cancelled"
        wait_all_sent(conn, box.campaign_id, n - 1, timeout=60)
        # Past the moment it was due, a claim cycle of the worker still leaves it alone.
        due = conn.execute("SELECT next_attempt_at FROM campaigns.email_messages WHERE id = %s", (row[0],)).fetchone()[0]
        wait_until(lambda: db_now(conn) > due, timeout=10, interval=0.05)
        wait_for_claim_cycle(conn)
    finally:
        assert stop_process(proc) == 0
    assert row[5] not in {r.rcpt for r in smtp.received}
    assert statuses(conn, box.campaign_id) == {"sent": n - 1, "cancelled": 1}
