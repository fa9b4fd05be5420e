"""Test harness: a real PostgreSQL with pg_cron and a template database built exactly as `migrate`
builds it. Which database a test gets depends on what it does:

* `tx_conn` (the `conn` of tests/sql and of the worker's SQL-level tests): a connection inside a
  transaction that is rolled back at the end, on one migrated database shared by the session
  (`shared_db_url`); tests.support.rollback says what that changes.
* `db_url` / `conn` elsewhere, and `tx_conn` for tests marked `commits`: a fresh database copied from
  the template (CREATE DATABASE … TEMPLATE) for one test, for tests whose work must be committed:
  several connections, the worker, subprocesses, NOTIFY.
* `module_db_url`: one copy per test module (the API tests: one tenant per test keeps them apart).
* `cron_db_url`: the database pg_cron runs in.

PostgreSQL is found in this order: CAMPAIGNS_TEST_DATABASE_URL (or DATABASE_URL) naming a server
whose user may create databases; a throwaway embedded cluster created for the run; testcontainers
when a Docker daemon answers.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from service.migrate import migrate
from tests.support import rollback
from tests.support.cron import DrainJob, start_drain_job
from service.dev.net import free_port
from tests.support.pg import PgServer, unique_name

ROOT = Path(__file__).resolve().parent.parent
# Tracking, unsubscribe and report links are signed with this; every server a test starts has one (as
# long and as varied as the service demands: it refuses to start with a short or placeholder key).
os.environ.setdefault("CAMPAIGNS_SECRET_KEY", "tests-signing-key-7f3a9c1e5b2d8f4a6c0e9b7d")


# Its pg_cron job is started with the session (pg_cron_drain_job) and its file runs last, so the minute
# pg_cron may take passes while other tests run.
PG_CRON_TEST = "tests/sql/test_cron.py::test_pg_cron_runs_the_drain_procedure"


def _file(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The pg_cron test's file last. Under pytest-xdist (./dev test), the files with the most slow tests
    first: starting the long ones early keeps both workers busy to the end instead of one finishing a
    fault suite alone."""
    last = PG_CRON_TEST.split("::")[0]
    slow: dict[str, int] = {}
    if hasattr(config, "workerinput"):
        for item in items:
            if item.get_closest_marker("slow") and _file(item) != last:
                slow[_file(item)] = slow.get(_file(item), 0) + 1
    items.sort(key=lambda item: (_file(item) == last, -slow.get(_file(item), 0)))


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

    import shutil

    if shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or os.geteuid() == 0:
        from service.dev.embedded_pg import EmbeddedPostgres

        # Under /tmp: as root the server runs as postgres, which must reach the folder.
        folder = Path(tempfile.mkdtemp(prefix="campaigns-test-pg-"))
        folder.chmod(0o755)
        cluster = EmbeddedPostgres(folder=folder, port=free_port(), dbname="campaigns_cron")
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
    """A database built exactly as a deploy builds it; the other test databases are copies of it."""
    name = f"campaigns_template_{os.getpid()}"
    pg_server.drop_database(name)
    migrate(pg_server.create_database(name))
    yield name
    pg_server.drop_database(name)


@pytest.fixture(scope="session")
def shared_db_url(pg_server: PgServer, template_db: str) -> Iterator[str]:
    """One copy of the template for the whole session, for tests whose transaction is rolled back
    (nothing they do is ever committed there)."""
    name = unique_name("campaigns_shared")
    url = pg_server.create_database(name, template=template_db)
    yield url
    pg_server.drop_database(name)


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


@pytest.fixture(scope="session", autouse=True)
def pg_cron_drain_job(request: pytest.FixtureRequest) -> Iterator[DrainJob | None]:
    """A pg_cron job started with the session when the test that needs it was collected (see
    tests.support.cron); None otherwise, and then no server is started for it."""
    if PG_CRON_TEST not in {item.nodeid for item in request.session.items}:
        yield None
        return
    if not request.getfixturevalue("pg_server").cron_db:
        yield None
        return
    job = start_drain_job(request.getfixturevalue("cron_db_url"))
    yield job
    with psycopg.connect(job.url, autocommit=True) as conn:
        job.unschedule(conn)


@pytest.fixture(scope="module")
def module_db_url(pg_server: PgServer, template_db: str) -> Iterator[str]:
    """A copy of the template shared by the tests of one module (each keeps to its own tenant)."""
    name = unique_name("campaigns_module")
    url = pg_server.create_database(name, template=template_db)
    yield url
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def module_conn(module_db_url: str) -> Iterator[psycopg.Connection]:
    """A superuser connection in autocommit on the module's database."""
    with psycopg.connect(module_db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def db_url(pg_server: PgServer, template_db: str) -> Iterator[str]:
    """A fresh database for one test that commits, copied from the template."""
    name = unique_name("campaigns_test")
    url = pg_server.create_database(name, template=template_db)
    yield url
    pg_server.drop_database(name)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    """A superuser connection in autocommit (the DBA's view) on the test's own database."""
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


@pytest.fixture(scope="session")
def _rollback_connection(shared_db_url: str) -> Iterator[dict]:
    """One connection for every rolled-back test (its caches stay warm); replaced if a test broke it."""
    holder = {"url": shared_db_url, "conn": rollback.connect(shared_db_url)}
    yield holder
    holder["conn"].close()


@pytest.fixture
def tx_conn(request: pytest.FixtureRequest, _rollback_connection) -> Iterator[psycopg.Connection]:
    """A connection inside a transaction rolled back at the end, on the session's shared database; for a
    test marked `commits`, an autocommit connection on a fresh copy of the template (`db_url`)."""
    if request.node.get_closest_marker("commits"):
        with psycopg.connect(request.getfixturevalue("db_url"), autocommit=True) as c:
            yield c
        return
    if "db_url" in request.fixturenames:
        pytest.fail("a test that uses db_url commits: mark it @pytest.mark.commits")
    c = _rollback_connection["conn"]
    if c.closed or c.broken:
        c = _rollback_connection["conn"] = rollback.connect(_rollback_connection["url"])
    rollback.begin(c)
    try:
        yield c
    finally:
        if not (c.closed or c.broken):
            rollback.end(c)
