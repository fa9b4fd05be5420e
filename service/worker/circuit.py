"""The circuit breaker of one SMTP relay: after N consecutive connection-level failures the relay is
down, its mail is left in the queue (no attempt is spent on it), and it is probed with exponential
backoff until it answers again.

    up ──N consecutive connection failures──► down ──probe answers──► up
                                              │  ▲
                                              └──┘ probe fails: next probe after 2× the wait (capped)

The class only keeps the state and the clock arithmetic; the worker connects, probes, logs and
releases. `clock` is injectable so the tests can drive it without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RelayCircuit:
    """Whether one relay is up, and when to probe it while it is down."""

    def __init__(self, name: str, trip_failures: int = 5, probe_min_seconds: float = 0.5,
                 probe_max_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name  # host:port, as shown in logs and metrics
        self.trip_failures = max(1, trip_failures)
        self.probe_min = min(probe_min_seconds, probe_max_seconds)
        self.probe_max = probe_max_seconds
        self.clock = clock
        self.failures = 0            # consecutive connection-level failures while up
        self.down_since: float | None = None
        self.reason: str | None = None  # the failure that tripped it
        self.probes = 0              # failed probes in this outage
        self._probe_wait = self.probe_min
        self._next_probe = 0.0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failure(self, reason: str) -> bool:
        """A connection-level failure (refused, reset, timeout before the greeting, TLS). True when this
        one trips the circuit (the relay was up and is down now)."""
        if self.down:
            return False
        self.failures += 1
        if self.failures < self.trip_failures:
            return False
        now = self.clock()
        self.down_since, self.reason, self.probes = now, reason, 0
        self._probe_wait = self.probe_min
        self._next_probe = now + self._probe_wait
        return True

    def success(self) -> float | None:
        """The relay answered (a message went through it, or a probe). Returns the outage's duration
        in seconds when this ends one, else None."""
        self.failures = 0
        if self.down_since is None:
            return None
        outage = self.clock() - self.down_since
        self.down_since, self.reason, self.probes = None, None, 0
        return outage

    def probe_failed(self) -> None:
        """A probe of a down relay failed: wait twice as long before the next one, at most probe_max."""
        self.probes += 1
        self._probe_wait = min(self._probe_wait * 2, self.probe_max)
        self._next_probe = self.clock() + self._probe_wait

    def probe_in(self) -> float:
        """Seconds until the next probe is due (0 when due now); only meaningful while down."""
        return max(0.0, self._next_probe - self.clock())
