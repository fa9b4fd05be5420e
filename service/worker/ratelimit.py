"""Per-tenant send pacing: a token bucket (GCRA form) per tenant and worker process.

`tenants.max_send_rate_per_second` is the rate; the burst is one second's worth. Each acquire
reserves the next free instant, so concurrent sender tasks are paced without polling. The limit is
per worker process: with N workers a tenant may reach N times the rate (see docs/worker.md).
"""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    __slots__ = ("interval", "burst", "tat")

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.burst = max(1.0, rate) * self.interval  # seconds of credit
        self.tat = 0.0  # theoretical arrival time of the next send

    def reserve(self, now: float) -> float:
        """Reserve one send; returns how long to wait before doing it."""
        tat = max(self.tat, now)
        self.tat = tat + self.interval
        return max(0.0, tat + self.interval - self.burst - now)


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[object, TokenBucket] = {}

    async def acquire(self, key: object, rate: float | None) -> None:
        if not rate or rate <= 0:
            return
        rate = float(rate)  # numeric(10,2) arrives as Decimal
        bucket = self._buckets.get(key)
        if bucket is None or abs(bucket.interval - 1.0 / rate) > 1e-12:
            bucket = self._buckets[key] = TokenBucket(rate)
        wait = bucket.reserve(time.monotonic())
        if wait > 0:
            await asyncio.sleep(wait)
