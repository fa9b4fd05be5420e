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
- A relay that cannot be connected to is not the message's fault: its message is released (no
  attempt spent), and after CAMPAIGNS_WORKER_RELAY_TRIP_FAILURES such failures in a row the relay's
  circuit opens (circuit.py): its mail is no longer claimed or sent, only the relay is probed, and
  the claimer is woken the moment a probe succeeds.
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

from service.metrics import (
    CLAIM_SECONDS, LEASE_RECLAIMS, RELAY_PROBES, RELAY_UP, SEND_RESULTS, SEND_SECONDS, SMTP_REPLIES,
)
from service.tracking.tokens import TokenSigner
from service.webhooks.sender import WebhookSender
from service.worker.circuit import RelayCircuit
from service.worker.compose import Composer
from service.worker.connection import DbConnection, DbOutage, is_connection_error, redact_dsn, wait_for_database
from service.worker.failure_log import FailureLog
from service.worker.options import WorkerOptions
from service.worker.queues import Job, RelayQueue
from service.worker.ratelimit import RateLimiter
from service.worker.recorder import Recorder
from service.worker.render_budget import RenderLimitError, compose_within_budget
from service.worker.smtp import Relay, SendResult, SmtpConnection, probe
from service.worker.stats import WorkerStats
from service.worker.test_sends import TestSender

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
        self._circuits: dict[str, RelayCircuit] = {}  # by relay key (relay_key())
        self._probes: dict[str, asyncio.Task] = {}  # by relay key: one prober per down relay
        self.failure_log = FailureLog(log, self.options.failure_log_seconds)
        self.db_outage = DbOutage(log)
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
        if opts.startup_seconds is not None and not await wait_for_database(self.dsn, opts.startup_seconds,
                                                                            self._stopping):
            return self.stats  # asked to stop while waiting for the database
        self._recorder = Recorder(self.dsn, self.worker_id, opts, self.stats, self.db_outage)
        self._recorder.start()
        listener = None if self.once else asyncio.create_task(self._listen(), name="listener")
        # The webhook outbox is delivered beside the mail, by the same process (service.webhooks).
        webhooks = asyncio.create_task(
            WebhookSender(self.dsn, self.worker_id, poll_seconds=opts.poll_seconds, once=self.once,
                          outage=self.db_outage).run(self._stopping),
            name="webhooks")
        # Test sends (service.worker.test_sends) too: an outbox of their own, composed like the mail.
        test_sends = asyncio.create_task(
            TestSender(self.dsn, self.worker_id, self.composer, self._relay_for, poll_seconds=opts.poll_seconds,
                       smtp_timeout=opts.smtp_timeout, lease_seconds=opts.lease_seconds, once=self.once,
                       outage=self.db_outage).run(self._stopping),
            name="test-sends")
        claimer_db = DbConnection(self.dsn, "claimer")
        try:
            await self._claim_loop(claimer_db)
            if self.once:
                await asyncio.gather(webhooks, test_sends)
        finally:
            self.stop()
            await self._shutdown()
            await asyncio.gather(webhooks, test_sends, return_exceptions=True)
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)
            await claimer_db.reset()
            for task in self._probes.values():
                task.cancel()
            await asyncio.gather(*self._probes.values(), return_exceptions=True)
            self.failure_log.flush(everything=True)
            log.info("worker %s stopped: %s", self.worker_id, self.stats.summary())
        return self.stats

    async def _claim_loop(self, db: DbConnection) -> None:
        opts = self.options
        delay, fresh_retry = 0.2, False
        last_report = time.monotonic()
        while not self.stopping:
            # Cleared before looking, so a wake-up that arrives while we claim is not lost.
            self._wake.clear()
            room = opts.batch_size - self._backlog
            claimed = -1
            self.failure_log.flush()  # repeat counts of windows that are over
            if room >= max(1, opts.batch_size // 2):
                started = time.monotonic()
                try:
                    claimed = await self._claim(db, room)
                    delay, fresh_retry = 0.2, False
                    self.db_outage.succeeded(started)
                except Exception as exc:  # noqa: BLE001
                    self.stats.db_errors += 1
                    await db.reset()
                    if is_connection_error(exc) and not fresh_retry:
                        # The connection may have died while the claimer had no room to claim (during
                        # an outage already over): one try on a fresh connection before calling it one.
                        fresh_retry = True
                        continue
                    # Logged once per outage (and per new error) with its message and SQLSTATE.
                    self.db_outage.failed("claimer", exc)
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

    def _claim_call(self, limit: int) -> tuple[str, dict[str, Any]]:
        """The claim statement and its parameters (named, so other parameters can join without reordering).
        Mail of the relays whose circuit is open is not claimed (p_down_relays: their relay keys)."""
        sql = ("SELECT * FROM campaigns.claim_outbox_batch(p_worker => %(worker)s, p_limit => %(limit)s, "
               "p_lease => make_interval(secs => %(lease)s), p_max_reclaims => %(max_reclaims)s, "
               "p_down_relays => %(down)s::text[])")
        return sql, {"worker": self.worker_id, "limit": limit, "lease": self.options.lease_seconds,
                     "max_reclaims": self.options.max_reclaims, "down": self._down_relay_keys()}

    async def _claim(self, db: DbConnection, limit: int) -> int:
        conn = await db.get()
        started = time.monotonic()
        sql, params = self._claim_call(limit)
        cursor = await conn.execute(sql, params)
        rows = await cursor.fetchall()
        self.stats.claim_seconds += time.monotonic() - started
        CLAIM_SECONDS.observe(time.monotonic() - started)
        if not rows:
            return 0
        deadline = started + self._lease_budget
        if self.stats.first_claim is None:
            self.stats.first_claim = started
        self.stats.claimed += len(rows)
        LEASE_RECLAIMS.inc(sum(1 for row in rows if row.get("reclaimed")))
        down: list[Job] = []
        for row in rows:
            if row["message_id"] in self._inflight:
                continue  # our own expired lease, still being handled: its result is on its way
            self._inflight.add(row["message_id"])
            self._backlog += 1
            relay = self._relay_for(row)
            key = relay_key(row)
            job = Job(row, relay, deadline, relay_key=key)
            if self._circuit(key, relay).down:
                down.append(job)
                continue
            queue = self._relays.get(relay.key)
            if queue is None:
                queue = self._relays[relay.key] = RelayQueue(relay)
            queue.put(job)
            self._ensure_senders(queue)
        if down:
            # Mail of a down relay (claimed before the claim could skip it) goes back at once, unspent.
            await asyncio.gather(*(self._finish(job, "release", None, None, None) for job in down))
        return len(rows) - len(down)

    def _relay_for(self, row: dict[str, Any]) -> Relay:
        host = row.get("smtp_host")
        if not host:
            return self.options.default_relay
        security = row.get("smtp_security") or "starttls"
        port = row.get("smtp_port") or {"tls": 465, "starttls": 587}.get(security, 25)
        return Relay(host, port, security, row.get("smtp_username"), row.get("smtp_password_env"))

    # -- relays: circuit breakers and probes --------------------------------------------------------------

    def _circuit(self, key: str, relay: Relay) -> RelayCircuit:
        circuit = self._circuits.get(key)
        if circuit is None:
            opts = self.options
            circuit = self._circuits[key] = RelayCircuit(
                f"{relay.host}:{relay.port}", opts.relay_trip_failures, opts.relay_probe_min_seconds,
                opts.relay_probe_max_seconds)
            RELAY_UP.labels(relay=circuit.name).set(1)
        return circuit

    def relays_down(self) -> list[str]:
        """host:port of every relay whose circuit is open (GET /ready shows them)."""
        return sorted(c.name for c in self._circuits.values() if c.down)

    def _down_relay_keys(self) -> list[str]:
        return sorted(key for key, c in self._circuits.items() if c.down)

    def _relay_failed(self, job: Job, result: SendResult) -> None:
        """A connection-level failure: counted by the relay's circuit, which may open now."""
        circuit = self._circuits[job.relay_key]
        self.stats.connection_failures += 1
        if not circuit.failure(result.error or "connection failed"):
            return
        self.stats.relays_tripped += 1
        RELAY_UP.labels(relay=circuit.name).set(0)
        log.warning("relay %s is down after %d connection failures in a row (%s): its mail stays queued "
                    "without spending attempts; probing it", circuit.name, circuit.failures, circuit.reason,
                    extra={"relay": circuit.name, "relay_state": "down", "reason": circuit.reason,
                           "failures": circuit.failures})
        running = self._probes.get(job.relay_key)
        if running is None or running.done():
            self._probes[job.relay_key] = asyncio.create_task(self._probe(circuit, job.relay),
                                                              name=f"probe-{circuit.name}")

    async def _probe(self, circuit: RelayCircuit, relay: Relay) -> None:
        """Probe a down relay with backoff until it answers; then wake the claimer."""
        timeout = min(self.options.smtp_timeout, 10.0)
        while circuit.down and not self.stopping:
            await self._sleep(circuit.probe_in())
            if self.stopping:
                return
            try:
                await probe(relay, timeout)
            except Exception as exc:  # noqa: BLE001 - whatever it is, the relay is not usable yet
                circuit.probe_failed()
                RELAY_PROBES.labels(relay=circuit.name, result="failed").inc()
                code = getattr(exc, "code", None)
                self.failure_log.record(circuit.name, code if isinstance(code, int) else None,
                                        f"probe: {type(exc).__name__}: {exc}"[:500])
                continue
            RELAY_PROBES.labels(relay=circuit.name, result="ok").inc()
            self._relay_answered(circuit)

    def _relay_answered(self, circuit: RelayCircuit) -> None:
        """The relay answered (a probe, or a send that was under way when it went down): up again."""
        failed_probes = circuit.probes
        outage = circuit.success()
        if outage is None:
            return
        self.failure_log.flush(circuit.name)
        RELAY_UP.labels(relay=circuit.name).set(1)
        log.info("relay %s is back after %.1fs down (%d failed probes): sending again", circuit.name, outage,
                 failed_probes, extra={"relay": circuit.name, "relay_state": "up", "outage_seconds": round(outage, 3)})
        self._wake.set()

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
        return (self.stopping or self._held(job.row) or time.monotonic() > job.deadline
                or self._circuits[job.relay_key].down)

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
        outcome = self._smtp_outcome(job, result)
        await self._finish(job, outcome, result.response, result.error, composed.subject)

    def _smtp_outcome(self, job: Job, result: SendResult) -> str:
        """Count and log one SMTP exchange; a connection-level failure releases the message (the relay's
        fault: no attempt spent) and counts against the relay's circuit."""
        code = result.code if result.code is not None else (250 if result.outcome == "sent" else None)
        SMTP_REPLIES.labels(code_class=f"{code // 100}xx" if code else "none").inc()
        circuit = self._circuits[job.relay_key]
        if result.outcome == "sent":
            self._relay_answered(circuit)
            return "sent"
        self.failure_log.record(circuit.name, result.code, result.error or result.response or result.outcome,
                                logging.INFO if result.outcome == "failed" else logging.WARNING)
        if result.connection_failed:
            self._relay_failed(job, result)
            return "release"
        self._relay_answered(circuit)  # a reply about this message: the relay is there
        return result.outcome

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
        # Mail of a down relay going back does not call for a new claim: the poll (or the relay's
        # return) will.
        if self._backlog <= self.options.batch_size // 2 and not (outcome == "release"
                                                                  and self._circuits[job.relay_key].down):
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
                started = time.monotonic()
                conn = await db.get()
                await conn.execute(f"LISTEN {CHANNEL}")
                self.db_outage.succeeded(started)
                delay = 0.2
                self._wake.set()  # anything queued while we were not listening
                async for notification in conn.notifies():
                    self.handle_notification(notification.payload)
            except asyncio.CancelledError:
                await db.reset()
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect
                self.db_outage.failed("listener", exc)
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


def relay_key(row: dict[str, Any]) -> str:
    """The relay a claimed row goes through, as campaigns._relay_key(smtp_host, smtp_port) computes it:
    '' for the default relay (no smtp_host), else lower(host) || ':' || port ('' when unset)."""
    if "relay_key" in row and row["relay_key"] is not None:
        return row["relay_key"]
    host = row.get("smtp_host")
    if not host:
        return ""
    port = row.get("smtp_port")
    return f"{host.lower()}:{'' if port is None else port}"
