"""campaigns.launch_campaign (db/functions/35_enrollment.sql): set-based, all-or-nothing enrollment of
a segment's eligible contacts at the first step, with first due times from the send strategy and
sending window, and every refusal (status, steps, audience, approvals, quota, tenant)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from tests.support.factories import insert, make_campaign, make_contact, make_enrollment, make_segment, make_step, make_tenant
from tests.support.waits import wait_until_blocked

UTC = timezone.utc
AS_OF = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday
EARLY = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # Monday 01:00 in New York, 06:00 in London
SATURDAY = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)  # 10:00 EST; US DST starts on Sunday 2026-03-08
N = 3


# -- helpers ---------------------------------------------------------------------------------------


def launch(conn, campaign_id, as_of=AS_OF) -> int:
    return conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (campaign_id, as_of)).fetchone()[0]


def launch_error(conn, campaign_id, as_of=AS_OF) -> str:
    with pytest.raises(psycopg.Error) as e:
        launch(conn, campaign_id, as_of)
    return e.value.sqlstate


def enrollments(conn, campaign_id) -> list[dict]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            "SELECT * FROM campaigns.campaign_contacts WHERE campaign_id = %s ORDER BY enrolled_at, id", (campaign_id,)
        ).fetchall()


def due_of(conn, campaign_id, contact_id) -> datetime:
    return conn.execute(
        "SELECT next_email_scheduled_at FROM campaigns.campaign_contacts WHERE campaign_id = %s AND contact_id = %s",
        (campaign_id, contact_id),
    ).fetchone()[0]


def campaign_row(conn, campaign_id) -> dict:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute("SELECT * FROM campaigns.campaigns WHERE id = %s", (campaign_id,)).fetchone()


def assert_untouched_draft(conn, campaign_id):
    row = campaign_row(conn, campaign_id)
    assert (row["status"], row["launched_at"], row["total_contacts"]) == ("draft", None, 0)
    assert enrollments(conn, campaign_id) == []


def one_step_campaign(conn, tid, contacts, **cols):
    """A draft campaign with one email step over a segment of the given contacts."""
    campaign = make_campaign(conn, tid, segment_id=make_segment(conn, tid, contacts), **cols)
    make_step(conn, tid, campaign)
    return campaign


@pytest.fixture
def world(conn):
    """Tenant A: N active contacts in a segment; a draft campaign email(order 2) -> wait(3) -> email(5),
    whose steps were inserted in an order other than step_order."""
    t = make_tenant(conn, "A")
    tid = t["tenant_id"]
    contacts = [make_contact(conn, tid) for _ in range(N)]
    segment = make_segment(conn, tid, contacts)
    campaign = make_campaign(conn, tid, segment_id=segment)
    last = make_step(conn, tid, campaign, step_order=5)
    wait = make_step(conn, tid, campaign, step_type="wait", step_order=3, next_step_id=last)
    first = make_step(conn, tid, campaign, step_order=2, next_step_id=wait)
    return {**t, "contacts": contacts, "segment": segment, "campaign": campaign, "first": first, "last": last}


# -- enrollment -------------------------------------------------------------------


def test_launch_enrolls_every_eligible_contact_at_first_step(conn, world):
    assert launch(conn, world["campaign"]) == N
    rows = enrollments(conn, world["campaign"])
    assert sorted(r["contact_id"] for r in rows) == sorted(world["contacts"])
    assert {(r["status"], r["current_step_id"], r["enrolled_at"], r["started_at"]) for r in rows} == {
        ("enrolled", world["first"], AS_OF, None)
    }
    row = campaign_row(conn, world["campaign"])
    assert (row["status"], row["launched_at"], row["total_contacts"]) == ("active", AS_OF, N)


def test_launch_with_no_segment_is_refused(conn):
    tid = make_tenant(conn)["tenant_id"]
    campaign = make_campaign(conn, tid)
    make_step(conn, tid, campaign)
    assert launch_error(conn, campaign) == "QC102"
    assert_untouched_draft(conn, campaign)


def test_already_enrolled_contact_is_not_enrolled_twice(conn, world):
    tid, campaign = world["tenant_id"], world["campaign"]
    earlier = make_enrollment(conn, tid, campaign, world["contacts"][0], status="active", current_step_id=world["last"])
    assert launch(conn, campaign) == N - 1
    rows = enrollments(conn, campaign)
    assert len(rows) == N
    assert sorted(r["contact_id"] for r in rows) == sorted(world["contacts"])
    kept = next(r for r in rows if r["id"] == earlier)
    assert (kept["status"], kept["current_step_id"]) == ("active", world["last"])
    assert campaign_row(conn, campaign)["total_contacts"] == N - 1


def test_contact_in_segment_and_already_enrolled_only_is_refused(conn, world):
    tid, campaign = world["tenant_id"], world["campaign"]
    for contact in world["contacts"]:
        make_enrollment(conn, tid, campaign, contact)
    assert launch_error(conn, campaign) == "QC102"
    assert campaign_row(conn, campaign)["status"] == "draft"
    assert len(enrollments(conn, campaign)) == N


def _tenant_suppression(conn, tid, contact):
    email = conn.execute("SELECT email FROM campaigns.contacts WHERE id = %s", (contact,)).fetchone()[0]
    insert(conn, "suppressions", tenant_id=tid, email=email.upper(), reason="manual")


def _global_suppression(conn, tid, contact):
    email = conn.execute("SELECT email FROM campaigns.contacts WHERE id = %s", (contact,)).fetchone()[0]
    insert(conn, "global_suppressions", email=email, reason="complaint")


def _status(status):
    def apply(conn, tid, contact):
        conn.execute("UPDATE campaigns.contacts SET status = %s WHERE id = %s", (status, contact))
    return apply


EXCLUSIONS = {
    "tenant-suppression": _tenant_suppression,
    "global-suppression": _global_suppression,
    "unsubscribed": _status("unsubscribed"),
    "bounced": _status("bounced"),
}


@pytest.mark.parametrize("exclusion", EXCLUSIONS)
def test_ineligible_contact_is_not_enrolled(conn, world, exclusion):
    tid, campaign = world["tenant_id"], world["campaign"]
    excluded = world["contacts"][0]
    EXCLUSIONS[exclusion](conn, tid, excluded)
    assert launch(conn, campaign) == N - 1
    assert excluded not in {r["contact_id"] for r in enrollments(conn, campaign)}


@pytest.mark.parametrize("exclusion", EXCLUSIONS)
def test_segment_of_only_ineligible_contacts_is_refused(conn, world, exclusion):
    for contact in world["contacts"]:
        EXCLUSIONS[exclusion](conn, world["tenant_id"], contact)
    assert launch_error(conn, world["campaign"]) == "QC102"
    assert_untouched_draft(conn, world["campaign"])


def test_empty_segment_is_refused(conn):
    tid = make_tenant(conn)["tenant_id"]
    campaign = one_step_campaign(conn, tid, [])
    assert launch_error(conn, campaign) == "QC102"
    assert_untouched_draft(conn, campaign)


@pytest.mark.parametrize("table", ["suppressions", "global_suppressions"])
def test_expired_suppression_does_not_exclude(conn, world, table):
    tid, contact = world["tenant_id"], world["contacts"][0]
    email = conn.execute("SELECT email FROM campaigns.contacts WHERE id = %s", (contact,)).fetchone()[0]
    cols = {"tenant_id": tid, "reason": "manual"} if table == "suppressions" else {"reason": "manual"}
    insert(conn, table, email=email, expires_at=AS_OF - timedelta(seconds=1), **cols)
    assert launch(conn, world["campaign"]) == N
    assert contact in {r["contact_id"] for r in enrollments(conn, world["campaign"])}


def test_another_tenants_suppression_does_not_exclude(conn, world):
    other = make_tenant(conn, "B")["tenant_id"]
    email = conn.execute("SELECT email FROM campaigns.contacts WHERE id = %s", (world["contacts"][0],)).fetchone()[0]
    insert(conn, "suppressions", tenant_id=other, email=email, reason="manual")
    assert launch(conn, world["campaign"]) == N


# -- refusals --------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["active", "paused", "completed"])
def test_launch_from_wrong_status_is_refused(conn, world, status):
    campaign = world["campaign"]
    conn.execute("UPDATE campaigns.campaigns SET status = %s WHERE id = %s", (status, campaign))
    assert launch_error(conn, campaign) == "QC409"
    assert enrollments(conn, campaign) == []
    row = campaign_row(conn, campaign)
    assert (row["status"], row["launched_at"], row["total_contacts"]) == (status, None, 0)


def test_launch_without_steps_is_refused(conn, world):
    campaign = make_campaign(conn, world["tenant_id"], segment_id=world["segment"])
    assert launch_error(conn, campaign) == "QC101"
    assert_untouched_draft(conn, campaign)


def test_launch_rechecks_the_step_graph(conn, world):
    """A cycle through an email step written around the save-time trigger is refused at launch."""
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")  # skips trg_campaign_steps_validate
        conn.execute("UPDATE campaigns.campaign_steps SET next_step_id = %s WHERE id = %s", (world["first"], world["last"]))
    assert launch_error(conn, world["campaign"]) == "QC105"
    assert_untouched_draft(conn, world["campaign"])


def test_launch_of_missing_campaign_is_not_found(conn, world):
    assert launch_error(conn, "00000000-0000-4000-8000-000000000000") == "QC404"


def test_launch_of_scheduled_campaign_is_allowed(conn, world):
    conn.execute("UPDATE campaigns.campaigns SET status = 'scheduled', scheduled_at = %s WHERE id = %s",
                 (AS_OF, world["campaign"]))
    assert launch(conn, world["campaign"]) == N
    row = campaign_row(conn, world["campaign"])
    assert (row["status"], row["scheduled_at"]) == ("active", None)


# -- first due times ------------------------------------------------


def test_immediate_strategy_is_due_at_launch(conn, world):
    launch(conn, world["campaign"])
    assert {r["next_email_scheduled_at"] for r in enrollments(conn, world["campaign"])} == {AS_OF}


def test_scheduled_strategy_is_due_at_future_start_date(conn, world):
    start = AS_OF + timedelta(days=3, hours=2)
    conn.execute("UPDATE campaigns.campaigns SET send_strategy = 'scheduled', start_date = %s WHERE id = %s",
                 (start, world["campaign"]))
    launch(conn, world["campaign"])
    assert {r["next_email_scheduled_at"] for r in enrollments(conn, world["campaign"])} == {start}


def test_scheduled_strategy_with_past_start_date_is_due_at_launch(conn, world):
    conn.execute("UPDATE campaigns.campaigns SET send_strategy = 'scheduled', start_date = %s WHERE id = %s",
                 (AS_OF - timedelta(days=1), world["campaign"]))
    launch(conn, world["campaign"])
    assert {r["next_email_scheduled_at"] for r in enrollments(conn, world["campaign"])} == {AS_OF}


def test_optimized_without_history_is_due_at_nine_local(conn):
    tid = make_tenant(conn)["tenant_id"]
    ny = make_contact(conn, tid, timezone="America/New_York")
    london = make_contact(conn, tid, timezone="Europe/London")
    campaign = one_step_campaign(conn, tid, [ny, london], send_strategy="optimized", timezone="Asia/Tokyo")
    launch(conn, campaign, EARLY)
    assert due_of(conn, campaign, ny) == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 09:00 EST
    assert due_of(conn, campaign, london) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 09:00 GMT


def test_optimized_contact_without_timezone_uses_campaign_timezone(conn):
    tid = make_tenant(conn)["tenant_id"]
    contact = make_contact(conn, tid)
    campaign = one_step_campaign(conn, tid, [contact], send_strategy="optimized", timezone="Asia/Tokyo")
    launch(conn, campaign, EARLY)  # 15:00 in Tokyo: 09:00 JST tomorrow
    assert due_of(conn, campaign, contact) == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)


def _opens(conn, tid, contact, local_hours_utc: list[datetime]):
    """Messages of another campaign for the contact, first opened at the given instants."""
    other = make_campaign(conn, tid)
    # A finished enrollment: its mail is history, not pending quota.
    enrollment = make_enrollment(conn, tid, other, contact, status="completed", completed_at=min(local_hours_utc))
    for opened in local_hours_utc:
        step = make_step(conn, tid, other)
        insert(conn, "email_messages", tenant_id=tid, campaign_id=other, step_id=step, enrollment_id=enrollment,
               contact_id=contact, to_email="x@example.com", smtp_message_id=f"<{step}@test.invalid>",
               status="sent", sent_at=opened - timedelta(hours=1), queued_at=opened - timedelta(hours=1),
               first_opened_at=opened, open_count=1)


@pytest.mark.parametrize("opens_at_14, expected", [
    (5, datetime(2026, 3, 2, 18, 45, tzinfo=UTC)),  # 13:45 EST
    (3, datetime(2026, 3, 2, 14, 0, tzinfo=UTC)),  # 4 opens in all, fewer than 5: 09:00 EST
])
def test_optimized_uses_learned_open_hour_with_enough_history(conn, opens_at_14, expected):
    tid = make_tenant(conn)["tenant_id"]
    contact = make_contact(conn, tid, timezone="America/New_York")
    # 14:20 EST on February days, plus one open at 10:20 EST that is not the most frequent hour.
    at_14 = [datetime(2026, 2, 10 + i, 19, 20, tzinfo=UTC) for i in range(opens_at_14)]
    _opens(conn, tid, contact, [*at_14, datetime(2026, 2, 20, 15, 20, tzinfo=UTC)])
    campaign = one_step_campaign(conn, tid, [contact], send_strategy="optimized")
    launch(conn, campaign, EARLY)
    assert due_of(conn, campaign, contact) == expected


def test_sending_window_defers_saturday_launch_to_monday_morning(conn):
    tid = make_tenant(conn)["tenant_id"]
    ny = make_contact(conn, tid, timezone="America/New_York")
    london = make_contact(conn, tid, timezone="Europe/London")
    campaign = one_step_campaign(conn, tid, [ny, london], sending_days=[1, 2, 3, 4, 5],
                                 sending_window_start="09:00", sending_window_end="17:00")
    launch(conn, campaign, SATURDAY)
    assert due_of(conn, campaign, ny) == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # Monday 09:00 EDT
    assert due_of(conn, campaign, london) == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # Monday 09:00 GMT


@pytest.mark.parametrize("launched, due", [
    pytest.param(datetime(2026, 3, 3, 18, 30, tzinfo=UTC), datetime(2026, 3, 4, 9, 0, tzinfo=UTC), id="tue-after-hours"),
    pytest.param(datetime(2026, 3, 3, 7, 0, tzinfo=UTC), datetime(2026, 3, 3, 9, 0, tzinfo=UTC), id="tue-before-hours"),
    pytest.param(datetime(2026, 3, 6, 17, 0, tzinfo=UTC), datetime(2026, 3, 9, 9, 0, tzinfo=UTC), id="fri-at-close"),
    pytest.param(AS_OF, AS_OF, id="mon-inside"),
])
def test_sending_window_in_london(conn, launched, due):
    """Europe/London is on GMT (= UTC) in early March, so local and UTC times read the same."""
    tid = make_tenant(conn)["tenant_id"]
    contact = make_contact(conn, tid, timezone="Europe/London")
    campaign = one_step_campaign(conn, tid, [contact], sending_days=[1, 2, 3, 4, 5],
                                 sending_window_start="09:00", sending_window_end="17:00")
    launch(conn, campaign, launched)
    assert due_of(conn, campaign, contact) == due


def test_send_anyway_ignores_the_window(conn):
    tid = make_tenant(conn)["tenant_id"]
    contact = make_contact(conn, tid, timezone="America/New_York")
    campaign = one_step_campaign(conn, tid, [contact], sending_days=[1, 2, 3, 4, 5], sending_window_start="09:00",
                                 sending_window_end="17:00", window_missed_action="send_anyway")
    launch(conn, campaign, SATURDAY)
    assert due_of(conn, campaign, contact) == SATURDAY


# -- approvals --------------------------------------------------------------------------


def _approval(conn, world, role, status, round_=1, approver=None):
    insert(conn, "campaign_approvals", tenant_id=world["tenant_id"], campaign_id=world["campaign"],
           approver_id=approver or world["user_id"], approval_role=role, status=status, round=round_,
           reviewed_at=None if status == "pending" else AS_OF - timedelta(hours=1))


@pytest.fixture
def approval_world(conn, world):
    conn.execute("UPDATE campaigns.campaigns SET requires_approval = true WHERE id = %s", (world["campaign"],))
    return world


def test_approval_required_without_approvals_is_refused(conn, approval_world):
    assert launch_error(conn, approval_world["campaign"]) == "QC103"
    assert_untouched_draft(conn, approval_world["campaign"])


def test_pending_approval_is_refused(conn, approval_world):
    _approval(conn, approval_world, "campaign_manager", "pending")
    assert launch_error(conn, approval_world["campaign"]) == "QC103"


def test_campaign_manager_approval_allows_launch(conn, approval_world):
    _approval(conn, approval_world, "campaign_manager", "approved")
    assert launch(conn, approval_world["campaign"]) == N


def test_promotional_needs_compliance_officer_too(conn, approval_world):
    conn.execute("UPDATE campaigns.campaigns SET is_promotional = true WHERE id = %s", (approval_world["campaign"],))
    _approval(conn, approval_world, "campaign_manager", "approved")
    assert launch_error(conn, approval_world["campaign"]) == "QC103"
    _approval(conn, approval_world, "compliance_officer", "approved")
    assert launch(conn, approval_world["campaign"]) == N


def test_rejection_in_latest_round_is_refused(conn, approval_world):
    _approval(conn, approval_world, "campaign_manager", "approved", round_=1)
    _approval(conn, approval_world, "campaign_manager", "rejected", round_=2)
    assert launch_error(conn, approval_world["campaign"]) == "QC103"
    assert_untouched_draft(conn, approval_world["campaign"])


def test_rejection_beside_an_approval_in_the_same_round_is_refused(conn, approval_world):
    second = insert(conn, "users", tenant_id=approval_world["tenant_id"], email="second@example.com")
    _approval(conn, approval_world, "campaign_manager", "approved")
    _approval(conn, approval_world, "campaign_manager", "rejected", approver=second)
    assert launch_error(conn, approval_world["campaign"]) == "QC103"


def test_rejection_in_an_older_round_does_not_block(conn, approval_world):
    _approval(conn, approval_world, "campaign_manager", "rejected", round_=1)
    _approval(conn, approval_world, "campaign_manager", "approved", round_=2)
    assert launch(conn, approval_world["campaign"]) == N


# -- monthly quota and atomicity ------------------------------------------------


def test_quota_smaller_than_launch_is_refused_and_nothing_enrolled(conn, world):
    # N contacts x 2 email steps = 6 emails; 5 allowed.
    conn.execute("UPDATE campaigns.tenants SET monthly_email_quota = %s WHERE id = %s", (2 * N - 1, world["tenant_id"]))
    assert launch_error(conn, world["campaign"]) == "QC104"
    assert_untouched_draft(conn, world["campaign"])


def test_quota_exactly_enough_allows_launch(conn, world):
    conn.execute("UPDATE campaigns.tenants SET monthly_email_quota = %s WHERE id = %s", (2 * N, world["tenant_id"]))
    assert launch(conn, world["campaign"]) == N


def test_quota_counts_mail_already_sent_this_month(conn, world):
    tid = world["tenant_id"]
    conn.execute("UPDATE campaigns.tenants SET monthly_email_quota = %s WHERE id = %s", (2 * N, tid))
    _opens(conn, tid, make_contact(conn, tid), [AS_OF - timedelta(hours=5)])  # one message this month
    # … counted as its send was recorded (the month's usage, which the sender enforces too).
    conn.execute("SELECT campaigns._add_send_usage(%s, 1, %s)", (tid, AS_OF - timedelta(hours=6)))
    assert launch_error(conn, world["campaign"]) == "QC104"
    assert_untouched_draft(conn, world["campaign"])


def test_quota_counts_mail_running_enrollments_may_still_send(conn, world):
    """Another running campaign's enrollment with one email step to go holds one email of the quota."""
    tid = world["tenant_id"]
    conn.execute("UPDATE campaigns.tenants SET monthly_email_quota = %s WHERE id = %s", (2 * N, tid))
    other = make_campaign(conn, tid, status="active", launched_at=AS_OF)
    make_step(conn, tid, other)
    make_enrollment(conn, tid, other, make_contact(conn, tid), status="active")
    assert launch_error(conn, world["campaign"]) == "QC104"
    assert_untouched_draft(conn, world["campaign"])


