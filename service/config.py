"""Settings, read once from the environment, in sections.

Each setting is one dataclass field that names its environment variable and carries its default:
that field is the only place the default is written. `reference()` lists them all (the
configuration tables of README.md and docs/deploy.md are checked against it by a test), and
`WorkerOptions` takes its defaults from `WorkerSettings`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

from service.eventloop import CHOICES as EVENT_LOOPS

SMTP_SECURITY_MODES = ("none", "starttls", "tls")
LOG_FORMATS = ("auto", "json", "text")


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _lower(value: str) -> str:
    return value.strip().lower()


def setting(env: str, default: Any, parse: Callable[[str], Any] = str, *, secret: bool = False,
            choices: tuple[str, ...] | None = None, doc: str = "", shown: str | None = None) -> Any:
    """A field read from `env` (an empty value counts as unset), parsed by `parse`. `shown` is how the
    documentation states a default computed from other settings."""
    return field(default=default, repr=not secret,
                 metadata={"env": env, "parse": parse, "choices": choices, "doc": doc, "shown": shown})


@dataclass(frozen=True)
class DatabaseSettings:
    url: str | None = setting("DATABASE_URL", None, doc="a PostgreSQL URL; unset: the embedded cluster (`campaignctl db up`)")
    pool_min: int = setting("CAMPAIGNS_POOL_MIN", 2, int, doc="the API's database pool: connections kept open")
    pool_max: int = setting("CAMPAIGNS_POOL_MAX", 10, int, doc="the API's database pool: connections at most (one per request in flight)")


@dataclass(frozen=True)
class ApiSettings:
    host: str = setting("CAMPAIGNS_API_HOST", "127.0.0.1", doc="the address the API listens on")
    port: int = setting("CAMPAIGNS_API_PORT", 8000, int, doc="the port the API listens on")


def _key_list(value: str) -> tuple[str, ...]:
    return tuple(key.strip() for key in value.split(",") if key.strip())


@dataclass(frozen=True)
class LinkSettings:
    """The links put in emails and report links, and the keys that sign them."""

    # None: http://<api host>:<api port> (see Settings.public_url).
    public_url: str | None = setting("CAMPAIGNS_PUBLIC_URL", None, lambda v: v.rstrip("/"), shown="http://<host>:<port>",
                                     doc="base of tracking, unsubscribe and report links (https in production)")
    # Signs tracking, unsubscribe and report tokens (HMAC-SHA256); checked at start-up (check_secret_keys).
    secret_key: str | None = setting("CAMPAIGNS_SECRET_KEY", None, secret=True,
                                     doc="signs tracking, unsubscribe and report tokens (HMAC-SHA256): at least 32 random bytes, e.g. `openssl rand -hex 32`; the API and the worker refuse to start when it is unset, shorter or a placeholder")
    # Verify only: links in mail sent before a rotation keep working while their key is listed here.
    previous_secret_keys: tuple[str, ...] = setting("CAMPAIGNS_PREVIOUS_SECRET_KEYS", (), _key_list, secret=True, shown="unset",
                                                    doc="earlier keys, comma-separated, newest first: tokens they signed are still accepted, nothing new is signed with them (key rotation)")

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """Every key that verifies, the signing one first; none without CAMPAIGNS_SECRET_KEY."""
        if not self.secret_key:
            return ()
        return tuple(dict.fromkeys((self.secret_key, *self.previous_secret_keys)))


@dataclass(frozen=True)
class SmtpSettings:
    """The default relay; a sender account may name its own (sender_accounts.smtp_*)."""

    host: str = setting("SMTP_HOST", "localhost", doc="the default relay the worker sends through (a sender account may name its own)")
    port: int = setting("SMTP_PORT", 1025, int, doc="the relay's port")
    username: str | None = setting("SMTP_USERNAME", None, doc="relay authentication")
    password: str | None = setting("SMTP_PASSWORD", None, secret=True, doc="relay authentication (never logged)")
    # none | starttls | tls (implicit TLS, usually port 465).
    tls: str = setting("SMTP_TLS", "none", _lower, choices=SMTP_SECURITY_MODES, doc="`none`, `starttls` or `tls` (implicit TLS, usually port 465)")
    timeout: float = setting("SMTP_TIMEOUT", 30.0, float, doc="seconds per SMTP command")
    # Envelope sender and From when neither the sender account nor the campaign names one.
    default_from: str = setting("CAMPAIGNS_DEFAULT_FROM", "campaigns@localhost",
                                doc="From when neither sender account nor campaign names one")


@dataclass(frozen=True)
class WorkerSettings:
    batch_size: int = setting("CAMPAIGNS_WORKER_BATCH_SIZE", 100, int, doc="messages claimed per batch")
    lease_seconds: float = setting("CAMPAIGNS_WORKER_LEASE_SECONDS", 300.0, float,
                                   doc="a claim's lease; a dead worker's messages are reclaimed after it")
    poll_seconds: float = setting("CAMPAIGNS_WORKER_POLL_SECONDS", 2.0, float,
                                  doc="polling interval besides `LISTEN campaigns_outbox`")
    # SMTP connections per relay, per worker process.
    connections: int = setting("CAMPAIGNS_WORKER_CONNECTIONS", 4, int, doc="SMTP connections per relay")
    # First retry delay; doubled per attempt up to retry_max_seconds (the formula is in SQL).
    retry_base_seconds: float = setting("CAMPAIGNS_WORKER_RETRY_BASE_SECONDS", 60.0, float, doc="first retry delay (doubled per attempt, in SQL)")
    retry_max_seconds: float = setting("CAMPAIGNS_WORKER_RETRY_MAX_SECONDS", 3600.0, float, doc="the longest retry delay")
    # A transient failure is retried until this long after the first one (then a dead letter:
    # retry_lifetime_expired); a sender account's or tenant's retry_lifetime takes precedence.
    retry_lifetime_seconds: float = setting(
        "CAMPAIGNS_WORKER_RETRY_LIFETIME_SECONDS", 172800.0, float,
        doc="how long transient failures are retried, from the first one, unless the sender account or tenant sets `retry_lifetime` (2 days)")
    # Expired leases (a worker died holding the message) taken over at most this many times; the
    # next expiry makes the message a dead letter (worker_crashed).
    max_reclaims: int = setting("CAMPAIGNS_WORKER_MAX_RECLAIMS", 5, int,
                                doc="how many times a dead worker's message is taken over before it is a dead letter (`worker_crashed`)")
    shutdown_seconds: float = setting("CAMPAIGNS_WORKER_SHUTDOWN_SECONDS", 30.0, float,
                                      doc="how long SIGTERM waits for in-flight sends")
    # auto (uvloop when installed), uvloop or asyncio: the standalone worker's event loop.
    event_loop: str = setting("CAMPAIGNS_WORKER_EVENT_LOOP", "auto", _lower, choices=EVENT_LOOPS,
                              doc="`auto` (uvloop when installed), `uvloop` or `asyncio`: the standalone worker's event loop")
    # Run the outbox worker inside the API process (service.worker.lifespan).
    in_api: bool = setting("CAMPAIGNS_WORKER_IN_API", False, _bool, doc="also run the outbox worker inside the API process")
    # The relay circuit breaker (service.worker.circuit): a relay that refuses connections is probed,
    # not tried with every message; a probe is one connection, so a 5 s cap costs a relay nothing and
    # sending resumes within 5 s of its return.
    relay_trip_failures: int = setting("CAMPAIGNS_WORKER_RELAY_TRIP_FAILURES", 5, int,
                                       doc="consecutive connection failures (refused, reset, timeout before the greeting, TLS) after which a relay is down: its mail stays queued, unspent, while the relay is probed")
    relay_probe_max_seconds: float = setting("CAMPAIGNS_WORKER_RELAY_PROBE_MAX_SECONDS", 5.0, float,
                                             doc="the longest wait between two probes of a down relay (they start at 0.5 s and double): sending resumes within this long of the relay's return")
    # Repeats of one (relay, reply code) within this window are one log line with a count.
    failure_log_seconds: float = setting("CAMPAIGNS_WORKER_FAILURE_LOG_SECONDS", 60.0, float,
                                         doc="SMTP failures of one relay and reply code: the first is logged at once, its repeats within this window as one line with a count")
    startup_seconds: float = setting("CAMPAIGNS_WORKER_STARTUP_SECONDS", 30.0, float,
                                     doc="how long `campaignctl worker` waits for its database at start-up before it exits 1, naming the error")
    # prometheus_client's own HTTP server, on a thread: the standalone worker's /metrics.
    metrics_port: int = setting("CAMPAIGNS_WORKER_METRICS_PORT", 0, int,
                                doc="the standalone worker serves its counters on `/metrics` at this port; 0: not served")
    metrics_host: str = setting("CAMPAIGNS_WORKER_METRICS_HOST", "127.0.0.1",
                                doc="the address of the standalone worker's `/metrics` (`0.0.0.0` for a scraper on another host)")


@dataclass(frozen=True)
class WebhookSettings:
    """Outgoing webhooks (service.webhooks): what the worker may call and how."""

    allowed_networks: str = setting("CAMPAIGNS_WEBHOOK_ALLOWED_NETWORKS", "", shown="none",
                                    doc="CIDRs (comma-separated) of internal addresses webhooks may still call, e.g. `127.0.0.0/8`; loopback, private and link-local targets are refused otherwise")
    timeout_seconds: float = setting("CAMPAIGNS_WEBHOOK_TIMEOUT_SECONDS", 10.0, float,
                                     doc="how long one webhook POST may take before it counts as failed")
    concurrency: int = setting("CAMPAIGNS_WEBHOOK_CONCURRENCY", 8, int, doc="webhook POSTs in flight per worker process")
    retry_base_seconds: float = setting("CAMPAIGNS_WEBHOOK_RETRY_BASE_SECONDS", 5.0, float,
                                        doc="scales the retry schedule 5 s, 5 min, 30 min, 2 h, 5 h, 10 h… (in SQL); for tests")


@dataclass(frozen=True)
class LoggingSettings:
    # auto: readable lines on a terminal, JSON lines otherwise.
    format: str = setting("CAMPAIGNS_LOG_FORMAT", "auto", _lower, choices=LOG_FORMATS,
                          doc="`auto`: readable lines on a terminal, else JSON lines (`ts`, `level`, `logger`, `message`, `request_id`, `message_id`, `exception`); or `json`, `text`")
    level: str = setting("CAMPAIGNS_LOG_LEVEL", "INFO", lambda v: v.strip().upper(), doc="the root log level")


@dataclass(frozen=True)
class DevSettings:
    """The development-only pieces (service.dev): embedded cluster, SMTP catcher, demo."""

    pg_dir: str = setting("CAMPAIGNS_PG_DIR", ".local/pg", doc="the embedded cluster's folder (development)")
    pg_port: int = setting("CAMPAIGNS_PG_PORT", 54329, int, doc="the embedded cluster's port, on 127.0.0.1 only (development)")
    maildir: str = setting("CAMPAIGNS_MAILDIR", ".local/mail", doc="where the local SMTP catcher keeps mail (development)")
    demo_file: str = setting("CAMPAIGNS_DEMO_FILE", ".local/demo.json", doc="the demo tenant's id and key, kept by `campaignctl run` (development)")


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    links: LinkSettings = field(default_factory=LinkSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    dev: DevSettings = field(default_factory=DevSettings)

    @property
    def public_url(self) -> str:
        """Base of the public links: CAMPAIGNS_PUBLIC_URL, else the API's own address."""
        return self.links.public_url or f"http://{self.api.host}:{self.api.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(**{f.name: _section(f.default_factory, env) for f in fields(cls)})  # type: ignore[misc]


