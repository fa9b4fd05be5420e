"""Writing send results back: one record_send_results call per group of results (group commit)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import psycopg

from service.db_errors import db_error_fields, describe_db_error
from service.worker.connection import DbConnection, DbOutage, is_connection_error
from service.worker.options import WorkerOptions
from service.worker.queues import Job
from service.worker.stats import WorkerStats

log = logging.getLogger("campaigns.worker")

RECORD_SQL = """
SELECT message_id, status
FROM campaigns.record_send_results(%(worker)s, %(ids)s::uuid[], %(outcomes)s::text[], %(responses)s::text[],
                                   %(errors)s::text[], %(subjects)s::text[], now(), %(retry_base)s::interval,
                                   %(retry_cap)s::interval, %(retry_lifetime)s::interval)
"""


@dataclass(slots=True)
class PendingResult:
    """A result waiting for the next flush; `done` gets the message's status once committed."""

    job: Job
    outcome: str            # sent | retry | failed | rejected | release
    response: str | None    # the relay's reply
    error: str | None
    subject: str | None
    done: asyncio.Future


class Recorder:
    """Writes results back through record_send_results: the results that arrive while one call
    commits go together in the next (group commit); each sender awaits its own result."""

    def __init__(self, dsn: str, worker_id: str, options: WorkerOptions, stats: WorkerStats,
                 outage: DbOutage | None = None) -> None:
        self.worker_id = worker_id
        self.stats = stats
        self.outage = outage or DbOutage(log)
        self.retry_base = f"{options.retry_base_seconds} seconds"
        self.retry_cap = f"{options.retry_max_seconds} seconds"
        self.retry_lifetime = f"{options.retry_lifetime_seconds} seconds"
        self.pending: list[PendingResult] = []
        self.event = asyncio.Event()
        self.conns = [DbConnection(dsn, f"recorder-{i}") for i in range(options.recorders)]
        self.tasks: list[asyncio.Task] = []
        self.busy = 0

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._flusher(c), name=f"recorder-{i}") for i, c in enumerate(self.conns)]

    async def record(self, job: Job, outcome: str, response: str | None, error: str | None,
                     subject: str | None) -> str | None:
        """The message's status after recording, or None when its lease was lost."""
        done = asyncio.get_running_loop().create_future()
        self.pending.append(PendingResult(job, outcome, response, error, subject, done))
        self.event.set()
        return await done

    async def _flusher(self, db: DbConnection) -> None:
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
                _fail(batch, exc)
            finally:
                self.busy -= 1

    async def _flush(self, db: DbConnection, batch: list[PendingResult]) -> None:
        params = {
            "worker": self.worker_id,
            "retry_base": self.retry_base,
            "retry_cap": self.retry_cap,
            "retry_lifetime": self.retry_lifetime,
            "ids": [p.job.row["message_id"] for p in batch],
            "outcomes": [p.outcome for p in batch],
            "responses": [p.response for p in batch],
            "errors": [p.error for p in batch],
            "subjects": [p.subject for p in batch],
        }
        delay = 0.1
        while True:
            try:
                conn = await db.get()
                started = time.monotonic()
                cursor = await conn.execute(RECORD_SQL, params)
                rows = await cursor.fetchall()
                self.stats.flushes += 1
                self.stats.flush_seconds += time.monotonic() - started
                self.outage.succeeded(started)
                break
            except Exception as exc:  # noqa: BLE001 - classified below
                self.stats.db_errors += 1
                if is_connection_error(exc) or isinstance(exc, (psycopg.errors.DeadlockDetected,
                                                                psycopg.errors.SerializationFailure)):
                    # Unknown whether a broken commit went through; replaying is safe (a recorded
                    # row is no longer leased, so the call is a no-op for it). Logged once per outage.
                    self.outage.failed("recorder", exc)
                    await db.reset()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                log.exception("recording %d results failed: %s", len(batch), describe_db_error(exc),
                              extra=db_error_fields(exc))
                _fail(batch, exc)
                return
        statuses = {row["message_id"]: row["status"] for row in rows}
        for p in batch:
            if not p.done.done():
                p.done.set_result(statuses.get(p.job.row["message_id"]))

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


def _fail(batch: list[PendingResult], exc: BaseException) -> None:
    for p in batch:
        if not p.done.done():
            p.done.set_exception(exc)
