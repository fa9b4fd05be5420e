"""Fixtures for the outbox worker: a real aiosmtpd server with fault injection, the API with the
tracking routes over real HTTP, and a PostgreSQL cluster of its own that a test may restart without
disturbing the others. Every worker test commits (the worker has connections of its own), so each
gets a fresh database (`db_url`, `conn`). The helpers live in tests.support.smtp and tests.support.outbox."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.config import get_settings
from service.migrate import migrate
from tests.support.api import serve
from service.dev.net import free_port
from tests.support.outbox import PUBLIC_URL, SECRET
from tests.support.smtp import SmtpServer, smtp_server_running


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    """Every worker test signs with the same secret and public URL, read fresh from the environment."""
    monkeypatch.setenv("CAMPAIGNS_SECRET_KEY", SECRET)
    monkeypatch.setenv("CAMPAIGNS_PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server_running() as server:
        yield server


@pytest.fixture
def app_url(db_url: str) -> Iterator[str]:
    """The API over real HTTP: the tracking routes are hit by mail clients and browsers, not by our code."""
    with serve(db_url) as url:
        yield url


# -- a cluster a test may restart -------------------------------------------------------------------


@dataclass
class OwnCluster:
    cluster: Any
    url: str

    def restart(self) -> None:
        """pg_ctl restart (fast shutdown): every connection is cut."""
        self.cluster._run("pg_ctl", "restart", "-w", "-t", "60", "-m", "fast", "-D", str(self.cluster.data_dir),
                          "-l", str(self.cluster.log_file), "-o", f"-p {self.cluster.port}")


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[OwnCluster]:
    from service.dev.embedded_pg import EmbeddedPostgres

    if os.environ.get("CAMPAIGNS_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL"):
        pytest.skip("restarting PostgreSQL needs the embedded cluster (no external server)")
    folder = Path(tempfile.mkdtemp(prefix="campaigns-worker-pg-"))
    folder.chmod(0o755)
    cluster = EmbeddedPostgres(folder=folder, port=free_port(), dbname="campaigns_restart")
    cluster.start()
    try:
        url = cluster.url()
        migrate(url)
        yield OwnCluster(cluster, url)
    finally:
        cluster.destroy()
