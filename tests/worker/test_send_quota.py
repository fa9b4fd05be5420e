"""The monthly email quota, enforced by the sender: sends counted per tenant and UTC month,
claims held at the quota and capped to its room, over-quota mail deferred to next month and brought
back when the quota is raised."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from tests.support.outbox import RECORD_MANY, claim, make_outbox, record, run_once, statuses


@pytest.fixture
def conn(tx_conn):
    """SQL-level tests: rolled back at the end on the shared database, unless marked commits."""
    return tx_conn


def month_of(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(moment: datetime) -> datetime:
    return (month_of(moment) + timedelta(days=32)).replace(day=1)


def soon() -> datetime:
    """A moment just after everything the test queued became due."""
    return datetime.now(timezone.utc) + timedelta(seconds=30)


MONTH = month_of(datetime.now(timezone.utc))


def usage(conn, tenant_id, month=MONTH):
    row = conn.execute("SELECT sent FROM campaigns.tenant_send_usage WHERE tenant_id = %s AND month = %s",
                       (tenant_id, month.date())).fetchone()
    return row[0] if row else 0


def set_quota(conn, tenant_id, quota):
    conn.execute("UPDATE campaigns.tenants SET monthly_email_quota = %s WHERE id = %s", (quota, tenant_id))


def set_usage(conn, tenant_id, sent, month=MONTH):
    conn.execute("INSERT INTO campaigns.tenant_send_usage (tenant_id, month, sent) VALUES (%s, %s, %s) "
                 "ON CONFLICT (tenant_id, month) DO UPDATE SET sent = EXCLUDED.sent", (tenant_id, month.date(), sent))


def test_what_goes_to_the_relay_is_counted_per_tenant_and_month(conn):
    box = make_outbox(conn, 5)
    ids = [r["message_id"] for r in claim(conn)]
    conn.execute(RECORD_MANY, ("w1", ids[:2], ["sent", "sent"]))
    assert record(conn, ids[2], "sent") == "sent"
    assert record(conn, ids[3], "failed", response="550 5.1.1 unknown") == "failed"  # refused recipient: sent
    assert record(conn, ids[4], "retry", response="451 busy") == "queued"  # not sent
    assert usage(conn, box.tenant_id) == 4
    other = make_outbox(conn, 1)
    conn.execute(RECORD_MANY, ("w1", [r["message_id"] for r in claim(conn, limit=1)], ["sent"]))
    assert usage(conn, other.tenant_id) == 1 and usage(conn, box.tenant_id) == 4


def test_a_tenant_at_its_quota_gets_nothing_claimed_and_others_carry_on(conn):
    held = make_outbox(conn, 3)
    free = make_outbox(conn, 2)
    set_quota(conn, held.tenant_id, 10)
    set_usage(conn, held.tenant_id, 10)
    rows = claim(conn)
    assert {r["tenant_id"] for r in rows} == {free.tenant_id} and len(rows) == 2
    assert statuses(conn, held.campaign_id) == {"queued": 3}
    # Next month the count starts again (the other tenant's leases have expired by then too).
    later = claim(conn, as_of=next_month(MONTH) + timedelta(hours=1))
    assert sum(r["tenant_id"] == held.tenant_id for r in later) == 3


def test_a_claim_takes_no_more_than_the_room_left(conn):
    box = make_outbox(conn, 6)
    set_quota(conn, box.tenant_id, 10)
    set_usage(conn, box.tenant_id, 6)
    first = claim(conn, limit=100)
    assert len(first) == 4  # 10 - 6
    assert claim(conn, worker="w2") == []  # the 4 in flight use the rest of the room
    # One of them fails for a reason that does not count (relay refused the sender): room for one more.
    assert record(conn, first[0]["message_id"], "rejected", response="553 5.7.1 sender refused") == "failed"
    assert len(claim(conn, worker="w2")) == 1


@pytest.mark.commits
def test_concurrent_claims_never_spend_the_same_room(db_url, conn):
    box = make_outbox(conn, 40)
    set_quota(conn, box.tenant_id, 15)
    got: list[int] = []
    barrier = threading.Barrier(4)

    def one(worker: str) -> None:
        with psycopg.connect(db_url, autocommit=True) as c:
            barrier.wait()
            got.append(len(claim(c, worker=worker, limit=10)))

    threads = [threading.Thread(target=one, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(got) == 15
    assert statuses(conn, box.campaign_id) == {"sending": 15, "queued": 25}


def test_over_quota_mail_is_deferred_to_next_month_and_brought_back_when_the_quota_is_raised(conn):
    held = make_outbox(conn, 3)
    free = make_outbox(conn, 2)
    set_quota(conn, held.tenant_id, 5)
    set_usage(conn, held.tenant_id, 5)
    now = soon()
    assert conn.execute("SELECT campaigns.defer_over_quota_mail(%s)", (now,)).fetchone()[0] == 3
    rows = conn.execute("SELECT tenant_id, next_attempt_at, last_error FROM campaigns.email_messages "
                        "WHERE status = 'queued' ORDER BY tenant_id").fetchall()
    deferred = [r for r in rows if r[0] == held.tenant_id]
    assert len(deferred) == 3 and all(r[1] == next_month(now) and r[2].startswith("deferred") for r in deferred)
    assert all(r[1] <= now for r in rows if r[0] == free.tenant_id)
    assert conn.execute("SELECT campaigns.defer_over_quota_mail(%s)", (now,)).fetchone()[0] == 0  # idempotent

    set_quota(conn, held.tenant_id, 50)
    assert conn.execute("SELECT campaigns.defer_over_quota_mail(%s)", (now,)).fetchone()[0] == 3
    assert conn.execute("SELECT count(*) FROM campaigns.email_messages WHERE tenant_id = %s AND status = 'queued' "
                        "AND next_attempt_at = %s AND last_error IS NULL", (held.tenant_id, now)).fetchone()[0] == 3
    assert conn.execute("SELECT deferred_until FROM campaigns.tenant_send_usage WHERE tenant_id = %s",
                        (held.tenant_id,)).fetchone()[0] is None
    assert len(claim(conn, as_of=now)) == 5


def test_only_due_mail_is_deferred_so_bringing_it_back_never_sends_early(conn):
    box = make_outbox(conn, 2)
    now = soon()
    later = now + timedelta(days=3)
    waiting = conn.execute("UPDATE campaigns.email_messages SET next_attempt_at = %s WHERE id = "
                           "(SELECT id FROM campaigns.email_messages WHERE tenant_id = %s LIMIT 1) RETURNING id",
                           (later, box.tenant_id)).fetchone()[0]
    set_quota(conn, box.tenant_id, 1)
    set_usage(conn, box.tenant_id, 1)
    assert conn.execute("SELECT campaigns.defer_over_quota_mail(%s)", (now,)).fetchone()[0] == 1
    set_quota(conn, box.tenant_id, None)  # quota removed
    assert conn.execute("SELECT campaigns.defer_over_quota_mail(%s)", (now,)).fetchone()[0] == 1
    times = dict(conn.execute("SELECT id, next_attempt_at FROM campaigns.email_messages WHERE tenant_id = %s",
                              (box.tenant_id,)).fetchall())
    assert times[waiting] == later
    assert [t for i, t in times.items() if i != waiting] == [now]


def test_defer_refuses_a_null_time_and_changes_nothing(conn):
    with pytest.raises(psycopg.Error) as err:
        conn.execute("SELECT campaigns.defer_over_quota_mail(NULL)")
    assert err.value.sqlstate == "QC422"


@pytest.mark.commits
def test_the_worker_stops_at_the_quota(conn, db_url, smtp):
    box = make_outbox(conn, 8)
    set_quota(conn, box.tenant_id, 5)
    run_once(db_url, smtp)
    assert len(smtp.received) == 5
    assert statuses(conn, box.campaign_id) == {"sent": 5, "queued": 3}
    assert usage(conn, box.tenant_id) == 5
