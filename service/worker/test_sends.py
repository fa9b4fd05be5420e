"""Test sends: the campaigns.test_sends outbox, delivered beside the mail by the same worker.

A test send is queued by POST /api/campaigns/{id}/steps/{step_id}/test-send with the row the
Composer takes (service/api/preview.py); here it is claimed (campaigns.claim_test_sends: lease, SKIP
LOCKED), composed by the worker's own Composer within the worker's render budget, sent over the
relay the real mail of that campaign would use (one short SMTP session: tests are rare), and
recorded (campaigns.record_test_send). Nothing of the outbox's claim, results or analytics is
involved: a test is not a send of the campaign. Polled (tests are few and a user waits for seconds,
not milliseconds), and woken by the worker's claim loop when it polls anyway.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable
from uuid import UUID

from service.db_errors import describe_db_error
from service.worker.compose import Composer
from service.worker.connection import DbConnection, DbOutage
from service.worker.render_budget import RenderLimitError, compose_within_budget
from service.worker.smtp import Relay, SmtpConnection

log = logging.getLogger("campaigns.worker.test_sends")

Q_CLAIM = "SELECT * FROM campaigns.claim_test_sends(%s, %s, make_interval(secs => %s))"
Q_RECORD = "SELECT campaigns.record_test_send(%s, %s, %s, %s) AS status"
NO_CONTACT = UUID(int=0)  # a test is no contact's mail (the ids only name the MIME boundary here)


def composer_row(job: dict[str, Any]) -> dict[str, Any]:
    """The claimed test as the Composer takes it: the stored row plus the claim's ids and recipient."""
    row = dict(job["message"])
    row.update(message_id=job["test_send_id"], tenant_id=job["tenant_id"], campaign_id=job["campaign_id"],
               step_id=job["step_id"], contact_id=NO_CONTACT, to_email=job["to_email"],
               smtp_message_id=job["smtp_message_id"])
    return row


class TestSender:
    def __init__(self, dsn: str, worker_id: str, composer: Composer, relay_for: Callable[[dict[str, Any]], Relay], *,
                 poll_seconds: float, smtp_timeout: float, lease_seconds: float, once: bool,
                 outage: DbOutage) -> None:
        self.worker_id, self.composer, self.relay_for = worker_id, composer, relay_for
        self.poll_seconds, self.smtp_timeout, self.lease_seconds, self.once = poll_seconds, smtp_timeout, lease_seconds, once
        self.outage = outage
        self.sent = self.failed = 0
        self._db = DbConnection(dsn, "test-sends")

    async def run(self, stopping: asyncio.Event) -> None:
        delay = self.poll_seconds
        try:
            while not stopping.is_set():
                try:
                    conn = await self._db.get()
                    jobs = await (await conn.execute(Q_CLAIM, (self.worker_id, 10, self.lease_seconds))).fetchall()
                    delay = self.poll_seconds
                except Exception as exc:  # noqa: BLE001 - the database came and went: retry
                    self.outage.failed("test-sends", exc)
                    await self._db.reset()
                    jobs, delay = [], min(delay * 2, 5.0)
                for job in jobs:
                    await self._send(job)
                if jobs:
                    continue
                if self.once:
                    return
                try:
                    await asyncio.wait_for(stopping.wait(), delay)
                except asyncio.TimeoutError:
                    pass
        finally:
            await self._db.reset()

    async def _send(self, job: dict[str, Any]) -> None:
        row = composer_row(job)
        permanent = False
        try:
            composed = await compose_within_budget(self.composer, row)
        except RenderLimitError as exc:
            error, permanent = f"render_limit: {exc.limit}: {exc}", True
        else:
            connection = SmtpConnection(self.relay_for(row), self.smtp_timeout)
            try:
                result = await connection.send(composed.mail_from, composed.rcpt, composed.data)
            finally:
                await connection.close()
            error = None if result.outcome == "sent" else (result.error or result.response or result.outcome)
            permanent = result.outcome in ("failed", "rejected")
        try:
            status = (await (await (await self._db.get()).execute(
                Q_RECORD, (job["test_send_id"], self.worker_id, error, permanent))).fetchone())["status"]
        except Exception as exc:  # noqa: BLE001 - the lease runs out and the test is tried again
            await self._db.reset()
            log.warning("test send %s not recorded: %s", job["test_send_id"], describe_db_error(exc))
            return
        if status == "sent":
            self.sent += 1
        else:
            self.failed += 1
            log.warning("test send %s to %s: %s (%s)", job["test_send_id"], job["to_email"], error, status)