def _section(cls: Any, env: Mapping[str, str]) -> Any:
    values: dict[str, Any] = {}
    for f in fields(cls):
        raw = env.get(f.metadata["env"])
        if raw is None or raw.strip() == "":
            continue
        value = f.metadata["parse"](raw)
        choices = f.metadata["choices"]
        if choices and value not in choices:
            raise ValueError(f"{f.metadata['env']} must be one of {', '.join(choices)}, not {value!r}")
        values[f.name] = value
    return cls(**values)


def reference() -> Iterator[tuple[str, str, str, str]]:
    """Every setting as (section, environment variable, default as documented, meaning)."""
    for section in fields(Settings):
        for f in fields(section.default_factory):  # type: ignore[arg-type]
            yield section.name, f.metadata["env"], f.metadata["shown"] or shown_default(f.default), f.metadata["doc"]


def shown_default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def settings_table() -> str:
    """The environment variables as the Markdown table of docs/deploy.md (a test keeps them equal)."""
    lines = ["| variable | default | section | meaning |", "|---|---|---|---|"]
    for section, env, default, doc in reference():
        lines.append(f"| `{env}` | {'unset' if default == 'unset' else f'`{default}`'} | {section} | {doc} |")
    return "\n".join(lines) + "\n"


# -- signing keys -----------------------------------------------------------------------------------

