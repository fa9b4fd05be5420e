"""Outbox data built the way production builds it (launch + process_due_steps), and the outbox worker
in this process (once, or on a thread) or as a real `campaignctl worker` process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from service.worker import Worker, WorkerOptions, WorkerStats
from service.worker.smtp import Relay
from tests.support.factories import make_campaign, make_segment, make_sender, make_step, make_tenant
from tests.support.smtp import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
# A key the service accepts (at least 32 bytes, not a placeholder).
SECRET = "outbox-tests-signing-key-4e8b2f6a1c9d3e7b5a0f"
PUBLIC_URL = "https://mail.example.test"


@dataclass
class Outbox:
    tenant_id: UUID
    campaign_id: UUID
    step_id: UUID
    segment_id: UUID
    api_key: str
    count: int

    def smtp_ids(self, conn: psycopg.Connection) -> set[str]:
        return {r[0] for r in conn.execute(
            "SELECT smtp_message_id FROM campaigns.email_messages WHERE campaign_id = %s", (self.campaign_id,))}


def make_outbox(conn: psycopg.Connection, count: int, *, tenant: dict | None = None, sender: dict | None = None,
                step: dict | None = None, rate: float | None = None,
                follow_up: bool = False, **campaign_cols: Any) -> Outbox:
    """A launched campaign whose `count` contacts each have one queued message (as process_due_steps
    queues them). With follow_up, a wait of a day and a second email follow, so the enrollments stay
    active after the first email."""
    t = tenant or make_tenant(conn)
    tenant_id = t["tenant_id"]
    if rate is not None:
        conn.execute("UPDATE campaigns.tenants SET max_send_rate_per_second = %s WHERE id = %s", (rate, tenant_id))
    segment_id = make_segment(conn, tenant_id)
    tag = os.urandom(4).hex()
    conn.execute(
        """INSERT INTO campaigns.contacts (tenant_id, email, first_name, last_name, company, custom_fields, score)
           SELECT %s, 'r' || g || '-' || %s || '@example.org', 'Ann' || g, 'Lee', 'Acme', '{"industry": "retail"}', g %% 100
           FROM generate_series(1, %s) g""", (tenant_id, tag, count))
    conn.execute(
        """INSERT INTO campaigns.segment_contacts (tenant_id, segment_id, contact_id)
           SELECT tenant_id, %s, id FROM campaigns.contacts WHERE tenant_id = %s AND email LIKE %s""",
        (segment_id, tenant_id, f"%-{tag}@example.org"))
    if sender is not None:
        campaign_cols.setdefault("sender_account_id", make_sender(conn, tenant_id, **sender))
    campaign_cols.setdefault("from_email", "news@example.com")
    campaign_id = make_campaign(conn, tenant_id, segment_id=segment_id, **campaign_cols)
    step_cols = {"subject_line": "Hello {{ first_name }}",
                 "email_content": '<html><body><p>Hi {{firstName|there}}</p><a href="https://example.com/x">x</a></body></html>'}
    step_cols.update(step or {})
    step_id = make_step(conn, tenant_id, campaign_id, **step_cols)
    if follow_up:
        wait_id = make_step(conn, tenant_id, campaign_id, step_type="wait")
        second = make_step(conn, tenant_id, campaign_id)
        conn.execute("UPDATE campaigns.campaign_steps SET next_step_id = %s WHERE id = %s", (wait_id, step_id))
        conn.execute("UPDATE campaigns.campaign_steps SET next_step_id = %s WHERE id = %s", (second, wait_id))
    conn.execute("SELECT campaigns.launch_campaign(%s)", (campaign_id,))
    while conn.execute("SELECT campaigns.process_due_steps()").fetchone()[0]:
        pass
    # Any status: a worker already running (woken by process_due_steps' NOTIFY) may have claimed some.
    queued = conn.execute("SELECT count(*) FROM campaigns.email_messages WHERE campaign_id = %s",
                          (campaign_id,)).fetchone()[0]
    assert queued == count
    conn.execute("ANALYZE campaigns.email_messages")
    return Outbox(tenant_id, campaign_id, step_id, segment_id, t["api_key"], count)


def statuses(conn: psycopg.Connection, campaign_id: UUID) -> dict[str, int]:
    return dict(conn.execute("SELECT status, count(*) FROM campaigns.email_messages WHERE campaign_id = %s GROUP BY 1",
                             (campaign_id,)).fetchall())


# -- the worker ------------------------------------------------------------------------------------


def worker_options(smtp: SmtpServer | None = None, **overrides: Any) -> WorkerOptions:
    values: dict[str, Any] = dict(
        public_url=PUBLIC_URL, secret_key=SECRET,
        default_relay=smtp.relay() if smtp else Relay("127.0.0.1", 9), smtp_timeout=5.0,
        batch_size=50, lease_seconds=30.0, poll_seconds=0.2, max_connections=2, retry_base_seconds=0.05,
        retry_max_seconds=1.0,
        shutdown_seconds=10.0,
    )
    values.update(overrides)
    return WorkerOptions(**values)


def run_once(db_url: str, smtp: SmtpServer, **overrides: Any) -> WorkerStats:
    """The worker in this process until nothing is due (campaignctl worker --once)."""
    return asyncio.run(Worker(db_url, worker_options(smtp, **overrides), once=True).run())


@contextmanager
def worker_in_thread(db_url: str, smtp: SmtpServer, **overrides: Any) -> Iterator[Worker]:
    """A long-running worker on its own event loop thread; stopped gracefully on exit."""
    holder: dict[str, Any] = {}
    ready = threading.Event()

    def main() -> None:
        async def run() -> None:
            worker = Worker(db_url, worker_options(smtp, **overrides))
            holder["worker"], holder["loop"] = worker, asyncio.get_running_loop()
            ready.set()
            await worker.run()
        asyncio.run(run())

    thread = threading.Thread(target=main, name="test-worker", daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield holder["worker"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["worker"].stop)
        thread.join(30)
        assert not thread.is_alive(), "the worker did not stop"


def worker_env(db_url: str, smtp: SmtpServer, **settings: Any) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_TIMEOUT": "5",
        "CAMPAIGNS_SECRET_KEY": SECRET,
        "CAMPAIGNS_PUBLIC_URL": PUBLIC_URL,
        "CAMPAIGNS_WORKER_POLL_SECONDS": "0.2",
        "CAMPAIGNS_WORKER_RETRY_BASE_SECONDS": "0.05",
        "CAMPAIGNS_WORKER_RETRY_MAX_SECONDS": "1",
        "CAMPAIGNS_WORKER_LEASE_SECONDS": "5",
        "CAMPAIGNS_WORKER_BATCH_SIZE": "20",
        "CAMPAIGNS_WORKER_CONNECTIONS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    env.update({k: str(v) for k, v in settings.items()})
    return env


def spawn_worker(db_url: str, smtp: SmtpServer, *args: str, log: Path | None = None, **settings: Any) -> subprocess.Popen:
    """`campaignctl worker` as a real process (python -m service.cli), its output to `log`."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "service.cli", "worker", *args], cwd=ROOT,
                            env=worker_env(db_url, smtp, **settings), stdout=out, stderr=subprocess.STDOUT)


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout)


