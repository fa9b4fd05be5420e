"""The worker and its database, as an operator sees it in the log: a worker that cannot reach its
database at start-up names the error and exits 1 after a bounded wait; one that loses an established
database says so once, keeps retrying with backoff, and says once when it is back. Real processes,
JSON log lines, assertions on their structured fields."""

from __future__ import annotations

import json
import subprocess
import time

import psycopg
import pytest

from service.dev.net import free_port
from tests.support.outbox import make_outbox, spawn_worker, statuses, stop_process
from tests.support.waits import wait_until


def _records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(errors="replace").splitlines() if line.startswith("{")]


def _start_without_database(db_url: str, smtp, tmp_path, seconds: float) -> tuple[int, float, list[dict]]:
    log = tmp_path / "worker.log"
    started = time.monotonic()
    proc = spawn_worker(db_url, smtp, log=log, CAMPAIGNS_LOG_FORMAT="json", CAMPAIGNS_WORKER_STARTUP_SECONDS=seconds)
    try:
        code = proc.wait(seconds + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return code, time.monotonic() - started, _records(log)


def test_a_missing_database_at_start_up_is_named_with_its_sqlstate_and_exits_1(db_url, smtp, tmp_path):
    missing = db_url.replace("/campaigns_test", "/no_such_database_", 1)
    assert missing != db_url
    code, elapsed, records = _start_without_database(missing, smtp, tmp_path, seconds=2)
    errors = [r for r in records if r["level"] == "error" and r.get("component") == "startup"]
    assert code == 1
    assert 2 <= elapsed < 2 + 25  # waited the bounded time, not forever
    # libpq reports a refused login without a SQLSTATE (it has no result to read one from): the
    # server's message is the field that names the problem, here the database by its name.
    name = missing.split("?")[0].rsplit("/", 1)[-1]
    assert len(errors) == 1 and errors[0]["sqlstate"] in (None, "3D000") and f'"{name}"' in errors[0]["db_error"]
    assert errors[0]["db_error"].startswith("OperationalError: ")
    # one warning when the wait began, not one per retry
    assert len([r for r in records if r["level"] == "warning" and r.get("component") == "startup"]) == 1


def test_a_refused_database_port_at_start_up_is_named_and_exits_1(smtp, tmp_path):
    refused = f"postgresql://postgres@127.0.0.1:{free_port()}/campaigns"
    code, elapsed, records = _start_without_database(refused, smtp, tmp_path, seconds=1)
    errors = [r for r in records if r["level"] == "error" and r.get("component") == "startup"]
    assert code == 1 and 1 <= elapsed < 1 + 25
    # No server answered, so no SQLSTATE: the driver's message says what happened.
    assert len(errors) == 1 and errors[0]["sqlstate"] is None
    assert errors[0]["db_error"].startswith("OperationalError: ")


@pytest.mark.slow
def test_losing_the_database_is_one_warning_and_its_return_one_info(own_cluster, smtp, tmp_path):
    with psycopg.connect(own_cluster.url, autocommit=True) as conn:
        box = make_outbox(conn, 200, rate=50)
    log = tmp_path / "worker.log"
    proc = spawn_worker(own_cluster.url, smtp, log=log, CAMPAIGNS_LOG_FORMAT="json")
    try:
        smtp.wait_for(20, timeout=60)
        own_cluster.cluster.stop()
        # The worker keeps retrying (its claimer polls every 0.2 s, backing off to 5 s) while it is down.
        wait_until(lambda: any(r.get("component") for r in _records(log)), timeout=30, interval=0.1)
        retried_at = time.monotonic()
        wait_until(lambda: time.monotonic() - retried_at > 6, timeout=10, interval=0.5)
        own_cluster.cluster.start()
        with psycopg.connect(own_cluster.url, autocommit=True) as conn:
            wait_until(lambda: statuses(conn, box.campaign_id).get("sent") == 200, timeout=120, interval=0.2)
    finally:
        assert stop_process(proc) == 0
    records = _records(log)
    lost = [r for r in records if r["level"] == "warning" and "db_error" in r]
    back = [r for r in records if "outage_seconds" in r and "failures" in r and "relay" not in r]
    print(f"\ndatabase outage: {len(lost)} warning lines, back after {back[0]['outage_seconds'] if back else None}s "
          f"and {back[0]['failures'] if back else None} failed calls")
    assert 1 <= len(lost) <= 5  # the loss, and at most a line per distinct error (refused, shutting down...)
    assert len({r["db_error"] for r in lost}) == len(lost)
    assert len(back) == 1 and back[0]["level"] == "info" and back[0]["failures"] > len(lost)


def test_describe_db_error_gives_the_servers_message_and_sqlstate_without_the_statement(conn):
    from service.db_errors import db_error_fields, describe_db_error

    with pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT campaigns.claim_outbox_batch(%s, 0)", ("w",))
    fields = db_error_fields(caught.value)
    assert fields["sqlstate"] == "QC422"  # the claim's own invalid-arguments code
    assert fields["db_error"].startswith("DatabaseError: invalid claim arguments DETAIL: ") and "HINT: " in fields["db_error"]
    assert "CONTEXT" not in fields["db_error"] and "\n" not in fields["db_error"]
    assert describe_db_error(caught.value).endswith("[SQLSTATE QC422]")
