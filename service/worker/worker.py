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
import json
import logging
import os
import secrets
import socket
import time
from typing import Any
from uuid import UUID

from service.metrics import CLAIM_SECONDS, SEND_RESULTS, SEND_SECONDS
from service.tracking.tokens import TokenSigner
from service.webhooks.sender import WebhookSender
from service.worker.compose import Composer
from service.worker.connection import DbConnection, is_connection_error, redact_dsn
from service.worker.options import WorkerOptions
from service.worker.queues import Job, RelayQueue
from service.worker.ratelimit import RateLimiter
from service.worker.recorder import Recorder
from service.worker.render_budget import RenderLimitError, compose_within_budget
from service.worker.smtp import Relay, SendResult, SmtpConnection
from service.worker.stats import WorkerStats

log = logging.getLogger("campaigns.worker")

CHANNEL = "campaigns_outbox"
# How long a hold notification keeps already-claimed mail of a campaign or contact from going out.
HOLD_SECONDS = 120.0


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
        self._relays: dict[tuple, RelayQueue] = {}
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
        self._recorder = Recorder(self.dsn, self.worker_id, opts, self.stats)
        self._recorder.start()
        listener = None if self.once else asyncio.create_task(self._listen(), name="listener")
        # The webhook outbox is delivered beside the mail, by the same process (service.webhooks).
        webhooks = asyncio.create_task(
            WebhookSender(self.dsn, self.worker_id, poll_seconds=opts.poll_seconds, once=self.once).run(self._stopping),
            name="webhooks")
        claimer_db = DbConnection(self.dsn, "claimer")
        try:
            await self._claim_loop(claimer_db)
            if self.once:
                await webhooks
        finally:
            self.stop()
            await self._shutdown()
            await asyncio.gather(webhooks, return_exceptions=True)
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)
            await claimer_db.reset()
            log.info("worker %s stopped: %s", self.worker_id, self.stats.summary())
        return self.stats

    async def _claim_loop(self, db: DbConnection) -> None:
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
                    if not is_connection_error(exc):
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

    async def _claim(self, db: DbConnection, limit: int) -> int:
        conn = await db.get()
        started = time.monotonic()
        cursor = await conn.execute(
            "SELECT * FROM campaigns.claim_outbox_batch(%s, %s, make_interval(secs => %s), p_max_reclaims => %s)",
            (self.worker_id, limit, self.options.lease_seconds, self.options.max_reclaims),
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
                queue = self._relays[relay.key] = RelayQueue(relay)
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

    def _ensure_senders(self, queue: RelayQueue) -> None:
        wanted = min(self.options.max_connections, len(queue.jobs) + len(queue.tasks))
        while len(queue.tasks) < wanted:
            task = asyncio.create_task(self._sender(queue), name=f"sender-{queue.relay.host}-{len(queue.tasks)}")
            queue.tasks.add(task)
            task.add_done_callback(queue.tasks.discard)

    # -- sending --------------------------------------------------------------------------------------------

    async def _sender(self, queue: RelayQueue) -> None:
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
            composed = await compose_within_budget(self.composer, row)
        except RenderLimitError as exc:  # failed for good, no SMTP try spent (docs/worker.md)
            log.warning("message %s over a render limit: %s", row["message_id"], exc, extra={"message_id": row["message_id"]})
            await self._finish(job, "render_limit", None, f"render_limit: {exc}", None)
            return
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
            db = DbConnection(self.dsn, "listener", role=None)
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