# -- the outbox functions called as the worker calls them ------------------------------------------

CLAIM = "SELECT * FROM campaigns.claim_outbox_batch(%s, %s, %s::interval, %s, %s, %s::text[])"


def claim(conn, worker="w1", limit=100, lease="5 minutes", as_of=None, max_reclaims=5, down_relays=()):
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(CLAIM, (worker, limit, lease, as_of or datetime.now(timezone.utc), max_reclaims,
                               list(down_relays))).fetchall()


def record(conn, message_id, outcome, worker="w1", response=None, error=None, as_of=None, **kw):
    """record_send_result as the worker calls it; as_of defaults to the transaction's now()."""
    params = {"retry_base": "1 minute", "retry_cap": "1 hour", "retry_lifetime": None, "subject": None, **kw}
    return conn.execute(
        "SELECT campaigns.record_send_result(%s, %s, %s, %s, %s, coalesce(%s::timestamptz, now()), %s, %s::interval, "
        "%s::interval, %s::interval)",
        (message_id, worker, outcome, response, error, as_of, params["subject"], params["retry_base"],
         params["retry_cap"], params["retry_lifetime"]),
    ).fetchone()[0]


RECORD_MANY = "SELECT message_id, status FROM campaigns.record_send_results(%s, %s::uuid[], %s::text[])"
