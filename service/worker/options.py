"""What a worker needs to run: from Settings by default; tests and the bench override fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.config import Settings, SmtpSettings, WorkerSettings, check_secret_keys, get_settings
from service.worker.smtp import Relay


@dataclass
class WorkerOptions:
    """The worker's knobs. Defaults are those of the settings (service.config)."""

    public_url: str
    secret_key: str = field(repr=False)
    default_relay: Relay = field(default=None)  # type: ignore[assignment]
    default_from: str = SmtpSettings.default_from
    smtp_timeout: float = SmtpSettings.timeout
    batch_size: int = WorkerSettings.batch_size
    lease_seconds: float = WorkerSettings.lease_seconds
    poll_seconds: float = WorkerSettings.poll_seconds
    max_connections: int = WorkerSettings.connections
    retry_base_seconds: float = WorkerSettings.retry_base_seconds
    retry_max_seconds: float = WorkerSettings.retry_max_seconds
    retry_lifetime_seconds: float = WorkerSettings.retry_lifetime_seconds
    max_reclaims: int = WorkerSettings.max_reclaims
    shutdown_seconds: float = WorkerSettings.shutdown_seconds
    relay_trip_failures: int = WorkerSettings.relay_trip_failures
    relay_probe_min_seconds: float = 0.5
    relay_probe_max_seconds: float = WorkerSettings.relay_probe_max_seconds
    failure_log_seconds: float = WorkerSettings.failure_log_seconds
    # None: wait for the database as long as it takes (the in-API worker); else exit after this long.
    startup_seconds: float | None = None
    # Concurrent record_send_results calls (group commit per call).
    recorders: int = 1

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> WorkerOptions:
        s = settings or get_settings()
        if "secret_key" not in overrides:
            check_secret_keys(s.links)  # refuses a missing, short or placeholder key
        smtp, worker = s.smtp, s.worker
        values: dict[str, Any] = dict(
            public_url=s.public_url, secret_key=s.links.secret_key,
            default_relay=Relay(smtp.host, smtp.port, smtp.tls, smtp.username, None, smtp.password),
            default_from=smtp.default_from, smtp_timeout=smtp.timeout, batch_size=worker.batch_size,
            lease_seconds=worker.lease_seconds, poll_seconds=worker.poll_seconds,
            max_connections=worker.connections, retry_base_seconds=worker.retry_base_seconds,
            retry_max_seconds=worker.retry_max_seconds, retry_lifetime_seconds=worker.retry_lifetime_seconds,
            max_reclaims=worker.max_reclaims, shutdown_seconds=worker.shutdown_seconds,
            relay_trip_failures=worker.relay_trip_failures, relay_probe_max_seconds=worker.relay_probe_max_seconds,
            failure_log_seconds=worker.failure_log_seconds,
        )
        values.update(overrides)
        return cls(**values)
