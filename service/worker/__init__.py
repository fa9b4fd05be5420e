"""The outbox worker: claims queued email_messages, renders and sends them over SMTP, records results.

Run it standalone with `campaignctl worker` (`--once` drains what is due and exits), or inside the
API process with `service.worker.lifespan.worker_lifespan` (CAMPAIGNS_WORKER_IN_API=1).
"""

from service.worker.core import Worker, WorkerOptions, WorkerStats, run_worker

__all__ = ["Worker", "WorkerOptions", "WorkerStats", "run_worker"]
