"""The send jobs of one claim, and the per-relay queues the sender tasks drain."""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import Any

from service.worker.smtp import Relay


@dataclass(slots=True)
class Job:
    """One claimed message on its way to SMTP."""

    row: dict[str, Any]   # the claim_outbox_batch row
    relay: Relay
    deadline: float       # monotonic time after which the lease may be reclaimed: release, don't send
    finished: bool = False  # a result was handed to the recorder
    relay_key: str = ""     # the relay's circuit (worker.relay_key): '' is the default relay


class RelayQueue:
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
