"""campaigns.schedule_jobs: the pg_cron schedule, installed idempotently by one function from one list,
campaigns.engine_jobs(), which the readiness check reads too.

The cron database is shared by the whole test session: every test that changes the schedule puts it
back (try/finally) and leaves no extra job behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest


def engine_jobs(conn: psycopg.Connection, step_schedule: str | None = None) -> dict[str, tuple[str, str]]:
    """campaigns.engine_jobs() as {jobname: (schedule, command)}."""
    rows = conn.execute("SELECT jobname, schedule, command FROM campaigns.engine_jobs(coalesce(%s, '*/5 * * * *'))",
                        (step_schedule,)).fetchall()
    return {name: (schedule, command) for name, schedule, command in rows}


JOB_COLUMNS = "jobid, jobname, schedule, command, database, username, active"


@pytest.fixture
def cron(cron_db_url, pg_cron_drain_job) -> Iterator[psycopg.Connection]:
    """A connection to the cron database; the process interval found there is restored afterwards.
    The temporary job the session started for test_pg_cron_runs_the_drain_procedure is gone first."""
    if pg_cron_drain_job is not None:
        pg_cron_drain_job.outcome()
    with psycopg.connect(cron_db_url, autocommit=True) as c:
        original = process_schedule(c)
        try:
            yield c
        finally:
            for name in ("campaigns.obsolete", "dba.vacuum_report"):
                c.execute("SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = %s", (name,))
            c.execute("SELECT campaigns.schedule_jobs(%s)", (original,))


def jobs(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(f"SELECT {JOB_COLUMNS} FROM cron.job ORDER BY jobname").fetchall()


def process_schedule(conn: psycopg.Connection) -> str:
    return conn.execute("SELECT schedule FROM cron.job WHERE jobname = 'campaigns.process_due_steps'").fetchone()[0]


def test_exactly_the_engine_jobs_each_one_function_call(cron):
    rows = cron.execute("SELECT jobname, schedule, command, database, active FROM cron.job ORDER BY jobname").fetchall()
    assert {r[0]: (r[1], r[2]) for r in rows} == engine_jobs(cron)
    dbname = cron.info.dbname
    for jobname, _, command, database, active in rows:
        # One statement calling one engine function or procedure, nothing else.
        call = re.fullmatch(r"(SELECT|CALL) campaigns\.(\w+)\([^;()]*\)", command.strip())
        assert call, command
        kind = cron.execute("SELECT prokind FROM pg_proc WHERE proname = %s AND pronamespace = 'campaigns'::regnamespace",
                            (call.group(2),)).fetchone()
        assert kind == ("p" if call.group(1) == "CALL" else "f",), command
        assert (database, active) == (dbname, True)


def test_the_engine_runs_eleven_jobs_steps_every_five_minutes(conn):
    jobs = engine_jobs(conn)
    assert len(jobs) == 11
    assert jobs["campaigns.process_due_steps"] == ("*/5 * * * *", "CALL campaigns.drain_due_steps()")
    assert engine_jobs(conn, "* * * * *")["campaigns.process_due_steps"][0] == "* * * * *"


def test_readiness_checks_every_engine_job(conn):
    # Where pg_cron is absent every job is missing; the list is engine_jobs', not a copy.
    missing = conn.execute("SELECT campaigns.cron_jobs_missing()").fetchone()[0]
    assert missing == sorted(engine_jobs(conn))


def test_rollup_job_covers_late_events(cron):
    command = cron.execute("SELECT command FROM cron.job WHERE jobname = 'campaigns.rollup_analytics'").fetchone()[0]
    assert command.strip() == "SELECT campaigns.rollup_analytics(NULL, 7)"


def test_scheduling_again_changes_nothing(cron):
    before = jobs(cron)
    cron.execute("SELECT campaigns.schedule_jobs()")
    assert jobs(cron) == before
    cron.execute("SELECT campaigns.schedule_jobs()")
    assert jobs(cron) == before


def test_process_interval_can_be_changed_and_is_kept(cron):
    ids = dict(cron.execute("SELECT jobname, jobid FROM cron.job").fetchall())
    cron.execute("SELECT campaigns.schedule_jobs('* * * * *')")
    assert process_schedule(cron) == "* * * * *"
    cron.execute("SELECT campaigns.schedule_jobs()")
    assert process_schedule(cron) == "* * * * *"
    # The other jobs are untouched, and every job keeps its id.
    assert {r[0]: r[1] for r in cron.execute("SELECT jobname, schedule FROM cron.job")} == {
        name: schedule for name, (schedule, _) in engine_jobs(cron, "* * * * *").items()}
    assert dict(cron.execute("SELECT jobname, jobid FROM cron.job").fetchall()) == ids


def test_obsolete_engine_job_is_removed_and_others_kept(cron):
    cron.execute("SELECT cron.schedule('campaigns.obsolete', '0 3 * * *', 'SELECT 1')")
    cron.execute("SELECT cron.schedule('dba.vacuum_report', '0 4 * * *', 'SELECT 1')")
    cron.execute("SELECT campaigns.schedule_jobs()")
    names = {r[0] for r in cron.execute("SELECT jobname FROM cron.job")}
    assert names == set(engine_jobs(cron)) | {"dba.vacuum_report"}  # a DBA's own job is not ours to remove


@pytest.mark.slow  # pg_cron 1.4 schedules by the minute: up to a minute's wait (less when other tests ran first)
def test_pg_cron_runs_the_drain_procedure(cron, pg_cron_drain_job):
    """The job's CALL commits between batches, which only works as a statement of its own: run it
    through pg_cron itself (a temporary job, every minute, started with the session: see
    tests.support.cron) and see it succeed and queue the mail of a launched campaign."""
    assert pg_cron_drain_job is not None
    status, message = pg_cron_drain_job.outcome()
    assert status == "succeeded", message
    queued = cron.execute("SELECT count(*) FROM campaigns.email_messages WHERE campaign_id = %s",
                          (pg_cron_drain_job.campaign_id,)).fetchone()[0]
    assert queued == 3


def test_without_pg_cron_is_qc409(conn):
    assert conn.execute("SELECT to_regclass('cron.job')").fetchone()[0] is None
    with pytest.raises(psycopg.Error) as exc:
        conn.execute("SELECT campaigns.schedule_jobs()")
    assert exc.value.sqlstate == "QC409"
