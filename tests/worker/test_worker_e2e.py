"""The worker end to end against a real aiosmtpd server: what is queued goes out once, results are
recorded, SMTP answers map to outcomes, holds, rate limits and wake-ups work, the process stops
gracefully, and the CLI, the in-API lifespan and the SMTP catcher do their part."""

from __future__ import annotations

import asyncio
import email
import email.policy
import random
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

from psycopg.types.json import Jsonb

from service.config import get_settings
from service.dev.smtp_catcher import SmtpCatcher, list_messages
from service.worker import Worker
from service.worker.lifespan import make_worker_lifespan
from service.worker.smtp import Relay
from service.dev.net import free_port
from tests.support.outbox import (
    ROOT, SECRET, make_outbox, run_once, spawn_worker, statuses, stop_process, worker_env, worker_in_thread,
    worker_options,
)
from tests.support.smtp import smtp_server_running
from tests.support.waits import db_now, wait_for_claim_cycle, wait_until


def test_once_sends_every_queued_message_once(conn, db_url, smtp):
    box = make_outbox(conn, 30)
    stats = run_once(db_url, smtp)
    assert stats.sent == 30
    assert sorted(smtp.message_ids()) == sorted(box.smtp_ids(conn))
    assert smtp.duplicates() == {}
    assert statuses(conn, box.campaign_id) == {"sent": 30}
    assert conn.execute("SELECT emails_sent, emails_delivered FROM campaigns.campaign_steps WHERE id = %s",
                        (box.step_id,)).fetchone() == (30, 30)
    first = smtp.received[0]
    msg = email.message_from_bytes(first.data, policy=email.policy.default)
    assert msg["Subject"].startswith("Hello Ann") and first.mail_from == "news@example.com"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # the stored subject (for reply matching) is the rendered one
    assert conn.execute("SELECT subject FROM campaigns.email_messages WHERE smtp_message_id = %s",
                        (first.message_id,)).fetchone()[0] == msg["Subject"]


def test_550_for_a_recipient_fails_bounces_and_suppresses(conn, db_url, smtp):
    box = make_outbox(conn, 5)
    victim = conn.execute("SELECT to_email FROM campaigns.email_messages WHERE campaign_id = %s LIMIT 1",
                          (box.campaign_id,)).fetchone()[0]
    smtp.rcpt_replies[victim.lower()] = "550 5.1.1 <%s>: Recipient address rejected: User unknown" % victim
    stats = run_once(db_url, smtp)
    assert (stats.sent, stats.failed) == (4, 1)
    status, error = conn.execute("SELECT status, last_error FROM campaigns.email_messages WHERE to_email = %s",
                                 (victim,)).fetchone()
    assert status == "failed" and error.startswith("550 5.1.1")
    assert conn.execute("SELECT count(*) FROM campaigns.email_events e JOIN campaigns.email_messages m ON m.id = e.message_id "
                        "WHERE m.to_email = %s AND e.event_type = 'bounce_hard'", (victim,)).fetchone()[0] == 1
    assert conn.execute("SELECT reason FROM campaigns.suppressions WHERE lower(email) = lower(%s)", (victim,)).fetchone()[0] \
        == "hard_bounce"
    assert conn.execute("SELECT status FROM campaigns.contacts WHERE lower(email) = lower(%s)", (victim,)).fetchone()[0] == "bounced"
    assert victim not in {r.rcpt for r in smtp.received}


def test_transient_failures_are_retried_until_sent(conn, db_url, smtp):
    box = make_outbox(conn, 20)
    rng = random.Random(7)
    smtp.fault = lambda command: "451 4.3.0 Try again later" if rng.random() < 0.15 else None
    with worker_in_thread(db_url, smtp) as worker:
        wait_until(lambda: statuses(conn, box.campaign_id) == {"sent": 20}, timeout=60)
    assert smtp.duplicates() == {}
    attempts = [a for (a,) in conn.execute("SELECT attempts FROM campaigns.email_messages WHERE campaign_id = %s",
                                           (box.campaign_id,))]
    # Attempts count recorded results: one per retry plus the send.
    assert max(attempts) > 1 and sum(attempts) == 20 + worker.stats.retried
    assert worker.stats.db_errors == 0


