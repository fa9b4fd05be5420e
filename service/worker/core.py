"""The outbox worker: claim due messages, render and send them over SMTP, record every result.

    LISTEN campaigns_outbox ──wake──┐
    poll every N seconds ───────────┤
                                    ▼
    claimer ── claim_outbox_batch (one short statement) ──► per-relay queues ──► sender tasks
                                                                                   │ compose (render + MIME)
                                                                                   │ tenant rate limit
                                                                                   │ SMTP (persistent connection)
                                                                                   ▼
                                        recorder ◄── record_send_results: one SQL call records the
                                        results that arrived while the previous call committed
                                        (group commit); per result, record_send_result's semantics

Guarantees (docs/worker.md):
- A sender waits for its result to be committed before it sends the next message, so a killed
  worker leaves at most one accepted-but-unrecorded message per SMTP connection: the only source of
  duplicates, and each one carries the same Message-ID.
- Nothing is sent after the lease is about to expire (the row could be reclaimed), nor after a
  hold notification for its campaign or contact (pause, unsubscribe), nor after stop() was asked:
  such messages are released back to the queue without spending an attempt.
- SMTP talk happens outside any transaction; database trouble (a restart) makes the claimer and
  recorder reconnect and retry; a result is never dropped while the worker lives.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from service.config import Settings, get_settings
from service.metrics import CLAIM_SECONDS, SEND_RESULTS, SEND_SECONDS
from service.tracking.tokens import TokenSigner
from service.worker.compose import Composer
from service.worker.ratelimit import RateLimiter
from service.worker.smtp import Relay, SendResult, SmtpConnection

log = logging.getLogger("campaigns.worker")

CHANNEL = "campaigns_outbox"
WORKER_ROLE = "campaigns_worker"
# How long a hold notification keeps already-claimed mail of a campaign or contact from going out.
HOLD_SECONDS = 120.0
_DSN_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")
_DSN_PASSWORD_PARAM = re.compile(r"(password=)[^&\s]+", re.I)

_RECORD_SQL = """
SELECT message_id, status
FROM campaigns.record_send_results(%(worker)s, %(ids)s::uuid[], %(outcomes)s::text[], %(responses)s::text[],
                                   %(errors)s::text[], %(subjects)s::text[], now(), %(retry_base)s::interval,
                                   %(retry_cap)s::interval)