MIN_SECRET_BYTES = 32
# Lower-cased fragments of the placeholders that example files and documentation show: a key holding
# one was copied, not generated, and anyone who read the same page could forge links with it.
PLACEHOLDER_MARKERS = ("change-me", "changeme", "change_me", "replace-me", "replace_me", "placeholder",
                       "your-secret", "your_secret", "yoursecret", "insecure", "not-secret", "example")
_MIN_DISTINCT_CHARACTERS = 8


class SecretKeyError(ValueError):
    """A signing key that must not be used: the service refuses to start (never says the key itself)."""


def secret_key_problem(key: str | None) -> str | None:
    """Why this key cannot sign or verify links, or None when it can."""
    if not key:
        return "is not set"
    if len(key.encode("utf-8")) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    lowered = key.lower()
    if any(marker in lowered for marker in PLACEHOLDER_MARKERS):
        return "is a documented placeholder"
    if len(set(key)) < _MIN_DISTINCT_CHARACTERS:
        return "is not random (too few distinct characters)"
    return None


def check_secret_keys(links: LinkSettings) -> tuple[str, ...]:
    """The signing keys, newest first, or SecretKeyError when one is missing, short or a placeholder.
    The API (create_app) and the worker (WorkerOptions.from_settings) call it before they start; only the
    local demo (service.dev.demo) generates a key of its own instead."""
    how = "generate one with `openssl rand -hex 32` (key rotation: docs/deploy.md)"
    problem = secret_key_problem(links.secret_key)
    if problem:
        raise SecretKeyError(f"CAMPAIGNS_SECRET_KEY {problem}: tracking, unsubscribe and report links could be forged "
                             f"or could not be signed; {how}")
    for position, key in enumerate(links.previous_secret_keys, start=1):
        problem = secret_key_problem(key)
        if problem:
            raise SecretKeyError(f"CAMPAIGNS_PREVIOUS_SECRET_KEYS: key {position} {problem}: links signed with it "
                                 f"could be forged; remove it, or {how}")
    return links.secret_keys


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def resolve_database_url(start_embedded: bool = True) -> str:
    """DATABASE_URL when set; otherwise the embedded cluster's URL (started when asked)."""
    settings = get_settings()
    if settings.database.url:
        return settings.database.url
    from service.dev.embedded_pg import default_cluster

    cluster = default_cluster()
    if start_embedded:
        cluster.start()
    return cluster.url()
