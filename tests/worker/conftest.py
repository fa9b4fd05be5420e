"""Fixtures for the outbox worker: a real aiosmtpd server with fault injection, outbox data built the
way production builds it (launch + process_due_steps), the worker in-process or as real processes,
the API with the tracking routes over real HTTP, and a PostgreSQL cluster of its own that a test may
restart without disturbing the others."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from factories import make_campaign, make_segment, make_sender, make_step, make_tenant

from service.config import get_settings
from service.migrate import migrate
from service.worker import Worker, WorkerOptions, WorkerStats
from service.worker.smtp import Relay

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-key"
PUBLIC_URL = "https://mail.example.test"
logging.getLogger("mail.log").setLevel(logging.WARNING)


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    """Every worker test signs with the same secret and public URL, read fresh from the environment."""
    monkeypatch.setenv("CAMPAIGNS_SECRET_KEY", SECRET)
    monkeypatch.setenv("CAMPAIGNS_PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the SMTP server -------------------------------------------------------------------------------

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.M | re.I)


@dataclass
class Received:
    message_id: str
    mail_from: str
    rcpt: str
    data: bytes
    at: float
    mail_options: list[str] = field(default_factory=list)


@dataclass
class SmtpServer:
    """What the test SMTP server received, and the faults it injects.

    `fault(command, session_peer)` returns None (behave), a reply such as "451 4.3.0 busy", or "drop"
    (close the connection without answering). `rcpt_replies` maps an address to a fixed RCPT reply.
    `delay` slows every DATA reply (for shutdown tests)."""

    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    fault: Callable[[str], str | None] | None = None
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    commands: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)

    def message_ids(self) -> list[str]:
        return [r.message_id for r in list(self.received)]

    def duplicates(self) -> dict[str, int]:
        return {mid: n for mid, n in Counter(self.message_ids()).items() if n > 1}

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.received)} of {count} messages arrived in {timeout}s")
            time.sleep(0.02)

    def relay(self) -> Relay:
        return Relay(self.host, self.port)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.s = server

    def _inject(self, command: str, smtp: Any) -> str | None:
        self.s.commands[command] += 1
        if self.s.fault is None:
            return None
        reply = self.s.fault(command)
        if reply is None:
            return None
        self.s.faults[reply.split(" ")[0]] += 1
        if reply == "drop":
            smtp.transport.abort()
            return "421 4.4.2 dropped"  # written to a closed transport: never seen by the client
        if reply.startswith("421"):
            asyncio.get_running_loop().call_soon(smtp.transport.close)
        return reply

    async def handle_MAIL(self, smtp, session, envelope, address, mail_options):
        reply = self._inject("MAIL", smtp)
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        reply = self._inject("RCPT", smtp)
        if reply:
            return reply
        fixed = self.s.rcpt_replies.get(address.lower())
        if fixed:
            return fixed
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        reply = self._inject("DATA", smtp)
        if reply:
            return reply
        if self.s.delay:
            await asyncio.sleep(self.s.delay)
        data = envelope.original_content or b""
        match = _MESSAGE_ID.search(data)
        self.s.received.append(Received(match.group(1).decode() if match else "", envelope.mail_from,
                                        envelope.rcpt_tos[0] if envelope.rcpt_tos else "", data, time.monotonic(),
                                        list(envelope.mail_options)))
        return "250 2.0.0 Ok: queued"


@contextmanager
def smtp_server_running() -> Iterator[SmtpServer]:
    server = SmtpServer("127.0.0.1", free_port())
    controller = Controller(_Handler(server), hostname=server.host, port=server.port, ready_timeout=10,
                            server_hostname="test-smtp")
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server_running() as server:
        yield server


# -- outbox data -----------------------------------------------------------------------------------


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
                step: dict | None = None, rate: float | None = None, max_attempts: int | None = None,
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
    if max_attempts is not None:
        conn.execute("UPDATE campaigns.email_messages SET max_attempts = %s WHERE campaign_id = %s", (max_attempts, campaign_id))
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


# -- the API with the tracking routes, over real HTTP --------------------------------------------------


def build_app(db_url: str):
    from service.app import create_app

    return create_app(db_url)


@contextmanager
def serve_app(db_url: str) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(db_url), host="127.0.0.1", port=port, lifespan="on",
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def app_url(db_url: str) -> Iterator[str]:
    with serve_app(db_url) as url:
        yield url


# -- a cluster a test may restart -------------------------------------------------------------------


@dataclass
class OwnCluster:
    cluster: Any
    url: str

    def restart(self) -> None:
        """pg_ctl restart (fast shutdown): every connection is cut."""
        self.cluster._run("pg_ctl", "restart", "-w", "-t", "60", "-m", "fast", "-D", str(self.cluster.data_dir),
                          "-l", str(self.cluster.log_file), "-o", f"-p {self.cluster.port}")


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[OwnCluster]:
    from service.dev.embedded_pg import EmbeddedPostgres

    if os.environ.get("CAMPAIGNS_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL"):
        pytest.skip("restarting PostgreSQL needs the embedded cluster (no external server)")
    folder = Path(tempfile.mkdtemp(prefix="campaigns-worker-pg-"))
    folder.chmod(0o755)
    cluster = EmbeddedPostgres(folder=folder, port=free_port(), dbname="campaigns_restart")
    cluster.start()
    try:
        url = cluster.url()
        migrate(url)
        yield OwnCluster(cluster, url)
    finally:
        cluster.destroy()