"""


def redact_dsn(dsn: str) -> str:
    return _DSN_PASSWORD_PARAM.sub(r"\1***", _DSN_PASSWORD.sub(r"\1***@", dsn))


@dataclass
class WorkerStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    rejected: int = 0
    released: int = 0
    lost_leases: int = 0
    db_errors: int = 0
    flushes: int = 0
    flush_seconds: float = 0.0
    claim_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)
    first_claim: float | None = None
    last_result: float | None = None

    def summary(self) -> str:
        busy = (self.last_result - self.first_claim) if self.first_claim and self.last_result else 0.0
        rate = self.sent / busy if busy > 0 else 0.0
        return (f"sent={self.sent} retried={self.retried} failed={self.failed} rejected={self.rejected} "
                f"released={self.released} claimed={self.claimed} lost_leases={self.lost_leases} "
                f"db_errors={self.db_errors} busy={busy:.2f}s rate={rate:.0f}/s "
                f"flushes={self.flushes} flush_time={self.flush_seconds:.2f}s claim_time={self.claim_seconds:.2f}s")


@dataclass
class WorkerOptions:
    """Everything the worker needs, from Settings by default (tests and the bench override)."""

    public_url: str
    secret_key: str = field(repr=False)
    default_relay: Relay = field(default=None)  # type: ignore[assignment]
    default_from: str = "campaigns@localhost"
    smtp_timeout: float = 30.0
    batch_size: int = 100
    lease_seconds: float = 300.0
    poll_seconds: float = 2.0
    max_connections: int = 4
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    shutdown_seconds: float = 30.0
    recorders: int = 1

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> WorkerOptions:
        s = settings or get_settings()
        if not s.secret_key and "secret_key" not in overrides:
            raise RuntimeError("CAMPAIGNS_SECRET_KEY is not set: tracking and unsubscribe links cannot be signed")
        values: dict[str, Any] = dict(
            public_url=s.public_base_url, secret_key=s.secret_key,
            default_relay=Relay(s.smtp_host, s.smtp_port, s.smtp_tls, s.smtp_username, None, s.smtp_password),
            default_from=s.default_from_email, smtp_timeout=s.smtp_timeout, batch_size=s.worker_batch_size,
            lease_seconds=s.worker_lease_seconds, poll_seconds=s.worker_poll_seconds,
            max_connections=s.worker_max_connections, retry_base_seconds=s.worker_retry_base_seconds,
            retry_max_seconds=s.worker_retry_max_seconds,
            shutdown_seconds=s.worker_shutdown_seconds,
        )
        values.update(overrides)
        return cls(**values)


class Job:
    __slots__ = ("row", "relay", "deadline", "finished")

    def __init__(self, row: dict[str, Any], relay: Relay, deadline: float) -> None:
        self.row, self.relay, self.deadline = row, relay, deadline
        self.finished = False


class _RelayQueue:
    """Jobs for one relay and the sender tasks that drain them. Each put wakes one waiting sender
    (not all of them), so idle connections cost nothing per message."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.jobs: collections.deque[Job] = collections.deque()
        self.waiters: collections.deque[asyncio.Future] = collections.deque()
        self.tasks: set[asyncio.Task] = set()

    def put(self, job: Job) -> None:
        self.jobs.append(job)
        self._wake_one()

    def _wake_one(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def wake_all(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def get(self, idle_timeout: float, stopping: asyncio.Event) -> Job | None:
        while True:
            if self.jobs:
                return self.jobs.popleft()
            if stopping.is_set():
                return None
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, idle_timeout)
            except asyncio.TimeoutError:
                if not self.jobs:
                    return None


class _DbConnection:
    """A long-lived autocommit connection that re-opens itself after a failure."""

    def __init__(self, dsn: str, name: str, role: str | None = WORKER_ROLE) -> None:
        self.dsn, self.name, self.role = dsn, name, role
        self.conn: psycopg.AsyncConnection | None = None

    async def get(self) -> psycopg.AsyncConnection:
        conn = self.conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        await self.reset()
        conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True, row_factory=dict_row,
                                                     application_name=f"campaigns-worker {self.name}")
        if self.role:
            try:
                await conn.execute(f"SET ROLE {self.role}")
            except psycopg.errors.InsufficientPrivilege:
                # The login role is not a member of campaigns_worker: keep its own rights.
                log.warning("cannot SET ROLE %s; continuing as the connecting role", self.role)
        self.conn = conn
        return conn

    async def reset(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # noqa: BLE001
                pass


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, OSError)) and not isinstance(
        exc, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure, psycopg.errors.LockNotAvailable))


