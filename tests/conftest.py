"""Test harness: a real PostgreSQL with pg_cron, a template database built exactly as `migrate`
builds it, and a fresh database per test.

PostgreSQL is found in this order: CAMPAIGNS_TEST_DATABASE_URL (or DATABASE_URL) naming a server
whose user may create databases; a throwaway embedded cluster created for the run; testcontainers
when a Docker daemon answers.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from service.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
# Tracking, unsubscribe and report links are signed with this; every server a test starts has one.
os.environ.setdefault("CAMPAIGNS_SECRET_KEY", "test-secret-key")
TEMPLATE_DB = f"campaigns_template_{os.getpid()}"
_counter = itertools.count()


@dataclass
class PgServer:
    """A server the tests may create databases on; cron_db is where pg_cron runs (or None)."""

    base_url: str
    cron_db: str | None

    def url(self, dbname: str) -> str:
        return urlunsplit(urlsplit(self.base_url)._replace(path="/" + dbname))

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def create_database(self, name: str, template: str | None = None) -> str:
        with self.admin() as conn:
            stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
            conn.execute(stmt)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means no usable daemon
        return False


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    url = os.environ.get("CAMPAIGNS_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        with psycopg.connect(url, autocommit=True) as conn:
            cron_db = conn.execute("SELECT current_setting('cron.database_name', true)").fetchone()[0]
        yield PgServer(url, cron_db)
        return

    if shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or os.geteuid() == 0:
        from service.dev.embedded_pg import EmbeddedPostgres

        # Under /tmp: as root the server runs as postgres, which must reach the folder.
        folder = Path(tempfile.mkdtemp(prefix="campaigns-test-pg-"))
        folder.chmod(0o755)
        cluster = EmbeddedPostgres(folder=folder, port=_free_port(), dbname="campaigns_cron")
        cluster.start()
        try:
            yield PgServer(cluster.url(), "campaigns_cron")
        finally:
            cluster.destroy()
        return

    if _docker_answers():
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.image import DockerImage
        from testcontainers.core.waiting_utils import wait_for_logs

        with DockerImage(path=str(ROOT / "docker" / "postgres"), tag="campaigns-postgres-test") as image:
            container = (
                DockerContainer(str(image))
                .with_env("POSTGRES_PASSWORD", "postgres")
                .with_env("POSTGRES_DB", "campaigns_cron")
                .with_command("postgres -c shared_preload_libraries=pg_cron -c cron.database_name=campaigns_cron")
                .with_exposed_ports(5432)
            )
            with container:
                wait_for_logs(container, "database system is ready to accept connections", timeout=60)
                host, port = container.get_container_host_ip(), container.get_exposed_port(5432)
                yield PgServer(f"postgresql://postgres:postgres@{host}:{port}/campaigns_cron", "campaigns_cron")
        return

    pytest.exit("no PostgreSQL: set CAMPAIGNS_TEST_DATABASE_URL, install PostgreSQL, or start Docker", returncode=3)


@pytest.fixture(scope="session")
def template_db(pg_server: PgServer) -> Iterator[str]:
    """A database built exactly as a deploy builds it; each test copies it."""
    pg_server.drop_database(TEMPLATE_DB)
    migrate(pg_server.create_database(TEMPLATE_DB))
    yield TEMPLATE_DB
    pg_server.drop_database(TEMPLATE_DB)


@pytest.fixture(scope="session")
def cron_db_url(pg_server: PgServer) -> str:
    """The database pg_cron runs in, migrated (so its scheduled jobs are installed)."""
    if not pg_server.cron_db:
        pytest.skip("this server has no cron.database_name")
    url = pg_server.url(pg_server.cron_db)
    with pg_server.admin() as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (pg_server.cron_db,)).fetchone()
    if not exists:
        pg_server.create_database(pg_server.cron_db)
    migrate(url)
    return url


@pytest.fixture
def db_url(pg_server: PgServer, template_db: str) -> Iterator[str]:
    """A fresh database for one test, copied from the template."""
    name = f"campaigns_test_{os.getpid()}_{next(_counter)}"
    url = pg_server.create_database(name, template=template_db)
    yield url
    pg_server.drop_database(name)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    """A superuser connection in autocommit (the DBA's view); tests open transactions as they need."""
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


def pg_tool(name: str) -> str:
    """A PostgreSQL client program matching the newest installed server."""
    from service.dev.embedded_pg import find_bindir

    try:
        candidate = find_bindir() / name
        if candidate.exists():
            return str(candidate)
    except Exception:  # noqa: BLE001
        pass
    return shutil.which(name) or name


def run_pg_dump(url: str, *args: str) -> str:
    return subprocess.run([pg_tool("pg_dump"), *args, url], check=True, capture_output=True, text=True).stdout
