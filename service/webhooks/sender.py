"""The webhook sender: delivers the webhook_deliveries outbox beside the mail.

Claims due deliveries (campaigns.claim_webhook_batch: lease, SKIP LOCKED), POSTs each with httpx,
signed to the Standard Webhooks specification (`webhook-id`, `webhook-timestamp`,
`webhook-signature` = v1,HMAC-SHA256 of "id.timestamp.body" with the subscription's secret), and
records the answer (campaigns.record_webhook_result: retries, lifetime and auto-disable are SQL).
A target that resolves to an internal address is not called (service.webhooks.targets). Woken by
`LISTEN campaigns_webhooks`, and polls besides."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from service.config import WebhookSettings, get_settings
from service.webhooks.targets import TargetNotAllowed, check_target, parse_networks
from service.db_errors import db_error_fields, describe_db_error
from service.worker.connection import DbConnection, DbOutage, is_connection_error

log = logging.getLogger("campaigns.webhooks")

CHANNEL = "campaigns_webhooks"
USER_AGENT = "campaigns-webhooks/1"
Q_CLAIM = "SELECT * FROM campaigns.claim_webhook_batch(%s, %s, %s::interval, now())"
Q_RECORD = ("SELECT campaigns.record_webhook_result(%s, %s, %s, %s, %s, %s, now(), %s::interval) AS status")
Q_RELEASE = "SELECT campaigns.release_webhook_delivery(%s, %s)"


def signed_request(job: dict[str, Any], now: datetime | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery: compact JSON, signed with the subscription's secret."""
    body = json.dumps(job["payload"], separators=(",", ":"), ensure_ascii=False).encode()
    at = now or datetime.now(timezone.utc)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": job["event_id"],
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(job["secret"]).sign(job["event_id"], at, body),
    }
    return body, headers


class WebhookSender:
    def __init__(self, dsn: str, worker_id: str, *, poll_seconds: float = 2.0, once: bool = False,
                 settings: WebhookSettings | None = None, outage: DbOutage | None = None) -> None:
        self.dsn, self.worker_id, self.poll_seconds, self.once = dsn, worker_id, poll_seconds, once
        # Database trouble is logged once per outage, shared with the mail worker's connections.
        self.outage = outage or DbOutage(log)
        self.settings = settings or get_settings().webhooks
        self.allowed = parse_networks(self.settings.allowed_networks)
        self.delivered = self.failed = 0
        self._db = DbConnection(dsn, "webhooks")
        self._db_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(max(1, self.settings.concurrency))
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stopping: asyncio.Event) -> None:
        listener = None if self.once else asyncio.create_task(self._listen(stopping), name="webhook-listener")
        # A stop must end the idle wait at once, not at the next poll.
        stop_watch = asyncio.create_task(self._wake_on(stopping), name="webhook-stop-watch")
        timeout = httpx.Timeout(self.settings.timeout_seconds)
        delay = 0.2
        try:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                while not stopping.is_set():
                    self._wake.clear()
                    started = time.monotonic()
                    try:
                        jobs = await self._claim()
                        delay = 0.2
                        self.outage.succeeded(started)
                    except Exception as exc:  # noqa: BLE001 - the database came and went: retry
                        self.outage.failed("webhooks", exc)
                        await self._db.reset()
                        await _wait(stopping, delay)
                        delay = min(delay * 2, 5.0)
                        continue
                    for job in jobs:
                        await self._slots.acquire()
                        task = asyncio.create_task(self._deliver(client, job, stopping), name=f"webhook-{job['delivery_id']}")
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                    if jobs:
                        continue
                    if self.once:
                        if not self._tasks:
                            return
                        await asyncio.gather(*self._tasks, return_exceptions=True)
                        continue
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                    except asyncio.TimeoutError:
                        pass
                await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            for task in (listener, stop_watch):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            await self._db.reset()

    async def _wake_on(self, stopping: asyncio.Event) -> None:
        await stopping.wait()
        self._wake.set()

    async def _claim(self) -> list[dict[str, Any]]:
        limit = max(1, self.settings.concurrency * 2)
        async with self._db_lock:
            conn = await self._db.get()
            cur = await conn.execute(Q_CLAIM, (self.worker_id, limit, "2 minutes"))
            return await cur.fetchall()

    async def _deliver(self, client: httpx.AsyncClient, job: dict[str, Any], stopping: asyncio.Event) -> None:
        try:
            if stopping.is_set():
                await self._call(Q_RELEASE, (job["delivery_id"], self.worker_id))
                return
            status, error, text, latency = await self._post(client, job)
            outcome = await self._call(Q_RECORD, (job["delivery_id"], self.worker_id, status, error, latency, text,
                                                  f"{self.settings.retry_base_seconds} seconds"))
            if outcome == "delivered":
                self.delivered += 1
            else:
                self.failed += 1
                log.warning("webhook %s to %s: %s (%s)", job["event_type"], job["url"], error or f"HTTP {status}", outcome,
                            extra={"delivery_id": str(job["delivery_id"])})
        except Exception as exc:  # noqa: BLE001 - the lease runs out and another try follows
            log.warning("webhook delivery %s not recorded: %s", job["delivery_id"], describe_db_error(exc),
                        extra={**db_error_fields(exc), "delivery_id": str(job["delivery_id"])})
        finally:
            self._slots.release()

    async def _post(self, client: httpx.AsyncClient, job: dict[str, Any]) -> tuple[int | None, str | None, str | None, int]:
        started = time.monotonic()
        try:
            await check_target(job["url"], self.allowed)
            body, headers = signed_request(job)
            response = await client.post(job["url"], content=body, headers=headers)
            return response.status_code, None, response.text[:2000], _ms(started)
        except TargetNotAllowed as exc:
            return None, f"target not allowed: {exc}", None, _ms(started)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:2000], None, _ms(started)

    async def _call(self, query: str, params: tuple[Any, ...]) -> Any:
        async with self._db_lock:
            for attempt in (1, 2):
                try:
                    conn = await self._db.get()
                    row = await (await conn.execute(query, params)).fetchone()
                    return next(iter(row.values())) if row else None
                except Exception as exc:
                    await self._db.reset()
                    if attempt == 2 or not is_connection_error(exc):
                        raise
        return None

    async def _listen(self, stopping: asyncio.Event) -> None:
        delay = 0.2
        while not stopping.is_set():
            db = DbConnection(self.dsn, "webhook-listener", role=None)
            try:
                started = time.monotonic()
                conn = await db.get()
                await conn.execute(f"LISTEN {CHANNEL}")
                self.outage.succeeded(started)
                delay = 0.2
                self._wake.set()
                async for _ in conn.notifies():
                    self._wake.set()
            except asyncio.CancelledError:
                await db.reset()
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect
                self.outage.failed("webhook-listener", exc)
            await db.reset()
            await _wait(stopping, delay)
            delay = min(delay * 2, 5.0)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except asyncio.TimeoutError:
        pass
