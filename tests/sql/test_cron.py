"""campaigns.schedule_jobs: the pg_cron schedule, installed idempotently by one function (135).

The cron database is shared by the whole test session: every test that changes the schedule puts it
back (try/finally) and leaves no extra job behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest

EXPECTED = {
    # Drains what is due batch by batch (CALL: a procedure, so it can commit between batches).
    "campaigns.process_due_steps": ("*/5 * * * *", "drain_due_steps"),
    "campaigns.launch_scheduled_campaigns": ("* * * * *", "launch_scheduled_campaigns"),
    "campaigns.complete_finished_campaigns": ("0 * * * *", "complete_finished_campaigns"),
    "campaigns.rollup_analytics": ("0 2 * * *", "rollup_analytics"),
    # Added with the deliverability alerts (77) and the dynamic-segment refresh (139).
    "campaigns.check_deliverability": ("15 * * * *", "check_deliverability"),
    "campaigns.refresh_campaign_audiences": ("0 3 * * *", "refresh_campaign_audiences"),
    # Dynamic segments are recalculated every 30 minutes (seed spec 2.2).
    "campaigns.refresh_dynamic_segments": ("*/30 * * * *", "refresh_dynamic_segments"),
    # The 48-hour auto-reject of pending approvals (137).
    "campaigns.expire_approvals": ("30 * * * *", "expire_approvals"),
    "campaigns.defer_over_quota_mail": ("* * * * *", "defer_over_quota_mail"),
    # The A/B winner check (104-108).
    "campaigns.evaluate_ab_tests": ("*/15 * * * *", "evaluate_ab_tests"),
    # Keeps cron.job_run_details bounded.
    "campaigns.purge_cron_history": ("45 3 * * *", "purge_cron_history"),
}
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
    assert {r[0]: r[1] for r in rows} == {name: schedule for name, (schedule, _) in EXPECTED.items()}
    dbname = cron.info.dbname
    for jobname, _, command, database, active in rows:
        function = EXPECTED[jobname][1]
        # One statement calling one engine function or procedure, nothing else.
        assert re.fullmatch(rf"(SELECT|CALL) campaigns\.{function}\([^;()]*\)", command.strip()), command
        assert (database, active) == (dbname, True)


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
        name: ("* * * * *" if name == "campaigns.process_due_steps" else schedule)
        for name, (schedule, _) in EXPECTED.items()}
    assert dict(cron.execute("SELECT jobname, jobid FROM cron.job").fetchall()) == ids


def test_obsolete_engine_job_is_removed_and_others_kept(cron):
    cron.execute("SELECT cron.schedule('campaigns.obsolete', '0 3 * * *', 'SELECT 1')")
    cron.execute("SELECT cron.schedule('dba.vacuum_report', '0 4 * * *', 'SELECT 1')")
    cron.execute("SELECT campaigns.schedule_jobs()")
    names = {r[0] for r in cron.execute("SELECT jobname FROM cron.job")}
    assert names == set(EXPECTED) | {"dba.vacuum_report"}  # a DBA's own job is not ours to remove


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
