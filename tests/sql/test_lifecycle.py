"""The campaign lifecycle after creation (db/functions/21_campaign_lifecycle.sql, 22_campaign_schedule.sql,
20_campaigns.sql): pause and resume, schedule, unschedule and the scheduled-launch job, and clone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from tests.support.factories import (
    insert, make_campaign, make_contact, make_enrollment, make_segment, make_step, make_tenant,
)

UTC = timezone.utc
AS_OF = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
LAUNCHED = AS_OF - timedelta(days=2)
MISSING = "00000000-0000-4000-8000-000000000000"


# -- helpers ---------------------------------------------------------------------------------------


def call(conn, fn: str, *args):
    """SELECT campaigns.<fn>(args...) and return the single value."""
    placeholders = ", ".join(["%s"] * len(args))
    return conn.execute(f"SELECT campaigns.{fn}({placeholders})", args).fetchone()[0]


def error_of(conn, fn: str, *args) -> str:
    with pytest.raises(psycopg.Error) as e:
        call(conn, fn, *args)
    return e.value.sqlstate


def row(conn, table: str, id_) -> dict:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT * FROM campaigns.{table} WHERE id = %s", (id_,)).fetchone()


def rows(conn, query: str, *params) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def status_of(conn, campaign_id) -> str:
    return row(conn, "campaigns", campaign_id)["status"]


def set_status(conn, campaign_id, status, **cols):
    sets = ", ".join(f"{k} = %s" for k in ["status", *cols])
    conn.execute(f"UPDATE campaigns.campaigns SET {sets} WHERE id = %s", (status, *cols.values(), campaign_id))


def count(conn, table: str, campaign_id) -> int:
    return conn.execute(f"SELECT count(*) FROM campaigns.{table} WHERE campaign_id = %s", (campaign_id,)).fetchone()[0]


def ready_campaign(conn, tid, n_contacts=2, **cols):
    """A draft campaign with one email step over a segment of n fresh contacts."""
    contacts = [make_contact(conn, tid) for _ in range(n_contacts)]
    campaign = make_campaign(conn, tid, segment_id=make_segment(conn, tid, contacts), **cols)
    make_step(conn, tid, campaign)
    return campaign


# -- pause / resume --------------------------------------------------------------------


@pytest.fixture
def running(conn):
    """An active campaign with one enrollment in each state, and the same contacts active in another campaign."""
    t = make_tenant(conn, "A")
    tid = t["tenant_id"]
    campaign = make_campaign(conn, tid, status="active", launched_at=LAUNCHED)
    step = make_step(conn, tid, campaign)
    due = {name: AS_OF + timedelta(hours=i) for i, name in enumerate(["fresh", "started", "replied", "manual"])}
    contacts = {name: make_contact(conn, tid) for name in ["fresh", "started", "replied", "manual", "done", "gone"]}
    e = {
        "fresh": make_enrollment(conn, tid, campaign, contacts["fresh"], status="enrolled", current_step_id=step,
                                 next_email_scheduled_at=due["fresh"]),
        "started": make_enrollment(conn, tid, campaign, contacts["started"], status="active", current_step_id=step,
                                   started_at=LAUNCHED, next_email_scheduled_at=due["started"]),
        "replied": make_enrollment(conn, tid, campaign, contacts["replied"], status="paused", pause_reason="reply",
                                   started_at=LAUNCHED, current_step_id=step, next_email_scheduled_at=due["replied"]),
        "manual": make_enrollment(conn, tid, campaign, contacts["manual"], status="paused", pause_reason="manual",
                                  current_step_id=step, next_email_scheduled_at=due["manual"]),
        "done": make_enrollment(conn, tid, campaign, contacts["done"], status="completed", started_at=LAUNCHED,
                                completed_at=AS_OF),
        "gone": make_enrollment(conn, tid, campaign, contacts["gone"], status="exited", started_at=LAUNCHED,
                                exited_at=AS_OF, exit_reason="unsubscribed"),
    }
    other = make_campaign(conn, tid, status="active", launched_at=LAUNCHED)
    make_step(conn, tid, other)
    bystanders = [make_enrollment(conn, tid, other, contacts[name], status="active", started_at=LAUNCHED)
                  for name in ("fresh", "started")]
    return {**t, "campaign": campaign, "step": step, "e": e, "due": due, "other": other, "bystanders": bystanders}


def enrollment_state(conn, enrollment_id) -> tuple:
    r = row(conn, "campaign_contacts", enrollment_id)
    return r["status"], r["pause_reason"], r["next_email_scheduled_at"]


def snapshot(conn, ids) -> dict:
    """Every column but updated_at of the given enrollments."""
    return {i: {k: v for k, v in row(conn, "campaign_contacts", i).items() if k != "updated_at"} for i in ids}


def test_pause_pauses_campaign_and_its_live_enrollments(conn, running):
    e = running["e"]
    assert call(conn, "pause_campaign", running["campaign"]) == 2
    assert status_of(conn, running["campaign"]) == "paused"
    assert enrollment_state(conn, e["fresh"])[:2] == ("paused", "campaign")
    assert enrollment_state(conn, e["started"])[:2] == ("paused", "campaign")


def test_pause_keeps_due_times(conn, running):
    call(conn, "pause_campaign", running["campaign"])
    for name in ("fresh", "started"):
        assert enrollment_state(conn, running["e"][name])[2] == running["due"][name]


def test_pause_leaves_other_enrollments_alone(conn, running):
    e = running["e"]
    untouched = [e["replied"], e["manual"], e["done"], e["gone"], *running["bystanders"]]
    before = snapshot(conn, untouched)
    call(conn, "pause_campaign", running["campaign"])
    assert snapshot(conn, untouched) == before
    assert status_of(conn, running["other"]) == "active"


def test_pause_is_one_transaction(conn, running):
    """If the caller's transaction rolls back, neither the campaign nor any enrollment stays paused."""
    e = running["e"]
    with conn.transaction(force_rollback=True):
        assert call(conn, "pause_campaign", running["campaign"]) == 2
    assert status_of(conn, running["campaign"]) == "active"
    assert enrollment_state(conn, e["fresh"])[:2] == ("enrolled", None)
    assert enrollment_state(conn, e["started"])[:2] == ("active", None)


