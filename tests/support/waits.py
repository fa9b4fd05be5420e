"""Waiting on conditions instead of sleeping for a fixed time.

To prove that something does *not* happen, wait for a condition showing the system got past the
point where it would have happened (a worker's claim cycle that started after the change, a backend
blocked on the lock it must wait for), then assert.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

import psycopg

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.02,
               message: str | Callable[[], str] = "condition not reached") -> T:
    """Poll predicate until it returns something truthy (returned); AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"{text} within {timeout}s")
        time.sleep(interval)


def wait_until_blocked(conn: psycopg.Connection, pid: int, done: Future | None = None, timeout: float = 10.0) -> None:
    """Until backend `pid` waits on a lock (seen from `conn`, an autocommit connection). With `done`
    (the future of the blocked call), also return when that call finished without having to wait."""
    def blocked() -> bool:
        if done is not None and done.done():
            return True
        return conn.execute("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                            (pid,)).fetchone()[0]
    wait_until(blocked, timeout, message=f"backend {pid} did not block on a lock")


CLAIMER = "campaigns-worker claimer"


def db_now(conn: psycopg.Connection):
    return conn.execute("SELECT clock_timestamp()").fetchone()[0]


def wait_for_claim_cycle(conn: psycopg.Connection, after=None, timeout: float = 30.0) -> None:
    """Until a worker's claimer (in the database of `conn`) has run a claim that started after `after`
    (default: now) and finished. Every statement of the claimer is one claim_outbox_batch call in
    autocommit, so an idle claimer whose last statement started after `after` has finished a claim that
    saw everything committed before `after`."""
    after = after or db_now(conn)

    def claimed() -> bool:
        return conn.execute(
            "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s AND state = 'idle' AND query_start > %s AND query LIKE '%%claim_outbox_batch%%')",
            (CLAIMER, after)).fetchone()[0]
    wait_until(claimed, timeout, message="no worker claim cycle finished")