def test_retry_lifetime_expired_is_a_dead_letter(conn, db_url, smtp):
    # A relay that never accepts: retried (doubling from 0.05 s) until the lifetime of 1 s has
    # passed since the first failure, the last try at its end, then a dead letter.
    box = make_outbox(conn, 2)
    smtp.fault = lambda command: "421 4.3.2 Service shutting down" if command == "MAIL" else None
    for _ in range(40):
        run_once(db_url, smtp, retry_lifetime_seconds=1.0)
        if statuses(conn, box.campaign_id) == {"failed": 2}:
            break
        # The retry is due after its backoff: run again once it is.
        wait_until(lambda: conn.execute(
            "SELECT coalesce(bool_and(next_attempt_at <= clock_timestamp()), true) FROM campaigns.email_messages "
            "WHERE campaign_id = %s AND status = 'queued'", (box.campaign_id,)).fetchone()[0], timeout=10)
    assert statuses(conn, box.campaign_id) == {"failed": 2}
    rows = conn.execute("SELECT failure_kind, attempts, last_error, failed_at >= retry_expires_at, smtp_response "
                        "FROM campaigns.dead_letters WHERE campaign_id = %s", (box.campaign_id,)).fetchall()
    assert [(k, at_end) for k, _, _, at_end, _ in rows] == [("retry_lifetime_expired", True)] * 2
    assert all(a >= 4 for _, a, _, _, _ in rows)  # 0.05 + 0.1 + 0.2 + 0.4 s of backoff fit in the lifetime
    assert all("421" in e and r.startswith("421") for _, _, e, _, r in rows)
    assert smtp.received == []


def test_render_error_does_not_stop_the_batch(conn, db_url, smtp):
    make_outbox(conn, 3, step={"subject_line": "Hi {{ first_name", "email_content": "<p>{% if %}Body</p>"})
    assert run_once(db_url, smtp).sent == 3
    msg = email.message_from_bytes(smtp.received[0].data, policy=email.policy.default)
    assert msg["Subject"] == "Hi {{ first_name"  # not a merge tag: left as written
    assert "Body" in msg.get_body(("html",)).get_content()


def test_tenant_send_rate_is_respected(conn, db_url, smtp):
    make_outbox(conn, 25, rate=10)
    started = time.monotonic()
    assert run_once(db_url, smtp, max_connections=4).sent == 25
    # a burst of 10, then 15 more at 10 a second
    assert time.monotonic() - started >= 1.3
    times = sorted(r.at for r in smtp.received)
    assert times[-1] - times[10] >= 1.2


def test_sender_account_relay_is_used(conn, db_url, smtp, monkeypatch):
    with smtp_server_running() as other:
        box = make_outbox(conn, 3, sender={"from_email": "own@example.com", "smtp_host": other.host,
                                           "smtp_port": other.port, "smtp_security": "none"})
        plain = make_outbox(conn, 2)
        run_once(db_url, smtp)
        assert sorted(other.message_ids()) == sorted(box.smtp_ids(conn))
        assert sorted(smtp.message_ids()) == sorted(plain.smtp_ids(conn))
        assert {r.mail_from for r in other.received} == {"own@example.com"}


def test_notification_wakes_the_worker_before_the_poll(conn, db_url, smtp):
    make_outbox(conn, 1)
    with worker_in_thread(db_url, smtp, poll_seconds=60):
        smtp.wait_for(1, timeout=10)
        started = time.monotonic()
        box = make_outbox(conn, 3)  # process_due_steps notifies campaigns_outbox
        smtp.wait_for(4, timeout=20)
        assert time.monotonic() - started < 15  # the poll interval is 60 s: the NOTIFY woke it
    assert statuses(conn, box.campaign_id) == {"sent": 3}