def test_launch_past_end_date_is_refused(conn, world):
    conn.execute("UPDATE campaigns.campaigns SET end_date = %s WHERE id = %s", (AS_OF, world["campaign"]))
    assert launch_error(conn, world["campaign"]) == "QC409"
    assert_untouched_draft(conn, world["campaign"])


def test_quota_ignores_last_months_mail(conn, world):
    tid = world["tenant_id"]
    conn.execute("UPDATE campaigns.tenants SET monthly_email_quota = %s WHERE id = %s", (2 * N, tid))
    _opens(conn, tid, make_contact(conn, tid), [datetime(2026, 2, 27, 12, tzinfo=UTC)])
    assert launch(conn, world["campaign"]) == N


def test_quota_is_enforced_for_the_app_role(conn, world):
    """The tenant row is read under Row Level Security: the quota must not silently vanish."""
    conn.execute("UPDATE campaigns.tenants SET monthly_email_quota = %s WHERE id = %s", (2 * N - 1, world["tenant_id"]))
    with pytest.raises(psycopg.Error) as e, conn.transaction():
        conn.execute("SET LOCAL ROLE campaigns_app")
        conn.execute("SELECT set_config('campaigns.tenant_id', %s, true)", (str(world["tenant_id"]),))
        launch(conn, world["campaign"])
    assert e.value.sqlstate == "QC104"
    assert_untouched_draft(conn, world["campaign"])


