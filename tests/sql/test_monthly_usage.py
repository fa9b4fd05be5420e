"""One monthly usage: launch checks a campaign against the same count the sender holds mail at (the
sends recorded for the UTC month), so the two cannot disagree across a month boundary."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from tests.support.factories import make_campaign, make_contact, make_segment, make_step, make_tenant

UTC = timezone.utc
MONTH_START = datetime(2026, 4, 1, tzinfo=UTC)


@pytest.fixture
def world(conn):
    tid = make_tenant(conn)["tenant_id"]
    segment = make_segment(conn, tid, [make_contact(conn, tid) for _ in range(3)])
    campaign = make_campaign(conn, tid, segment_id=segment)
    make_step(conn, tid, campaign)
    conn.execute("UPDATE campaigns.tenants SET monthly_email_quota = 10 WHERE id = %s", (tid,))
    return tid, campaign


def room(conn, tid, as_of) -> int:
    return conn.execute("SELECT remaining FROM campaigns._quota_room(%s) WHERE tenant_id = %s", (as_of, tid)).fetchone()[0]


def test_a_send_recorded_just_after_the_month_starts_counts_for_launch_and_sender_alike(conn, world):
    tid, campaign = world
    as_of = MONTH_START + timedelta(hours=1)
    # Eight sends recorded in the new month (whenever they were queued), none in the month before.
    conn.execute("SELECT campaigns._add_send_usage(%s, 8, %s)", (tid, MONTH_START + timedelta(seconds=1)))
    conn.execute("SELECT campaigns._add_send_usage(%s, 5, %s)", (tid, MONTH_START - timedelta(seconds=1)))
    assert conn.execute("SELECT campaigns._monthly_usage(%s, %s)", (tid, as_of)).fetchone()[0] == 8
    assert room(conn, tid, as_of) == 2
    # The sender has room for 2; launch must not promise 3.
    with pytest.raises(psycopg.Error) as e:
        conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (campaign, as_of))
    assert e.value.sqlstate == "QC104"


def test_last_months_sends_leave_this_months_quota_whole(conn, world):
    tid, campaign = world
    conn.execute("SELECT campaigns._add_send_usage(%s, 9, %s)", (tid, MONTH_START - timedelta(seconds=1)))
    assert room(conn, tid, MONTH_START) == 10
    assert conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (campaign, MONTH_START)).fetchone()[0] == 3