def test_pause_holds_even_mail_already_claimed(conn, db_url, smtp):
    box = make_outbox(conn, 60, rate=20)
    with worker_in_thread(db_url, smtp, batch_size=100) as worker:
        smtp.wait_for(25, timeout=20)
        conn.execute("SELECT campaigns.pause_campaign(%s)", (box.campaign_id,))
        # Claimed mail is released (or its send, already under way, is recorded): nothing is in flight.
        wait_until(lambda: "sending" not in statuses(conn, box.campaign_id))
        at_pause = len(smtp.received)
        # A claim that started after the pause took nothing: nothing more is sent.
        wait_for_claim_cycle(conn)
        held = statuses(conn, box.campaign_id)
        assert len(smtp.received) == at_pause and "sending" not in held
        assert held.get("queued", 0) > 0 and held["sent"] == at_pause
        assert worker.stats.released > 0  # claimed mail was put back, not sent
        conn.execute("SELECT campaigns.resume_campaign(%s)", (box.campaign_id,))
        smtp.wait_for(60, timeout=30)
    assert statuses(conn, box.campaign_id) == {"sent": 60}
    assert smtp.duplicates() == {}


def test_unsubscribe_cancels_queued_mail_while_the_worker_runs(conn, db_url, smtp):
    box = make_outbox(conn, 40, rate=20)
    last_id, last_contact, last_email = conn.execute(
        "SELECT id, contact_id, to_email FROM campaigns.email_messages WHERE campaign_id = %s "
        "ORDER BY next_attempt_at DESC, id DESC LIMIT 1", (box.campaign_id,)).fetchone()
    conn.execute("UPDATE campaigns.email_messages SET next_attempt_at = now() + interval '3 seconds' WHERE id = %s",
                 (last_id,))
    with worker_in_thread(db_url, smtp, batch_size=100):
        smtp.wait_for(5, timeout=20)
        # the contact unsubscribes (what the one-click link does: record_email_event 'unsubscribe')
        conn.execute("SELECT campaigns.record_email_event(%s, 'unsubscribe', now(), %s)", (last_id, Jsonb({})))
        assert conn.execute("SELECT status FROM campaigns.email_messages WHERE id = %s", (last_id,)).fetchone()[0] == "cancelled"
        smtp.wait_for(39, timeout=30)
        # Past the moment it was due, a claim cycle of the worker still leaves it alone.
        due = conn.execute("SELECT next_attempt_at FROM campaigns.email_messages WHERE id = %s", (last_id,)).fetchone()[0]
        wait_until(lambda: db_now(conn) > due, timeout=10, interval=0.05)
        wait_for_claim_cycle(conn)
    assert last_email not in {r.rcpt for r in smtp.received}
    assert statuses(conn, box.campaign_id) == {"sent": 39, "cancelled": 1}


def test_contact_hold_releases_claimed_mail(conn, db_url, smtp):
    box = make_outbox(conn, 30, rate=5)
    # the victim's message is claimed with the others but comes last (paced at 5 a second: ~5 s)
    conn.execute("UPDATE campaigns.email_messages SET next_attempt_at = now() - interval '1 minute' WHERE campaign_id = %s",
                 (box.campaign_id,))
    victim_message, victim = conn.execute(
        "UPDATE campaigns.email_messages SET next_attempt_at = now() - interval '1 second' "
        "WHERE id = (SELECT id FROM campaigns.email_messages WHERE campaign_id = %s LIMIT 1) RETURNING id, contact_id",
        (box.campaign_id,)).fetchone()
    with worker_in_thread(db_url, smtp, batch_size=100) as worker:
        smtp.wait_for(3, timeout=20)
        assert conn.execute("SELECT status FROM campaigns.email_messages WHERE id = %s", (victim_message,)).fetchone()[0] == "sending"
        conn.execute("UPDATE campaigns.contacts SET status = 'bounced' WHERE id = %s", (victim,))
        wait_until(lambda: statuses(conn, box.campaign_id) == {"sent": 29, "cancelled": 1}, timeout=30)
    assert worker.stats.released == 1  # claimed, held, put back; the next claim cancelled it
    assert conn.execute("SELECT last_error FROM campaigns.email_messages WHERE id = %s", (victim_message,)).fetchone()[0] \
        == "cancelled at send time: bounced"


def test_in_process_lifespan_runs_the_worker(conn, db_url, smtp):
    box = make_outbox(conn, 5)

    async def main():
        lifespan = make_worker_lifespan(db_url, worker_options(smtp), enabled=True)
        async with lifespan(None):
            for _ in range(200):
                if len(smtp.received) == 5:
                    break
                await asyncio.sleep(0.05)

    asyncio.run(main())
    assert statuses(conn, box.campaign_id) == {"sent": 5}