@pytest.mark.parametrize("status", ["draft", "scheduled", "paused", "completed"])
def test_pause_from_wrong_status_is_refused(conn, running, status):
    set_status(conn, running["campaign"], status)
    before = snapshot(conn, running["e"].values())
    assert error_of(conn, "pause_campaign", running["campaign"]) == "QC409"
    assert status_of(conn, running["campaign"]) == status
    assert snapshot(conn, running["e"].values()) == before


def test_resume_releases_campaign_paused_enrollments(conn, running):
    e = running["e"]
    call(conn, "pause_campaign", running["campaign"])
    assert call(conn, "resume_campaign", running["campaign"], AS_OF) == 2
    assert status_of(conn, running["campaign"]) == "active"
    assert enrollment_state(conn, e["fresh"]) == ("enrolled", None, running["due"]["fresh"])  # never started
    assert enrollment_state(conn, e["started"]) == ("active", None, running["due"]["started"])


def test_resume_keeps_individually_paused_enrollments_paused(conn, running):
    e = running["e"]
    call(conn, "pause_campaign", running["campaign"])
    call(conn, "resume_campaign", running["campaign"], AS_OF)
    assert enrollment_state(conn, e["replied"])[:2] == ("paused", "reply")
    assert enrollment_state(conn, e["manual"])[:2] == ("paused", "manual")
    assert row(conn, "campaign_contacts", e["done"])["status"] == "completed"
    assert row(conn, "campaign_contacts", e["gone"])["status"] == "exited"


@pytest.mark.parametrize("status", ["draft", "scheduled", "active", "completed"])
def test_resume_from_wrong_status_is_refused(conn, running, status):
    set_status(conn, running["campaign"], status)
    assert error_of(conn, "resume_campaign", running["campaign"], AS_OF) == "QC409"
    assert status_of(conn, running["campaign"]) == status


@pytest.mark.parametrize("end_date", [AS_OF - timedelta(minutes=1), AS_OF])
def test_resume_past_end_date_is_refused(conn, running, end_date):
    call(conn, "pause_campaign", running["campaign"])
    conn.execute("UPDATE campaigns.campaigns SET end_date = %s WHERE id = %s", (end_date, running["campaign"]))
    assert error_of(conn, "resume_campaign", running["campaign"], AS_OF) == "QC409"
    assert status_of(conn, running["campaign"]) == "paused"
    assert enrollment_state(conn, running["e"]["started"])[:2] == ("paused", "campaign")


