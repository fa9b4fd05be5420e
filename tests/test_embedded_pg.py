"""The embedded cluster and the `campaignctl db` commands on a cluster of their own (not the test server)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from service.dev.embedded_pg import EmbeddedPostgres
from service.dev.net import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def folder() -> Iterator[Path]:
    # Under /tmp and world-traversable: as root the server runs as postgres.
    path = Path(tempfile.mkdtemp(prefix="campaigns-embedded-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_lifecycle_is_idempotent_and_keeps_data(folder):
    cluster = EmbeddedPostgres(folder=folder, port=free_port(), dbname="embedded_app")
    try:
        assert cluster.start() is True
        assert cluster.start() is False
        assert cluster.is_running()
        assert "running" in cluster.status()
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            show = lambda name: conn.execute(f"SHOW {name}").fetchone()[0]  # noqa: E731
            assert "pg_cron" in show("shared_preload_libraries")
            assert show("cron.database_name") == "embedded_app"
            assert show("fsync") == "on"
            conn.execute("CREATE TABLE kept (x int)")
            conn.execute("INSERT INTO kept VALUES (42)")

        assert cluster.stop() is True
        assert not cluster.is_running()
        assert "stopped" in cluster.status()
        assert cluster.stop() is False

        assert cluster.start() is True
        with psycopg.connect(cluster.url()) as conn:
            assert conn.execute("SELECT x FROM kept").fetchall() == [(42,)]
    finally:
        cluster.destroy()
    assert not folder.exists()


def _campaignctl() -> list[str]:
    script = ROOT / ".venv" / "bin" / "campaignctl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


def test_cli_db_commands(folder):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CAMPAIGNS_TEST_DATABASE_URL")}
    env.update(CAMPAIGNS_PG_DIR=str(folder / "pg"), CAMPAIGNS_PG_PORT=str(free_port()))

    def ctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*_campaignctl(), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)

    try:
        up = ctl("db", "up")
        assert up.returncode == 0, up.stderr
        assert "DATABASE_URL=postgresql://" in up.stdout
        assert ctl("db", "status").returncode == 0

        migrated = ctl("migrate")
        assert migrated.returncode == 0, migrated.stderr
        assert "pg_cron jobs:" in migrated.stdout

        tenant = ctl("tenant", "create", "Acme")
        assert tenant.returncode == 0, tenant.stderr
        assert any(line.startswith("api_key=ck_") for line in tenant.stdout.splitlines()), tenant.stdout

        down = ctl("db", "down")
        assert down.returncode == 0, down.stderr
        status = ctl("db", "status")
        assert status.returncode == 3, status.stdout + status.stderr
        assert "stopped" in status.stdout
    finally:
        EmbeddedPostgres(folder=folder / "pg", port=int(env["CAMPAIGNS_PG_PORT"])).destroy()