def test_lifespan_is_off_unless_asked(conn, db_url, smtp, monkeypatch):
    box = make_outbox(conn, 2)

    def run_lifespan(flag: str | None) -> tuple[list[str], object]:
        """The worker tasks running inside the default lifespan, and the worker it put on app.state."""
        if flag is None:
            monkeypatch.delenv("CAMPAIGNS_WORKER_IN_API", raising=False)
        else:
            monkeypatch.setenv("CAMPAIGNS_WORKER_IN_API", flag)
        get_settings.cache_clear()
        app = SimpleNamespace(state=SimpleNamespace())

        async def main():
            async with make_worker_lifespan(db_url, worker_options(smtp))(app):
                return [t.get_name() for t in asyncio.all_tasks() if t.get_name() == "outbox-worker"]
        return asyncio.run(main()), getattr(app.state, "outbox_worker", None)

    # CAMPAIGNS_WORKER_IN_API unset: no worker task, nothing on app.state, nothing sent.
    assert run_lifespan(None) == ([], None)
    assert statuses(conn, box.campaign_id) == {"queued": 2} and smtp.received == []
    # Asked for, the same lifespan does start one (so the check above can fail).
    tasks, worker = run_lifespan("1")
    assert tasks == ["outbox-worker"] and isinstance(worker, Worker)


def test_cli_once_exits_zero(conn, db_url, smtp):
    box = make_outbox(conn, 4)
    done = subprocess.run([sys.executable, "-m", "service.cli", "worker", "--once"], cwd=ROOT,
                          env=worker_env(db_url, smtp), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sent=4" in done.stdout
    assert statuses(conn, box.campaign_id) == {"sent": 4}
    assert SECRET not in done.stdout + done.stderr


def test_cli_refuses_to_start_without_a_secret(db_url, smtp):
    env = worker_env(db_url, smtp)
    env.pop("CAMPAIGNS_SECRET_KEY")
    done = subprocess.run([sys.executable, "-m", "service.cli", "worker", "--once"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "CAMPAIGNS_SECRET_KEY" in done.stderr


def test_sigterm_finishes_in_flight_sends_and_releases_the_rest(conn, db_url, smtp, tmp_path):
    box = make_outbox(conn, 40)
    smtp.delay = 0.3
    proc = spawn_worker(db_url, smtp, log=tmp_path / "worker.log", CAMPAIGNS_WORKER_CONNECTIONS=2,
                        CAMPAIGNS_WORKER_LEASE_SECONDS=60)
    smtp.wait_for(3, timeout=30)
    started = time.monotonic()
    assert stop_process(proc, signal.SIGTERM) == 0
    assert time.monotonic() - started < 5
    counts = statuses(conn, box.campaign_id)
    assert "sending" not in counts  # nothing left leased: sent, or released for the next worker
    sent = {m for (m,) in conn.execute("SELECT smtp_message_id FROM campaigns.email_messages "
                                       "WHERE campaign_id = %s AND status = 'sent'", (box.campaign_id,))}
    assert sent == set(smtp.message_ids())  # every accepted message was recorded before exiting
    assert counts["queued"] > 0
    assert conn.execute("SELECT max(attempts) FROM campaigns.email_messages WHERE campaign_id = %s AND status = 'queued'",
                        (box.campaign_id,)).fetchone()[0] == 0
    log = (tmp_path / "worker.log").read_text()
    assert "stopping" in log and SECRET not in log


def test_smtp_catcher_keeps_what_the_worker_sends(conn, db_url, tmp_path):
    box = make_outbox(conn, 3)
    catcher = SmtpCatcher(tmp_path / "mail", port=free_port()).start()
    try:
        asyncio.run(Worker(db_url, worker_options(None, default_relay=Relay(catcher.host, catcher.port)), once=True).run())
    finally:
        catcher.stop()
    items = list_messages(tmp_path / "mail")
    assert sorted(i["message_id"] for i in items) == sorted(box.smtp_ids(conn))
    assert all(i["subject"].startswith("Hello Ann") for i in items)
    listed = subprocess.run([sys.executable, "-m", "service.cli", "smtp-catcher", "--list", "--maildir", str(tmp_path / "mail")],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "3 message(s)" in listed.stdout