def test_resume_before_end_date_is_allowed(conn, running):
    call(conn, "pause_campaign", running["campaign"])
    conn.execute("UPDATE campaigns.campaigns SET end_date = %s WHERE id = %s",
                 (AS_OF + timedelta(minutes=1), running["campaign"]))
    assert call(conn, "resume_campaign", running["campaign"], AS_OF) == 2
    assert status_of(conn, running["campaign"]) == "active"


@pytest.mark.parametrize("fn", ["pause_campaign", "resume_campaign"])
def test_pause_and_resume_of_missing_campaign_are_not_found(conn, fn):
    assert error_of(conn, fn, MISSING) == "QC404"


# -- schedule ----------------------------------------------------------------------


@pytest.fixture
def tenant(conn):
    return make_tenant(conn, "A")


def test_schedule_draft_for_the_future(conn, tenant):
    campaign = ready_campaign(conn, tenant["tenant_id"])
    start = AS_OF + timedelta(days=1)
    call(conn, "schedule_campaign", campaign, start, AS_OF)
    r = row(conn, "campaigns", campaign)
    assert (r["status"], r["scheduled_at"], r["launched_at"]) == ("scheduled", start, None)
    assert count(conn, "campaign_contacts", campaign) == 0


@pytest.mark.parametrize("start", [AS_OF - timedelta(minutes=1), AS_OF, None])
def test_schedule_in_the_past_is_refused(conn, tenant, start):
    campaign = ready_campaign(conn, tenant["tenant_id"])
    assert error_of(conn, "schedule_campaign", campaign, start, AS_OF) == "QC301"
    r = row(conn, "campaigns", campaign)
    assert (r["status"], r["scheduled_at"]) == ("draft", None)


def test_reschedule_moves_the_start(conn, tenant):
    campaign = ready_campaign(conn, tenant["tenant_id"])
    call(conn, "schedule_campaign", campaign, AS_OF + timedelta(days=1), AS_OF)
    call(conn, "schedule_campaign", campaign, AS_OF + timedelta(days=3), AS_OF)
    r = row(conn, "campaigns", campaign)
    assert (r["status"], r["scheduled_at"]) == ("scheduled", AS_OF + timedelta(days=3))


@pytest.mark.parametrize("status", ["active", "paused", "completed"])
def test_schedule_from_wrong_status_is_refused(conn, tenant, status):
    campaign = ready_campaign(conn, tenant["tenant_id"])
    set_status(conn, campaign, status)
    assert error_of(conn, "schedule_campaign", campaign, AS_OF + timedelta(days=1), AS_OF) == "QC409"
    assert row(conn, "campaigns", campaign)["scheduled_at"] is None


def test_unschedule_returns_to_draft(conn, tenant):
    campaign = ready_campaign(conn, tenant["tenant_id"])
    call(conn, "schedule_campaign", campaign, AS_OF + timedelta(days=1), AS_OF)
    call(conn, "unschedule_campaign", campaign)
    r = row(conn, "campaigns", campaign)
    assert (r["status"], r["scheduled_at"]) == ("draft", None)
    # Not scheduled any more: the job leaves it alone.
    assert call(conn, "launch_scheduled_campaigns", AS_OF + timedelta(days=2)) == 0
    assert status_of(conn, campaign) == "draft"


def test_unschedule_a_draft_is_refused(conn, tenant):
    campaign = ready_campaign(conn, tenant["tenant_id"])
    assert error_of(conn, "unschedule_campaign", campaign) == "QC409"


def test_scheduled_launch_waits_for_its_time(conn, tenant):
    campaign = ready_campaign(conn, tenant["tenant_id"])
    start = AS_OF + timedelta(hours=1)
    call(conn, "schedule_campaign", campaign, start, AS_OF)
    assert call(conn, "launch_scheduled_campaigns", start - timedelta(seconds=1)) == 0
    assert status_of(conn, campaign) == "scheduled"
    assert count(conn, "campaign_contacts", campaign) == 0


def test_scheduled_launch_happens_exactly_once(conn, tenant):
    campaign = ready_campaign(conn, tenant["tenant_id"], n_contacts=3)
    start = AS_OF + timedelta(hours=1)
    call(conn, "schedule_campaign", campaign, start, AS_OF)
    run_at = start + timedelta(seconds=30)
    assert call(conn, "launch_scheduled_campaigns", run_at) == 1
    r = row(conn, "campaigns", campaign)
    assert (r["status"], r["launched_at"], r["scheduled_at"], r["total_contacts"]) == ("active", run_at, None, 3)
    assert count(conn, "campaign_contacts", campaign) == 3
    assert call(conn, "launch_scheduled_campaigns", run_at + timedelta(minutes=1)) == 0
    assert count(conn, "campaign_contacts", campaign) == 3
    assert row(conn, "campaigns", campaign)["total_contacts"] == 3


