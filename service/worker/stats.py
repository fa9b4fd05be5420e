"""A worker's counters, summarised in its log lines and returned by Worker.run()."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


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
    connection_failures: int = 0  # SMTP sessions that could not be opened (released, not retried)
    relays_tripped: int = 0       # times a relay's circuit opened
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
                f"db_errors={self.db_errors} connection_failures={self.connection_failures} "
                f"relays_tripped={self.relays_tripped} busy={busy:.2f}s rate={rate:.0f}/s "
                f"flushes={self.flushes} flush_time={self.flush_seconds:.2f}s claim_time={self.claim_seconds:.2f}s")
