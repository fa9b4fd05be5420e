"""`campaignctl migrate`: yoyo migrations, then every db/functions file, then the pg_cron jobs.

yoyo's post-apply hook does not run when no migration is pending, so the functions are applied here,
on every run, in one transaction: a failing file leaves the previous definitions in place.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from yoyo import get_backend, read_migrations

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "db" / "migrations"
FUNCTIONS_DIR = ROOT / "db" / "functions"
# yoyo's bookkeeping tables live apart from the application schema.
YOYO_SCHEMA = "campaigns_migrations"
# Serialises concurrent migrate runs against one database.
MIGRATE_LOCK_KEY = 7_283_640_001


@dataclass
class MigrateReport:
    migrations_applied: list[str] = field(default_factory=list)
    function_files: list[str] = field(default_factory=list)
    functions_changed: int = 0
    cron_jobs: list[str] | None = None  # None: pg_cron is not in this database

    def summary(self) -> str:
        """One line: what this run changed."""
        applied = self.migrations_applied
        migrations = (f"{len(applied)} migrations applied ({applied[0]} … {applied[-1]})" if len(applied) > 1
                      else f"1 migration applied ({applied[0]})" if applied else "no migration pending")
        cron = ("pg_cron not in this database, jobs not installed" if self.cron_jobs is None
                else f"pg_cron jobs: {len(self.cron_jobs)} installed")
        return (f"migrate: {migrations}; {len(self.function_files)} function files applied "
                f"({self.functions_changed} definitions changed); {cron}")


def _yoyo_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
            break
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}schema={YOYO_SCHEMA}"


def _functions_digest(conn: psycopg.Connection) -> dict[str, str]:
    rows = conn.execute(
        """
        SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'campaigns' AND p.prokind IN ('f', 'p')
        """
    ).fetchall()
    return {name: hashlib.sha256(body.encode()).hexdigest() for name, body in rows}


@contextmanager
def _quiet_yoyo() -> Iterator[None]:
    """yoyo logs every step it applies at INFO; the summary line says what matters."""
    logger = logging.getLogger("yoyo")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def apply_migrations(url: str) -> list[str]:
    migrations = read_migrations(str(MIGRATIONS_DIR))
    # The backend's connection must close here: an open one would block CREATE DATABASE … TEMPLATE.
    with _quiet_yoyo(), get_backend(_yoyo_url(url)) as backend, backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]


def apply_functions(conn: psycopg.Connection, report: MigrateReport) -> None:
    before = _functions_digest(conn)
    with conn.transaction():
        for path in sorted(FUNCTIONS_DIR.glob("*.sql")):
            conn.execute(path.read_text())
            report.function_files.append(path.name)
    after = _functions_digest(conn)
    report.functions_changed = sum(1 for name, digest in after.items() if before.get(name) != digest)


def install_cron_jobs(conn: psycopg.Connection, report: MigrateReport) -> None:
    """pg_cron lives in one database per cluster (cron.database_name); elsewhere this is skipped."""
    cron_db = conn.execute(
        """
        SELECT current_setting('cron.database_name', true) = current_database()
           AND EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_cron')
        """
    ).fetchone()[0]
    if not cron_db:
        return
    with conn.transaction():
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        conn.execute("SELECT campaigns.schedule_jobs()")
        jobs = conn.execute("SELECT jobname, schedule FROM cron.job WHERE jobname LIKE 'campaigns.%' ORDER BY jobname").fetchall()
    report.cron_jobs = [f"{name} [{schedule}]" for name, schedule in jobs]


def migrate(url: str) -> MigrateReport:
    report = MigrateReport()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK_KEY,))
        try:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {YOYO_SCHEMA}")
            report.migrations_applied = apply_migrations(url)
            apply_functions(conn, report)
            install_cron_jobs(conn, report)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK_KEY,))
    return report