def test_failed_scheduled_launch_is_recorded_and_others_still_launch(conn, tenant):
    tid = tenant["tenant_id"]
    contact = make_contact(conn, tid)
    broken = make_campaign(conn, tid, segment_id=make_segment(conn, tid, [contact]))  # no steps
    good = ready_campaign(conn, tid)
    call(conn, "schedule_campaign", broken, AS_OF + timedelta(minutes=1), AS_OF)  # due first
    call(conn, "schedule_campaign", good, AS_OF + timedelta(minutes=2), AS_OF)
    assert call(conn, "launch_scheduled_campaigns", AS_OF + timedelta(minutes=5)) == 1
    b = row(conn, "campaigns", broken)
    assert b["status"] == "draft" and b["schedule_error"].startswith("QC101") and b["scheduled_at"] is None
    assert count(conn, "campaign_contacts", broken) == 0
    assert status_of(conn, good) == "active"
    assert count(conn, "campaign_contacts", good) == 2
    # The failed one is not retried by the next run.
    assert call(conn, "launch_scheduled_campaigns", AS_OF + timedelta(minutes=6)) == 0


@pytest.mark.commits
def test_concurrent_scheduled_runs_do_not_launch_twice(db_url, conn, tenant):
    campaign = ready_campaign(conn, tenant["tenant_id"])
    call(conn, "schedule_campaign", campaign, AS_OF + timedelta(minutes=1), AS_OF)
    run_at = AS_OF + timedelta(minutes=2)
    with psycopg.connect(db_url) as a, psycopg.connect(db_url, autocommit=True) as b:
        assert call(a, "launch_scheduled_campaigns", run_at) == 1  # transaction left open
        b.execute("SET statement_timeout = '5s'")
        assert call(b, "launch_scheduled_campaigns", run_at) == 0  # skips the locked row, does not wait
        a.commit()
        assert call(b, "launch_scheduled_campaigns", run_at) == 0
    assert count(conn, "campaign_contacts", campaign) == 2


# -- clone ---------------------------------------------------------------------------


COUNTERS = ("emails_sent", "emails_delivered", "opens", "clicks", "replies", "unsubscribes", "bounces")
TARGETS = ("next_step_id", "true_next_step_id", "false_next_step_id", "email_step_id")


@pytest.fixture
def source(conn, tenant):
    """A completed campaign: email1 -> wait -> condition(opened email1 ? email2 : tag -> email2), with counters,
    enrollments, an analytics row and an approval."""
    tid, uid = tenant["tenant_id"], tenant["user_id"]
    contact = make_contact(conn, tid)
    campaign = make_campaign(
        conn, tid, name="Spring promo", status="completed", segment_id=make_segment(conn, tid, [contact]),
        launched_at=LAUNCHED, completed_at=AS_OF, total_contacts=7, created_by=uid, timezone="Europe/Paris",
        daily_limit=40, requires_approval=True)
    email1 = make_step(conn, tid, campaign, step_order=1)
    wait = make_step(conn, tid, campaign, step_type="wait", step_order=2, wait_duration_value=2)
    cond = make_step(conn, tid, campaign, step_type="condition", step_order=3, email_step_id=email1,
                     condition_rules=Jsonb({"type": "email_opened"}))
    tag = make_step(conn, tid, campaign, step_type="action", step_order=4, action_type="add_tag",
                    action_config=Jsonb({"tag": "cold"}))
    email2 = make_step(conn, tid, campaign, step_order=5)
    for step, column, target in [(email1, "next_step_id", wait), (wait, "next_step_id", cond),
                                 (cond, "true_next_step_id", email2), (cond, "false_next_step_id", tag),
                                 (tag, "next_step_id", email2)]:
        conn.execute(f"UPDATE campaigns.campaign_steps SET {column} = %s WHERE id = %s", (target, step))
    conn.execute("UPDATE campaigns.campaign_steps SET " + ", ".join(f"{c} = 3" for c in COUNTERS)
                 + " WHERE campaign_id = %s", (campaign,))
    make_enrollment(conn, tid, campaign, contact, status="completed", completed_at=AS_OF)
    insert(conn, "campaign_analytics", tenant_id=tid, campaign_id=campaign, date=AS_OF.date(), emails_sent=3)
    insert(conn, "campaign_approvals", tenant_id=tid, campaign_id=campaign, approver_id=uid,
           approval_role="campaign_manager", status="approved", reviewed_at=LAUNCHED)
    caller = insert(conn, "users", tenant_id=tid, email="caller@example.com")
    return {**tenant, "campaign": campaign, "caller": caller}