# -- concurrency -------------------------------------------------------------------------


def _launch_blocked_until(conn, launcher, campaign, release) -> int | str:
    """Launch on `launcher` in a thread, wait until it blocks on a lock, call release() (a commit
    elsewhere), and return what the launch returned: its count or its SQLSTATE."""
    results: dict[str, int | str] = {}

    def run():
        try:
            results["launch"] = launch(launcher, campaign)
        except psycopg.Error as e:
            results["launch"] = e.sqlstate

    thread = threading.Thread(target=run)
    thread.start()
    wait_until_blocked(conn, launcher.info.backend_pid)
    release()
    thread.join(10)
    assert not thread.is_alive()
    return results["launch"]


@pytest.mark.commits
def test_concurrent_launch_waits_then_fails(db_url, conn, world):
    campaign = world["campaign"]
    with psycopg.connect(db_url) as a, psycopg.connect(db_url, autocommit=True) as b:
        assert launch(a, campaign) == N  # conn A holds its transaction open
        assert _launch_blocked_until(conn, b, campaign, a.commit) == "QC409"
    assert len(enrollments(conn, campaign)) == N
    assert campaign_row(conn, campaign)["total_contacts"] == N


@pytest.mark.commits
def test_concurrent_launches_yield_one_success(db_url, conn, world):
    campaign, workers = world["campaign"], 4
    barrier = threading.Barrier(workers)
    outcomes: list[object] = []

    def run():
        with psycopg.connect(db_url, autocommit=True) as c:
            barrier.wait()
            try:
                outcomes.append(launch(c, campaign))
            except psycopg.Error as e:
                outcomes.append(e.sqlstate)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert sorted(outcomes, key=str) == sorted([N] + ["QC409"] * (workers - 1), key=str)
    assert len(enrollments(conn, campaign)) == N
    assert campaign_row(conn, campaign)["total_contacts"] == N