class Recorder:
    """Writes results back through record_send_results: the results that arrive while one call
    commits go together in the next (group commit); each sender awaits its own result."""

    def __init__(self, worker: Worker, flushers: int) -> None:
        self.worker = worker
        self.pending: list[tuple[Job, str, str | None, str | None, str | None, asyncio.Future]] = []
        self.event = asyncio.Event()
        self.conns = [_DbConnection(worker.dsn, f"recorder-{i}") for i in range(flushers)]
        self.tasks: list[asyncio.Task] = []
        self.busy = 0

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._flusher(c), name=f"recorder-{i}") for i, c in enumerate(self.conns)]

    async def record(self, job: Job, outcome: str, response: str | None, error: str | None,
                     subject: str | None) -> str | None:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((job, outcome, response, error, subject, future))
        self.event.set()
        return await future

    async def _flusher(self, db: _DbConnection) -> None:
        while True:
            if not self.pending:
                self.event.clear()
                await self.event.wait()
                continue
            batch, self.pending = self.pending, []
            self.busy += 1
            try:
                await self._flush(db, batch)
            except Exception as exc:  # noqa: BLE001 - a flusher must outlive any one batch
                log.exception("recording %d results failed", len(batch))
                for item in batch:
                    if not item[5].done():
                        item[5].set_exception(exc)
            finally:
                self.busy -= 1

    async def _flush(self, db: _DbConnection, batch: list) -> None:
        params = {
            "worker": self.worker.worker_id,
            "retry_base": f"{self.worker.options.retry_base_seconds} seconds",
            "retry_cap": f"{self.worker.options.retry_max_seconds} seconds",
            "ids": [item[0].row["message_id"] for item in batch],
            "outcomes": [item[1] for item in batch],
            "responses": [item[2] for item in batch],
            "errors": [item[3] for item in batch],
            "subjects": [item[4] for item in batch],
        }
        delay = 0.1
        while True:
            try:
                conn = await db.get()
                started = time.monotonic()
                cursor = await conn.execute(_RECORD_SQL, params)
                rows = await cursor.fetchall()
                self.worker.stats.flushes += 1
                self.worker.stats.flush_seconds += time.monotonic() - started
                break
            except Exception as exc:  # noqa: BLE001 - classified below
                self.worker.stats.db_errors += 1
                if _is_connection_error(exc) or isinstance(exc, (psycopg.errors.DeadlockDetected,
                                                                 psycopg.errors.SerializationFailure)):
                    # Unknown whether a broken commit went through; replaying is safe (a recorded
                    # row is no longer leased, so the call is a no-op for it).
                    log.warning("recording %d results failed (%s); retrying", len(batch), type(exc).__name__)
                    await db.reset()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                log.exception("recording %d results failed", len(batch))
                for item in batch:
                    if not item[5].done():
                        item[5].set_exception(exc)
                return
        statuses = {row["message_id"]: row["status"] for row in rows}
        for item in batch:
            if not item[5].done():
                item[5].set_result(statuses.get(item[0].row["message_id"]))

    async def drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (self.pending or self.busy) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for db in self.conns:
            await db.reset()


