"""The embedded PostgreSQL cluster: the default database when no DATABASE_URL is given.

One piece of code for the run command, the tests and the benchmarks. It creates a cluster under a
local folder with pg_cron preloaded, starts and stops it idempotently, and installs the missing
Debian packages when it runs as root. PostgreSQL refuses to run as root, so as root every server
command runs as the `postgres` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from service.config import DevSettings

APP_DATABASE = "campaigns"


class EmbeddedPostgresError(RuntimeError):
    """The cluster cannot be created or started; the message says what to do."""


def _is_root() -> bool:
    return os.geteuid() == 0


def _apt_install(*packages: str) -> None:
    if not _is_root():
        raise EmbeddedPostgresError(
            f"missing Debian packages {' '.join(packages)}: install them with "
            f"`sudo apt-get install -y {' '.join(packages)}` or set DATABASE_URL to an existing server"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", *packages], check=True, env=env, stdout=subprocess.DEVNULL)


def find_bindir() -> Path:
    """The newest installed PostgreSQL server's bin directory, installing the server if absent."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name)
    )
    if not candidates:
        _apt_install("postgresql")
        return find_bindir()
    return Path(candidates[-1]).parent


def major_version(bindir: Path) -> int:
    return int(bindir.parent.name)


def ensure_pg_cron(bindir: Path) -> None:
    major = major_version(bindir)
    if not Path(f"/usr/share/postgresql/{major}/extension/pg_cron.control").exists():
        _apt_install(f"postgresql-{major}-cron")


@dataclass
class EmbeddedPostgres:
    """A cluster in `folder` (data in folder/data, socket in folder), listening on 127.0.0.1:port."""

    folder: Path
    port: int = DevSettings.pg_port
    dbname: str = APP_DATABASE

    def __post_init__(self) -> None:
        self.folder = Path(self.folder).resolve()
        self.bindir = find_bindir()

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def log_file(self) -> Path:
        return self.folder / "postgres.log"

    def url(self, dbname: str | None = None) -> str:
        return f"postgresql://postgres@/{dbname or self.dbname}?host={self.folder}&port={self.port}"

    # -- running server commands as the right user ---------------------------------------------

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if _is_root():
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    def _own(self, path: Path) -> None:
        if _is_root():
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _check_traversable(self) -> None:
        """As root the server runs as postgres, which must reach the folder through every parent."""
        if not _is_root():
            return
        probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(self.folder)])
        if probe.returncode != 0:
            raise EmbeddedPostgresError(
                f"the postgres user cannot write to {self.folder}: make its parent folders "
                "traversable (chmod o+x) or choose another folder with CAMPAIGNS_PG_DIR"
            )

    # -- lifecycle --------------------------------------------------------------------------------

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def init(self) -> None:
        ensure_pg_cron(self.bindir)
        if self.is_initialised():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self._own(self.folder)
        self._check_traversable()
        # Local development only: trust on the socket and loopback; fsync stays on.
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
            "--auth-local=trust", "--auth-host=trust",
        )
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# campaigns: embedded cluster settings\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.folder}'\n"
                "shared_preload_libraries = 'pg_cron'\n"
                f"cron.database_name = '{self.dbname}'\n"
                # Jobs run in background workers: no connection, so no password, is needed.
                "cron.use_background_workers = on\n"
                "max_worker_processes = 32\n"
                "max_connections = 200\n"
                "timezone = 'UTC'\n"
                "log_timezone = 'UTC'\n"
            )

    def start(self) -> bool:
        """Start the cluster; returns False when it was already running (a no-op)."""
        self.init()
        if self.is_running():
            return False
        self.log_file.touch()
        self._own(self.log_file)
        result = self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data_dir), "-l", str(self.log_file),
            "-o", f"-p {self.port}", check=False,
        )
        if result.returncode != 0:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise EmbeddedPostgresError(f"PostgreSQL did not start on port {self.port}:\n{result.stderr}\n{tail}")
        self.create_database(self.dbname)
        return True

    def stop(self) -> bool:
        """Stop the cluster cleanly (fast shutdown); returns False when it was not running."""
        if not self.is_running():
            return False
        self._run("pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", str(self.data_dir))
        return True

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def status(self) -> str:
        if not self.is_initialised():
            return f"not initialised ({self.data_dir})"
        if self.is_running():
            return f"running on 127.0.0.1:{self.port} (data {self.data_dir})"
        return f"stopped (data {self.data_dir})"

    def create_database(self, dbname: str) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
                    if not exists:
                        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def default_cluster() -> EmbeddedPostgres:
    """The project's local cluster, configured by CAMPAIGNS_PG_DIR and CAMPAIGNS_PG_PORT."""
    from service.config import get_settings

    dev = get_settings().dev
    return EmbeddedPostgres(folder=Path(dev.pg_dir), port=dev.pg_port)