def clone_as(conn, campaign_id, user_id=None):
    with conn.transaction():
        if user_id is not None:
            conn.execute("SELECT set_config('campaigns.user_id', %s, true)", (str(user_id),))
        return call(conn, "clone_campaign", campaign_id)


def test_clone_is_a_fresh_draft(conn, source):
    new = clone_as(conn, source["campaign"], source["caller"])
    assert new != source["campaign"]
    c, orig = row(conn, "campaigns", new), row(conn, "campaigns", source["campaign"])
    assert c["name"] == "Spring promo (Copy)"
    assert (c["status"], c["launched_at"], c["completed_at"], c["total_contacts"]) == ("draft", None, None, 0)
    assert (c["scheduled_at"], c["schedule_error"]) == (None, None)
    assert c["created_by"] == source["caller"]
    assert (c["tenant_id"], c["segment_id"], c["timezone"], c["daily_limit"], c["requires_approval"]) == (
        orig["tenant_id"], orig["segment_id"], "Europe/Paris", 40, True)
    assert (orig["status"], orig["name"], orig["total_contacts"]) == ("completed", "Spring promo", 7)


def test_clone_without_caller_keeps_the_original_creator(conn, source):
    new = clone_as(conn, source["campaign"])
    assert row(conn, "campaigns", new)["created_by"] == source["user_id"]


def _steps(conn, campaign_id) -> list[dict]:
    return rows(conn, "SELECT * FROM campaigns.campaign_steps WHERE campaign_id = %s ORDER BY step_order", campaign_id)


def test_clone_copies_steps_with_new_ids_and_zero_counters(conn, source):
    new = clone_as(conn, source["campaign"])
    originals, copies = _steps(conn, source["campaign"]), _steps(conn, new)
    assert [s["step_order"] for s in copies] == [s["step_order"] for s in originals] == [1, 2, 3, 4, 5]
    assert not {s["id"] for s in copies} & {s["id"] for s in originals}
    same = ("step_type", "subject_line", "email_content", "wait_duration_value", "wait_duration_unit",
            "condition_rules", "action_type", "action_config")
    for o, c in zip(originals, copies):
        assert {k: c[k] for k in same} == {k: o[k] for k in same}
        assert {k: c[k] for k in COUNTERS} == dict.fromkeys(COUNTERS, 0)
        assert {k: o[k] for k in COUNTERS} == dict.fromkeys(COUNTERS, 3)  # the original keeps its counters


def test_clone_remaps_every_target_to_the_copies(conn, source):
    new = clone_as(conn, source["campaign"])
    originals, copies = _steps(conn, source["campaign"]), _steps(conn, new)
    to_copy = {o["id"]: c["id"] for o, c in zip(originals, copies)}
    original_ids = set(to_copy)
    linked = 0
    for o, c in zip(originals, copies):
        for column in TARGETS:
            assert c[column] not in original_ids, (c["step_order"], column)
            assert c[column] == (to_copy[o[column]] if o[column] else None), (c["step_order"], column)
            linked += o[column] is not None
    assert linked == 6  # next x3, true, false, email_step_id: the fixture's every link was checked


def test_clone_copies_no_enrollments_analytics_or_approvals(conn, source):
    new = clone_as(conn, source["campaign"])
    assert [count(conn, t, new) for t in ("campaign_contacts", "campaign_analytics", "campaign_approvals")] == [0, 0, 0]
    assert [count(conn, t, source["campaign"]) for t in ("campaign_contacts", "campaign_analytics",
                                                         "campaign_approvals")] == [1, 1, 1]


def test_clone_of_missing_campaign_is_not_found(conn, tenant):
    assert error_of(conn, "clone_campaign", MISSING) == "QC404"


