"""campaigns.complete_finished_campaigns: an active campaign completes once nothing is left to do, and
any active or paused campaign past its end_date completes with its enrollments exited (49-51)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from tests.support.factories import (
    make_campaign, make_contact, make_enrollment, make_message, make_segment, make_step, make_tenant,
)

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)


@pytest.fixture
def tenant(conn) -> UUID:
    return make_tenant(conn)["tenant_id"]


def campaign_with(conn, tenant_id: UUID, statuses: list[str], **cols: Any) -> tuple[UUID, UUID, list[UUID]]:
    """A campaign (active, launched two days before T0 unless overridden) with one email step and one
    enrollment per given status: (campaign_id, step_id, enrollment ids)."""
    cols.setdefault("status", "active")
    if cols["status"] in ("active", "paused", "completed"):
        cols.setdefault("launched_at", T0 - timedelta(days=2))
    campaign = make_campaign(conn, tenant_id, **cols)
    step = make_step(conn, tenant_id, campaign)
    enrollments = []
    for status in statuses:
        extra: dict[str, Any] = {}
        if status == "paused":
            extra["pause_reason"] = "campaign"
        elif status == "completed":
            extra["completed_at"] = T0 - timedelta(days=1)
        elif status == "exited":
            extra.update(exited_at=T0 - timedelta(days=1), exit_reason="replied")
        if status in ("enrolled", "active", "paused"):
            extra["next_email_scheduled_at"] = T0 + timedelta(days=1)
        enrollments.append(make_enrollment(conn, tenant_id, campaign, make_contact(conn, tenant_id), status=status, **extra))
    return campaign, step, enrollments


def complete(conn, as_of: datetime = T0) -> int:
    return conn.execute("SELECT campaigns.complete_finished_campaigns(%s)", (as_of,)).fetchone()[0]


def state(conn, campaign_id: UUID) -> tuple:
    return conn.execute("SELECT status, completed_at FROM campaigns.campaigns WHERE id = %s", (campaign_id,)).fetchone()


def test_campaign_with_nothing_left_is_completed(conn, tenant):
    campaign, _, _ = campaign_with(conn, tenant, ["completed", "exited", "completed"])
    assert complete(conn) == 1
    assert state(conn, campaign) == ("completed", T0)
    assert complete(conn, T0 + timedelta(hours=1)) == 0
    assert state(conn, campaign) == ("completed", T0)


@pytest.mark.parametrize("live", ["enrolled", "active", "paused"])
def test_campaign_with_a_live_enrollment_is_not_completed(conn, tenant, live):
    campaign, _, _ = campaign_with(conn, tenant, ["completed", live, "exited"])
    assert complete(conn) == 0
    assert state(conn, campaign) == ("active", None)


@pytest.mark.parametrize("status", ["queued", "sending"])
def test_campaign_with_mail_still_to_go_is_not_completed(conn, tenant, status):
    campaign, step, (enr,) = campaign_with(conn, tenant, ["completed"])
    lease = {"lease_expires_at": T0 + timedelta(minutes=5), "locked_at": T0, "locked_by": "w1"} if status == "sending" else {}
    make_message(conn, tenant, enr, step, status=status, **lease)
    assert complete(conn) == 0
    assert state(conn, campaign) == ("active", None)


@pytest.mark.parametrize("status", ["sent", "failed", "cancelled"])
def test_finished_mail_does_not_hold_completion(conn, tenant, status):
    campaign, step, (enr,) = campaign_with(conn, tenant, ["completed"])
    make_message(conn, tenant, enr, step, status=status, sent_at=T0 - timedelta(days=1) if status == "sent" else None)
    assert complete(conn) == 1
    assert state(conn, campaign) == ("completed", T0)


def test_just_launched_campaign_is_not_completed(conn, tenant):
    contacts = [make_contact(conn, tenant) for _ in range(3)]
    campaign = make_campaign(conn, tenant, segment_id=make_segment(conn, tenant, contacts))
    make_step(conn, tenant, campaign)
    assert conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (campaign, T0)).fetchone()[0] == 3
    for as_of in (T0, T0 + timedelta(minutes=59), T0 + timedelta(hours=1)):
        assert complete(conn, as_of) == 0
    assert state(conn, campaign) == ("active", None)
    assert conn.execute("SELECT array_agg(DISTINCT status) FROM campaigns.campaign_contacts WHERE campaign_id = %s",
                        (campaign,)).fetchone()[0] == ["enrolled"]


@pytest.mark.parametrize("campaign_status", ["active", "paused"])
def test_end_date_passed_completes_and_exits_the_enrollments(conn, tenant, campaign_status):
    end = T0 - timedelta(minutes=1)
    campaign, step, enrollments = campaign_with(
        conn, tenant, ["enrolled", "active", "paused", "completed", "exited"], status=campaign_status, end_date=end,
        start_date=T0 - timedelta(days=3))
    enrolled, active, paused, completed, exited = enrollments
    still_queued = make_message(conn, tenant, active, step)
    other_campaign, _, (other_enr,) = campaign_with(conn, tenant, ["active"], end_date=T0 + timedelta(days=1))

    assert complete(conn) == 1
    assert state(conn, campaign) == ("completed", T0)
    rows = dict((r[0], r[1:]) for r in conn.execute(
        "SELECT id, status, exit_reason, exited_at, next_email_scheduled_at, pause_reason "
        "FROM campaigns.campaign_contacts WHERE campaign_id = %s", (campaign,)))
    for enr in (enrolled, active, paused):
        assert rows[enr] == ("exited", "campaign_ended", T0, None, None)
    assert rows[completed][:2] == ("completed", None)
    assert rows[exited][:2] == ("exited", "replied")
    assert conn.execute("SELECT status FROM campaigns.email_messages WHERE id = %s", (still_queued,)).fetchone()[0] == "cancelled"
    # A campaign whose end date is still ahead keeps running.
    assert state(conn, other_campaign) == ("active", None)
    assert conn.execute("SELECT status FROM campaigns.campaign_contacts WHERE id = %s", (other_enr,)).fetchone()[0] == "active"


def test_end_date_exactly_now_counts_as_passed(conn, tenant):
    campaign, _, (enr,) = campaign_with(conn, tenant, ["active"], end_date=T0)
    assert complete(conn, T0 - timedelta(seconds=1)) == 0
    assert complete(conn, T0) == 1
    assert state(conn, campaign) == ("completed", T0)


def test_paused_campaign_without_end_date_is_not_auto_completed(conn, tenant):
    campaign, _, _ = campaign_with(conn, tenant, ["completed"], status="paused")
    assert complete(conn) == 0
    assert state(conn, campaign) == ("paused", None)


@pytest.mark.parametrize("status", ["draft", "scheduled"])
def test_draft_and_scheduled_campaigns_are_untouched(conn, tenant, status):
    extra = {"scheduled_at": T0 + timedelta(days=5)} if status == "scheduled" else {}
    empty, _, _ = campaign_with(conn, tenant, [], status=status, **extra)
    ended, _, _ = campaign_with(conn, tenant, [], status=status, start_date=T0 - timedelta(days=3),
                                end_date=T0 - timedelta(days=1), **extra)
    assert complete(conn) == 0
    assert state(conn, empty) == (status, None)
    assert state(conn, ended) == (status, None)


def test_counts_every_campaign_completed_in_one_run(conn, tenant):
    done, _, _ = campaign_with(conn, tenant, ["completed"])
    ended, _, _ = campaign_with(conn, tenant, ["active"], end_date=T0 - timedelta(hours=1))
    running, _, _ = campaign_with(conn, tenant, ["active"])
    assert complete(conn) == 2
    assert [state(conn, c)[0] for c in (done, ended, running)] == ["completed", "completed", "active"]
