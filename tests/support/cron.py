"""A temporary pg_cron job that runs campaigns.drain_due_steps in the cron database.

pg_cron (1.4) schedules by the minute, so seeing a job run costs up to a minute of waiting. The root
conftest starts this job when the session begins, if the test that needs it was collected, and
test_cron.py runs last: by then the job has usually run, and the test reads the outcome.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg

from tests.support.factories import make_campaign, make_contact, make_segment, make_step, make_tenant
from tests.support.waits import wait_until

JOB_NAME = "test.drain_under_pg_cron"


@dataclass
class DrainJob:
    """A launched campaign of 3 contacts whose first email nobody has queued, and the job that will."""

    url: str
    job_id: int
    campaign_id: UUID
    _outcome: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def outcome(self, timeout: float = 75.0) -> tuple[str, str]:
        """(status, return_message) of the job's first finished run; the job is unscheduled then. When
        it never finishes, every caller gets the same AssertionError, with what pg_cron was doing, and
        only the first one waits.

        pg_cron 1.4 with background workers has been seen, on a loaded machine, never to start one
        freshly scheduled job while it ran the others. Such a job is scheduled once more under a new
        id, with what pg_cron was doing kept in a warning: what is tested is that pg_cron runs the
        drain procedure, and a second job that never runs either still fails."""
        with self._lock:
            if self._outcome is None:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    try:
                        self._outcome = self._wait(conn, timeout)
                    except AssertionError as first:
                        warnings.warn(f"pg_cron job {self.job_id} never ran; scheduled again. {first}", stacklevel=2)
                        self.unschedule(conn)
                        self.job_id = _schedule(conn)
                        try:
                            self._outcome = self._wait(conn, timeout)
                        except AssertionError as exc:
                            self._outcome = exc
                    finally:
                        self.unschedule(conn)
            if isinstance(self._outcome, AssertionError):
                raise self._outcome
            return self._outcome

    def _wait(self, conn: psycopg.Connection, timeout: float) -> tuple[str, str]:
        def finished():
            row = conn.execute("SELECT status, return_message FROM cron.job_run_details WHERE jobid = %s "
                               "ORDER BY runid LIMIT 1", (self.job_id,)).fetchone()
            return row if row and row[0] in ("succeeded", "failed") else None
        return wait_until(finished, timeout, interval=0.5,
                          message=lambda: f"pg_cron did not run job {self.job_id}: " + _cron_state(conn))

    def unschedule(self, conn: psycopg.Connection) -> None:
        conn.execute("SELECT cron.unschedule(jobid) FROM cron.job WHERE jobid = %s", (self.job_id,))


def _cron_state(conn: psycopg.Connection) -> str:
    """pg_cron's jobs, its latest runs and its processes, for a failure message."""
    jobs = conn.execute("SELECT jobid, jobname, schedule, active FROM cron.job ORDER BY jobid").fetchall()
    runs = conn.execute("SELECT jobid, status, return_message, start_time FROM cron.job_run_details "
                        "ORDER BY runid DESC LIMIT 10").fetchall()
    processes = conn.execute("SELECT backend_type, state, wait_event_type, wait_event, left(query, 80) "
                             "FROM pg_stat_activity WHERE backend_type ILIKE '%%cron%%' "
                             "OR application_name ILIKE '%%cron%%'").fetchall()
    now = conn.execute("SELECT now()").fetchone()[0]
    return f"now={now} jobs={jobs} latest runs={runs} pg_cron processes={processes}"


def start_drain_job(url: str) -> DrainJob:
    with psycopg.connect(url, autocommit=True) as conn:
        tid = make_tenant(conn)["tenant_id"]
        segment = make_segment(conn, tid, [make_contact(conn, tid) for _ in range(3)])
        campaign = make_campaign(conn, tid, segment_id=segment)
        make_step(conn, tid, campaign)
        conn.execute("SELECT campaigns.launch_campaign(%s)", (campaign,))
        job = _schedule(conn)
    return DrainJob(url, job, campaign)


def _schedule(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT cron.schedule(%s, '* * * * *', 'CALL campaigns.drain_due_steps()')",
                        (JOB_NAME,)).fetchone()[0]