def test_clone_is_launchable(conn, source):
    new = clone_as(conn, source["campaign"])
    conn.execute("UPDATE campaigns.campaigns SET requires_approval = false WHERE id = %s", (new,))
    assert call(conn, "launch_campaign", new, AS_OF) == 1
    first = _steps(conn, new)[0]["id"]
    assert rows(conn, "SELECT current_step_id FROM campaigns.campaign_contacts WHERE campaign_id = %s", new) == [
        {"current_step_id": first}]


# -- tenancy -----------------------------------------------------------------------------


@pytest.mark.parametrize("fn, status, extra", [
    ("pause_campaign", "active", ()),
    ("resume_campaign", "paused", (AS_OF,)),
    ("schedule_campaign", "draft", (AS_OF + timedelta(days=1), AS_OF)),
    ("unschedule_campaign", "scheduled", ()),
    ("clone_campaign", "draft", ()),
])
def test_another_tenants_campaign_is_not_found(conn, tenant, fn, status, extra):
    other = make_tenant(conn, "B")
    theirs = ready_campaign(conn, other["tenant_id"])
    set_status(conn, theirs, status)
    with pytest.raises(psycopg.Error) as e, conn.transaction():
        conn.execute("SET LOCAL ROLE campaigns_app")
        conn.execute("SELECT set_config('campaigns.tenant_id', %s, true)", (str(tenant["tenant_id"]),))
        call(conn, fn, theirs, *extra)
    assert e.value.sqlstate == "QC404"
    assert status_of(conn, theirs) == status
    assert conn.execute("SELECT count(*) FROM campaigns.campaigns").fetchone()[0] == 1


def test_clone_as_app_role_of_own_campaign(conn, source):
    with conn.transaction():
        conn.execute("SET LOCAL ROLE campaigns_app")
        conn.execute("SELECT set_config('campaigns.tenant_id', %s, true)", (str(source["tenant_id"]),))
        conn.execute("SELECT set_config('campaigns.user_id', %s, true)", (str(source["caller"]),))
        new = call(conn, "clone_campaign", source["campaign"])
    assert row(conn, "campaigns", new)["created_by"] == source["caller"]
    assert len(_steps(conn, new)) == 5


def test_clone_copies_ab_tests_as_drafts_on_the_copied_steps(conn, source):
    email1 = _steps(conn, source["campaign"])[0]["id"]
    tid = source["tenant_id"]
    test = insert(conn, "ab_tests", tenant_id=tid, campaign_id=source["campaign"], step_id=email1,
                  test_name="Subject test", sample_percent=30, win_metric="click_rate", minimum_sample_size=50)
    a = insert(conn, "ab_test_variants", tenant_id=tid, ab_test_id=test, variant_name="A", is_control=True)
    insert(conn, "ab_test_variants", tenant_id=tid, ab_test_id=test, variant_name="B", subject_line="Other subject",
           sender_name="Ann")
    # The original's test has been decided.
    conn.execute("UPDATE campaigns.ab_tests SET status = 'winner_deployed', started_at = %s, decided_at = %s, "
                 "decision = 'manual', winner_variant_id = %s, results_summary = '{}' WHERE id = %s",
                 (LAUNCHED, AS_OF, a, test))
    new = clone_as(conn, source["campaign"])
    copied_step = _steps(conn, new)[0]["id"]
    tests = rows(conn, "SELECT * FROM campaigns.ab_tests WHERE campaign_id = %s", new)
    assert len(tests) == 1
    t = tests[0]
    assert t["id"] != test and t["step_id"] == copied_step
    assert (t["test_name"], t["sample_percent"], t["win_metric"], t["minimum_sample_size"]) == ("Subject test", 30, "click_rate", 50)
    assert (t["status"], t["started_at"], t["decided_at"], t["decision"], t["winner_variant_id"], t["results_summary"]) == (
        "draft", None, None, None, None, None)
    variants = rows(conn, "SELECT variant_name, is_control, subject_line, sender_name, id FROM campaigns.ab_test_variants "
                          "WHERE ab_test_id = %s ORDER BY variant_name", t["id"])
    assert [(v["variant_name"], v["is_control"], v["subject_line"], v["sender_name"]) for v in variants] == [
        ("A", True, None, None), ("B", False, "Other subject", "Ann")]
    assert a not in {v["id"] for v in variants}
    # The original is untouched.
    assert rows(conn, "SELECT status FROM campaigns.ab_tests WHERE campaign_id = %s", source["campaign"]) == [
        {"status": "winner_deployed"}]
