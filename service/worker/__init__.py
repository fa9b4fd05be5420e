"""The outbox worker: claims queued email_messages, renders and sends them over SMTP, records results.

    options.py     WorkerOptions: the knobs, from the settings by default
    worker.py      Worker: the claim loop, the sender tasks, hold notifications, shutdown
    queues.py      Job and the per-relay queues the senders drain
    recorder.py    Recorder: results written back in groups (record_send_results)
    connection.py  the worker's self-healing database connections, the start-up wait, outage logging
    circuit.py     RelayCircuit: a relay that refuses connections is probed, its mail left unspent
    failure_log.py SMTP failures logged with relay, code and reply; repeats aggregated with a count
    compose.py, render.py, smtp.py, ratelimit.py: a message from row to SMTP

Run it standalone with `campaignctl worker` (`--once` drains what is due and exits), or inside the
API process with `service.worker.lifespan.worker_lifespan` (CAMPAIGNS_WORKER_IN_API=1).
"""

from service.worker.connection import redact_dsn
from service.worker.options import WorkerOptions
from service.worker.stats import WorkerStats
from service.worker.worker import Worker, run_worker

__all__ = ["Worker", "WorkerOptions", "WorkerStats", "redact_dsn", "run_worker"]