class Worker:
    def __init__(self, dsn: str, options: WorkerOptions | None = None, *, once: bool = False,
                 worker_id: str | None = None) -> None:
        self.dsn = dsn
        self.options = options or WorkerOptions.from_settings()
        self.once = once
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stats = WorkerStats()
        self.composer = Composer(self.options.public_url, TokenSigner(self.options.secret_key),
                                 default_from=self.options.default_from)
        self.limiter = RateLimiter()
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._relays: dict[tuple, _RelayQueue] = {}
        self._inflight: set[UUID] = set()
        self._backlog = 0
        self._held_campaigns: dict[UUID, float] = {}
        self._held_contacts: dict[UUID, float] = {}
        self._recorder: Recorder | None = None
        margin = min(self.options.lease_seconds / 2, self.options.smtp_timeout + 5)
        self._lease_budget = self.options.lease_seconds - margin

    # -- control ----------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming, release what is not being sent yet, finish in-flight sends, then return."""
        if not self._stopping.is_set():
            log.info("worker %s stopping: finishing in-flight sends", self.worker_id)
        self._stopping.set()
        self._wake.set()
        for queue in self._relays.values():
            queue.wake_all()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # -- the main loop ------------------------------------------------------------------------------------

    async def run(self) -> WorkerStats:
        opts = self.options
        log.info("worker %s starting: database %s, relay %r, batch %d, lease %.0fs, %d connections",
                 self.worker_id, redact_dsn(self.dsn), opts.default_relay, opts.batch_size, opts.lease_seconds,
                 opts.max_connections)
        if not opts.public_url.startswith("https://"):
            log.warning("CAMPAIGNS_PUBLIC_URL is %s: tracking and List-Unsubscribe links should be https in production",
                        opts.public_url)
        self._recorder = Recorder(self, opts.recorders)
        self._recorder.start()
        listener = None if self.once else asyncio.create_task(self._listen(), name="listener")
        claimer_db = _DbConnection(self.dsn, "claimer")
        try:
            await self._claim_loop(claimer_db)
        finally:
            self.stop()
            await self._shutdown()
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)
            await claimer_db.reset()
            log.info("worker %s stopped: %s", self.worker_id, self.stats.summary())
        return self.stats

    async def _claim_loop(self, db: _DbConnection) -> None:
        opts = self.options
        delay = 0.2
        last_report = time.monotonic()
        while not self.stopping:
            # Cleared before looking, so a wake-up that arrives while we claim is not lost.
            self._wake.clear()
            room = opts.batch_size - self._backlog
            claimed = -1
            if room >= max(1, opts.batch_size // 2):
                try:
                    claimed = await self._claim(db, room)
                    delay = 0.2
                except Exception as exc:  # noqa: BLE001
                    self.stats.db_errors += 1
                    if not _is_connection_error(exc):
                        log.exception("claim failed")
                    else:
                        log.warning("claim failed (%s); reconnecting in %.1fs", type(exc).__name__, delay)
                    await db.reset()
                    await self._sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                if claimed > 0:
                    continue
                if self.once and self._backlog == 0:
                    return
            if time.monotonic() - last_report > 60:
                last_report = time.monotonic()
                log.info("worker %s: %s", self.worker_id, self.stats.summary())
            # Sleep until a notification, a freed slot, or the poll interval.
            try:
                await asyncio.wait_for(self._wake.wait(), opts.poll_seconds)
            except asyncio.TimeoutError:
                pass

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _claim(self, db: _DbConnection, limit: int) -> int:
        conn = await db.get()
        started = time.monotonic()
        cursor = await conn.execute(
            "SELECT * FROM campaigns.claim_outbox_batch(%s, %s, make_interval(secs => %s))",
            (self.worker_id, limit, self.options.lease_seconds),
        )
        rows = await cursor.fetchall()
        self.stats.claim_seconds += time.monotonic() - started
        CLAIM_SECONDS.observe(time.monotonic() - started)
        if not rows:
            return 0
        deadline = started + self._lease_budget
        if self.stats.first_claim is None:
            self.stats.first_claim = started
        self.stats.claimed += len(rows)
        for row in rows:
            if row["message_id"] in self._inflight:
                continue  # our own expired lease, still being handled: its result is on its way
            self._inflight.add(row["message_id"])
            self._backlog += 1
            relay = self._relay_for(row)
            queue = self._relays.get(relay.key)
            if queue is None:
                queue = self._relays[relay.key] = _RelayQueue(relay)
            queue.put(Job(row, relay, deadline))
            self._ensure_senders(queue)
        return len(rows)

    def _relay_for(self, row: dict[str, Any]) -> Relay:
        host = row.get("smtp_host")
        if not host:
            return self.options.default_relay
        security = row.get("smtp_security") or "starttls"
        port = row.get("smtp_port") or {"tls": 465, "starttls": 587}.get(security, 25)
        return Relay(host, port, security, row.get("smtp_username"), row.get("smtp_password_env"))

    def _ensure_senders(self, queue: _RelayQueue) -> None:
        wanted = min(self.options.max_connections, len(queue.jobs) + len(queue.tasks))
        while len(queue.tasks) < wanted:
            task = asyncio.create_task(self._sender(queue), name=f"sender-{queue.relay.host}-{len(queue.tasks)}")
            queue.tasks.add(task)
            task.add_done_callback(queue.tasks.discard)

    # -- sending --------------------------------------------------------------------------------------------

    async def _sender(self, queue: _RelayQueue) -> None:
        connection = SmtpConnection(queue.relay, self.options.smtp_timeout)
        try:
            while True:
                job = await queue.get(idle_timeout=30.0, stopping=self._stopping)
                if job is None:
                    return
                try:
                    await self._process(job, connection)
                except Exception as exc:  # noqa: BLE001 - one message must never stop the sender
                    log.exception("unexpected error on message %s", job.row["message_id"], extra={"message_id": job.row["message_id"]})
                    if not job.finished:  # nothing was sent: try again later (then dead-letter)
                        await self._finish(job, "retry", None, f"worker error: {type(exc).__name__}", None)
        finally:
            await connection.close()

    def _held(self, row: dict[str, Any]) -> bool:
        now = time.monotonic()
        until = self._held_campaigns.get(row["campaign_id"])
        if until is not None and until > now:
            return True
        until = self._held_contacts.get(row["contact_id"])
        return until is not None and until > now

    def _must_release(self, job: Job) -> bool:
        return self.stopping or self._held(job.row) or time.monotonic() > job.deadline

    async def _process(self, job: Job, connection: SmtpConnection) -> None:
        row = job.row
        if self._must_release(job):
            await self._finish(job, "release", None, None, None)
            return
        try:
            composed = self.composer.compose(row)
        except Exception as exc:  # noqa: BLE001 - a broken message is retried, then dead-lettered
            log.exception("composing message %s failed", row["message_id"], extra={"message_id": row["message_id"]})
            await self._finish(job, "retry", None, f"compose error: {type(exc).__name__}", None)
            return
        await self.limiter.acquire(row["tenant_id"], row.get("max_send_rate_per_second"))
        if self._must_release(job):
            await self._finish(job, "release", None, None, None)
            return
        sending = time.monotonic()
        result: SendResult = await connection.send(composed.mail_from, composed.rcpt, composed.data)
        SEND_SECONDS.observe(time.monotonic() - sending)
        await self._finish(job, result.outcome, result.response, result.error, composed.subject)

    async def _finish(self, job: Job, outcome: str, response: str | None, error: str | None,
                      subject: str | None) -> None:
        assert self._recorder is not None
        job.finished = True
        try:
            status = await self._recorder.record(job, outcome, response, error, subject)
        except Exception:  # noqa: BLE001 - logged by the recorder; the lease will expire
            status = None
        stats = self.stats
        SEND_RESULTS.labels(outcome="lost_lease" if status is None else outcome).inc()
        if status is None:
            stats.lost_leases += 1
        elif outcome == "sent":
            stats.sent += 1
        elif outcome == "release":
            stats.released += 1
        elif outcome == "retry":
            stats.retried += 1
            if status == "failed":
                stats.failed += 1
        elif outcome == "failed":
            stats.failed += 1
        else:
            stats.rejected += 1
        stats.last_result = time.monotonic()
        self._inflight.discard(job.row["message_id"])
        self._backlog -= 1
        if self._backlog <= self.options.batch_size // 2:
            self._wake.set()

    # -- notifications ------------------------------------------------------------------------------------

    def handle_notification(self, payload: str) -> None:
        try:
            data = json.loads(payload) if payload.startswith("{") else None
        except ValueError:
            data = None
        if isinstance(data, dict) and "id" in data:
            try:
                ident = UUID(str(data["id"]))
            except ValueError:
                ident = None
            if ident is not None and data.get("hold") == "campaign":
                self._held_campaigns[ident] = time.monotonic() + HOLD_SECONDS
            elif ident is not None and data.get("hold") == "contact":
                self._held_contacts[ident] = time.monotonic() + HOLD_SECONDS
            elif ident is not None and data.get("resume") == "campaign":
                self._held_campaigns.pop(ident, None)
            now = time.monotonic()
            for held in (self._held_campaigns, self._held_contacts):
                for key in [k for k, until in held.items() if until <= now]:
                    del held[key]
        self._wake.set()

    async def _listen(self) -> None:
        delay = 0.2
        while not self.stopping:
            db = _DbConnection(self.dsn, "listener", role=None)
            try:
                conn = await db.get()
                await conn.execute(f"LISTEN {CHANNEL}")
                delay = 0.2
                self._wake.set()  # anything queued while we were not listening
                async for notification in conn.notifies():
                    self.handle_notification(notification.payload)
            except asyncio.CancelledError:
                await db.reset()
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect
                log.warning("listener lost its connection (%s); reconnecting", type(exc).__name__)
            await db.reset()
            await self._sleep(delay)
            delay = min(delay * 2, 5.0)

    # -- shutdown ---------------------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        tasks = [t for q in self._relays.values() for t in q.tasks]
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=self.options.shutdown_seconds)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("%d sends did not finish within %.0fs; their leases will expire",
                            len(pending), self.options.shutdown_seconds)
                await asyncio.gather(*pending, return_exceptions=True)
        if self._recorder is not None:
            await self._recorder.drain(self.options.shutdown_seconds)
            await self._recorder.close()


async def run_worker(dsn: str, options: WorkerOptions | None = None, *, once: bool = False,
                     install_signals: bool = True, stop_now: bool = False) -> WorkerStats:
    """Run a worker until it is stopped (SIGTERM/SIGINT) or, with once, until nothing is due."""
    worker = Worker(dsn, options, once=once)
    if install_signals:
        import signal

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
    if stop_now:  # asked to stop while starting
        worker.stop()
    return await worker.run()
