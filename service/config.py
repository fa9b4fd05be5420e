"""Settings read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

SMTP_SECURITY_MODES = ("none", "starttls", "tls")


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    # None = use the embedded cluster (service.embedded_pg).
    database_url: str | None
    api_host: str
    api_port: int
    # Base of the public links put in emails (tracking, unsubscribe).
    public_base_url: str
    pool_min_size: int
    pool_max_size: int

    # -- outbox worker and tracking (docs/worker.md) ----------------------------------------------
    # The default SMTP relay; a sender account may name its own (sender_accounts.smtp_*).
    smtp_host: str = "localhost"
    smtp_port: int = 1025
    smtp_username: str | None = None
    # Secrets are kept out of repr() so a logged Settings never shows them.
    smtp_password: str | None = field(default=None, repr=False)
    # none | starttls | tls (implicit TLS, usually port 465).
    smtp_tls: str = "none"
    smtp_timeout: float = 30.0
    # Envelope sender and From when neither the sender account nor the campaign names one.
    default_from_email: str = "campaigns@localhost"
    # Signs tracking and unsubscribe tokens (HMAC-SHA256). None: tracking endpoints answer 503 and
    # the worker refuses to start.
    secret_key: str | None = field(default=None, repr=False)
    worker_batch_size: int = 100
    worker_lease_seconds: float = 300.0
    worker_poll_seconds: float = 2.0
    # SMTP connections per relay, per worker process.
    worker_max_connections: int = 4
    # First retry delay; doubled per attempt, capped at one hour (the formula is in SQL).
    worker_retry_base_seconds: float = 60.0
    # The longest retry delay.
    worker_retry_max_seconds: float = 3600.0
    worker_shutdown_seconds: float = 30.0
    # auto (uvloop when installed), uvloop or asyncio: the standalone worker's event loop.
    worker_event_loop: str = "auto"
    # Run the outbox worker inside the API process (service.worker.lifespan.worker_lifespan).
    worker_in_api: bool = False
    # Where `campaignctl smtp-catcher` keeps what it receives.
    maildir: str = ".local/mail"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ
    port = int(env.get("CAMPAIGNS_API_PORT", "8000"))
    host = env.get("CAMPAIGNS_API_HOST", "127.0.0.1")
    smtp_tls = (env.get("SMTP_TLS") or "none").strip().lower()
    if smtp_tls not in SMTP_SECURITY_MODES:
        raise ValueError(f"SMTP_TLS must be one of {', '.join(SMTP_SECURITY_MODES)}, not {smtp_tls!r}")
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        api_host=host,
        api_port=port,
        public_base_url=env.get("CAMPAIGNS_PUBLIC_URL", f"http://{host}:{port}").rstrip("/"),
        pool_min_size=int(env.get("CAMPAIGNS_POOL_MIN", "2")),
        pool_max_size=int(env.get("CAMPAIGNS_POOL_MAX", "10")),
        smtp_host=env.get("SMTP_HOST") or "localhost",
        smtp_port=int(env.get("SMTP_PORT") or "1025"),
        smtp_username=env.get("SMTP_USERNAME") or None,
        smtp_password=env.get("SMTP_PASSWORD") or None,
        smtp_tls=smtp_tls,
        smtp_timeout=float(env.get("SMTP_TIMEOUT") or "30"),
        default_from_email=env.get("CAMPAIGNS_DEFAULT_FROM") or "campaigns@localhost",
        secret_key=env.get("CAMPAIGNS_SECRET_KEY") or None,
        worker_batch_size=int(env.get("CAMPAIGNS_WORKER_BATCH_SIZE") or "100"),
        worker_lease_seconds=float(env.get("CAMPAIGNS_WORKER_LEASE_SECONDS") or "300"),
        worker_poll_seconds=float(env.get("CAMPAIGNS_WORKER_POLL_SECONDS") or "2"),
        worker_max_connections=int(env.get("CAMPAIGNS_WORKER_CONNECTIONS") or "4"),
        worker_retry_base_seconds=float(env.get("CAMPAIGNS_WORKER_RETRY_BASE_SECONDS") or "60"),
        worker_retry_max_seconds=float(env.get("CAMPAIGNS_WORKER_RETRY_MAX_SECONDS") or "3600"),
        worker_shutdown_seconds=float(env.get("CAMPAIGNS_WORKER_SHUTDOWN_SECONDS") or "30"),
        worker_event_loop=(env.get("CAMPAIGNS_WORKER_EVENT_LOOP") or "auto").strip().lower(),
        worker_in_api=_bool(env.get("CAMPAIGNS_WORKER_IN_API")),
        maildir=env.get("CAMPAIGNS_MAILDIR") or ".local/mail",
    )


def resolve_database_url(start_embedded: bool = True) -> str:
    """DATABASE_URL when set; otherwise the embedded cluster's URL (started when asked)."""
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    from service.embedded_pg import default_cluster

    cluster = default_cluster()
    if start_embedded:
        cluster.start()
    return cluster.url()