@pytest.mark.commits
def test_contact_enrolled_by_a_concurrent_transaction_is_skipped_not_an_error(db_url, conn, world):
    """Launch tries the plain INSERT first (nobody is enrolled yet); an enrollment committed meanwhile
    (a move_to_campaign action into this draft) makes it fall back to the idempotent form."""
    tid, campaign = world["tenant_id"], world["campaign"]
    with psycopg.connect(db_url) as mover, psycopg.connect(db_url, autocommit=True) as launcher:
        make_enrollment(mover, tid, campaign, world["contacts"][0], current_step_id=world["first"])  # uncommitted
        # The launch blocks on the uncommitted row's unique key until the mover commits.
        assert _launch_blocked_until(conn, launcher, campaign, mover.commit) == N - 1
    rows = enrollments(conn, campaign)
    assert sorted(r["contact_id"] for r in rows) == sorted(world["contacts"])
    assert campaign_row(conn, campaign)["status"] == "active"


# -- tenancy --------------------------------------------------------------------------------------


def test_another_tenants_campaign_is_not_found(conn, world):
    other = make_tenant(conn, "B")
    otid = other["tenant_id"]
    theirs = one_step_campaign(conn, otid, [make_contact(conn, otid)])
    with pytest.raises(psycopg.Error) as e, conn.transaction():
        conn.execute("SET LOCAL ROLE campaigns_app")
        conn.execute("SELECT set_config('campaigns.tenant_id', %s, true)", (str(world["tenant_id"]),))
        launch(conn, theirs)
    assert e.value.sqlstate == "QC404"
    assert_untouched_draft(conn, theirs)
    # The same call scoped to the owning tenant succeeds: the refusal was the tenant, not the role.
    with conn.transaction():
        conn.execute("SET LOCAL ROLE campaigns_app")
        conn.execute("SELECT set_config('campaigns.tenant_id', %s, true)", (str(otid),))
        assert launch(conn, theirs) == 1
    assert campaign_row(conn, theirs)["status"] == "active"
