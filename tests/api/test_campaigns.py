"""Campaigns over HTTP: create, list, get, update and delete with their rules, the lifecycle actions,
scheduling, analytics, enrollments and the manual exit."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from tests.support.api import assert_problem, count, digest, ok
from tests.support.factories import make_campaign, make_contact, make_segment, make_step


def create(api, **body):
    body.setdefault("name", "Spring")
    return ok(api.post("/api/campaigns", json=body), 201)


def audience(conn, tenant, n=3):
    contacts = [make_contact(conn, tenant.tenant_id) for _ in range(n)]
    return make_segment(conn, tenant.tenant_id, contacts), contacts


def launchable(conn, api, tenant, n=3, **body):
    segment, contacts = audience(conn, tenant, n)
    campaign = create(api, segment_id=str(segment), **body)
    make_step(conn, tenant.tenant_id, campaign["id"])
    return campaign, contacts


# -- create -----------------------------------------------------------------------------------------


def test_create_returns_a_draft_with_defaults_tenant_and_creator(api, conn, tenant):
    body = create(api, name="Spring launch")
    assert body["status"] == "draft" and body["name"] == "Spring launch"
    assert body["created_by"] == str(tenant.user_id)
    assert body["timezone"] == "UTC" and body["send_strategy"] == "immediate" and body["campaign_type"] == "drip"
    assert body["track_opens"] is body["track_clicks"] is body["unsubscribe_enabled"] is True
    row = conn.execute("SELECT tenant_id, created_by FROM campaigns.campaigns WHERE id = %s", (body["id"],)).fetchone()
    assert row == (tenant.tenant_id, tenant.user_id)


def test_create_with_settings(api):
    body = create(api, campaign_type="broadcast", timezone="Europe/Paris", daily_limit=200, sending_days=[1, 2, 3],
                  sending_window_start="09:00", sending_window_end="17:30", on_reply="pause", requires_approval=True)
    assert body["sending_days"] == [1, 2, 3] and body["sending_window_start"] == "09:00:00"
    assert body["sending_window_end"] == "17:30:00" and body["daily_limit"] == 200 and body["on_reply"] == "pause"


def test_a_campaign_created_in_a_workspace_takes_its_timezone(api, conn, tenant):
    workspace = conn.execute("UPDATE campaigns.workspaces SET timezone = 'Asia/Tokyo' WHERE tenant_id = %s RETURNING id",
                             (tenant.tenant_id,)).fetchone()[0]
    assert create(api, workspace_id=str(workspace))["timezone"] == "Asia/Tokyo"
    assert create(api, workspace_id=str(workspace), timezone="Europe/Paris")["timezone"] == "Europe/Paris"
    assert create(api)["timezone"] == "UTC"


@pytest.mark.parametrize("body", [
    {}, {"name": ""}, {"name": "   "}, {"name": "x" * 256}, {"name": "x", "campaign_type": "spam"},
    {"name": "x", "send_strategy": "later"}, {"name": "x", "daily_limit": 0}, {"name": "x", "sending_days": [0]},
    {"name": "x", "sending_days": []}, {"name": "x", "sending_window_start": "25:00"}, {"name": "x", "track_opens": "yes"},
    {"name": "x", "start_date": "2030-01-01T00:00:00"}, {"name": "x", "id": "00000000-0000-0000-0000-000000000000"},
    {"name": "x", "status": "active"}, {"name": "x", "tenant_id": "00000000-0000-0000-0000-000000000000"},
])
def test_create_rejects_invalid_bodies_and_inserts_nothing(api, conn, tenant, body):
    before = count(conn, "campaigns")
    assert_problem(api.post("/api/campaigns", json=body), 400, "VALIDATION_FAILED")
    assert count(conn, "campaigns") == before


def test_create_rejects_database_rule_violations(api, conn, tenant, other_tenant):
    foreign_segment = make_segment(conn, other_tenant.tenant_id)
    body = assert_problem(api.post("/api/campaigns", json={"name": "x", "segment_id": str(foreign_segment)}), 422, "REFERENCE_NOT_FOUND")
    assert body["constraint"] == "fk_campaigns_segment"
    assert_problem(api.post("/api/campaigns", json={"name": "x", "timezone": "Mars/Olympus"}), 422, "INVALID_TIMEZONE")
    assert_problem(api.post("/api/campaigns", json={"name": "x", "sending_window_start": "10:00"}), 422, "CONSTRAINT_VIOLATED")
    assert_problem(api.post("/api/campaigns", json={"name": "x", "end_date": "2001-01-01T00:00:00Z"}), 400, "INVALID_TIME_RANGE")
    assert count(conn, "campaigns", tenant.tenant_id) == 0


# -- list and get -----------------------------------------------------------------------------------


def test_list_paginates_filters_and_is_tenant_scoped(api, other_api, conn, tenant):
    ids = [create(api, name=f"c{i}")["id"] for i in range(25)]
    create(other_api, name="theirs")
    conn.execute("UPDATE campaigns.campaigns SET status = 'paused' WHERE id = ANY(%s::uuid[])", (ids[:3],))
    page = ok(api.get("/api/campaigns"))
    assert page["pagination"] == {"total": 25, "limit": 20, "offset": 0, "has_more": True}
    assert len(page["items"]) == 20 and page["items"][0]["id"] == ids[-1]  # newest first
    last = ok(api.get("/api/campaigns", params={"offset": 20}))
    assert len(last["items"]) == 5 and last["pagination"]["has_more"] is False
    assert {c["id"] for c in page["items"] + last["items"]} == set(ids)
    paused = ok(api.get("/api/campaigns", params={"status": "paused", "limit": 2}))
    assert paused["pagination"]["total"] == 3 and len(paused["items"]) == 2
    assert all(c["status"] == "paused" for c in paused["items"])
    assert ok(api.get("/api/campaigns", params={"offset": 1000}))["items"] == []


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"status": "sending"}, {"limit": "x"}])
def test_list_rejects_bad_query_parameters(api, params):
    assert_problem(api.get("/api/campaigns", params=params), 400, "VALIDATION_FAILED")


def test_get_returns_campaign_steps_in_order_and_latest_analytics(api, conn, tenant):
    campaign = create(api)
    third = make_step(conn, tenant.tenant_id, campaign["id"], step_order=3)
    first = make_step(conn, tenant.tenant_id, campaign["id"], step_order=1)
    second = make_step(conn, tenant.tenant_id, campaign["id"], step_order=2, step_type="wait")
    for day, sent in ((date(2030, 1, 1), 10), (date(2030, 1, 3), 30), (date(2030, 1, 2), 20)):
        conn.execute("INSERT INTO campaigns.campaign_analytics (tenant_id, campaign_id, date, emails_sent) VALUES (%s, %s, %s, %s)",
                     (tenant.tenant_id, campaign["id"], day, sent))
    body = ok(api.get(f"/api/campaigns/{campaign['id']}"))
    assert body["campaign"]["id"] == campaign["id"]
    assert [s["id"] for s in body["steps"]] == [str(first), str(second), str(third)]
    assert body["analytics"]["date"] == "2030-01-03" and body["analytics"]["emails_sent"] == 30


def test_get_without_steps_or_analytics(api):
    campaign = create(api)
    body = ok(api.get(f"/api/campaigns/{campaign['id']}"))
    assert body["steps"] == [] and body["analytics"] is None


def test_unknown_campaign_is_404(api):
    assert_problem(api.get("/api/campaigns/00000000-0000-4000-8000-000000000000"), 404, "NOT_FOUND")
    assert_problem(api.get("/api/campaigns/not-a-uuid"), 404, "NOT_FOUND")


# -- update -----------------------------------------------------------------------------------------


def test_patch_draft_updates_fields_and_updated_at(api):
    campaign = create(api)
    body = ok(api.patch(f"/api/campaigns/{campaign['id']}", json={"name": "Renamed", "daily_limit": 10, "description": None,
                                                                  "segment_id": None, "campaign_type": "broadcast"}))
    assert body["name"] == "Renamed" and body["daily_limit"] == 10 and body["campaign_type"] == "broadcast"
    assert body["updated_at"] > campaign["updated_at"]
    assert ok(api.patch(f"/api/campaigns/{campaign['id']}", json={"daily_limit": None}))["daily_limit"] is None
    # An empty patch changes nothing.
    assert ok(api.patch(f"/api/campaigns/{campaign['id']}", json={}))["name"] == "Renamed"


@pytest.mark.parametrize("status", ["active", "paused"])
def test_patch_running_campaign_settings_only(api, conn, status):
    campaign = create(api)
    conn.execute("UPDATE campaigns.campaigns SET status = %s WHERE id = %s", (status, campaign["id"]))
    body = ok(api.patch(f"/api/campaigns/{campaign['id']}", json={"name": "Live", "daily_limit": 5, "on_reply": "continue",
                                                                  "sending_days": [6, 7], "refresh_audience": True}))
    assert (body["name"], body["daily_limit"], body["status"]) == ("Live", 5, status)
    for field, value in (("segment_id", None), ("send_strategy", "optimized"), ("campaign_type", "broadcast"),
                         ("from_email", "x@example.com"), ("requires_approval", True)):
        assert_problem(api.patch(f"/api/campaigns/{campaign['id']}", json={"name": "No", field: value}), 409, "CAMPAIGN_NOT_EDITABLE")
    assert ok(api.get(f"/api/campaigns/{campaign['id']}"))["campaign"]["name"] == "Live"


def test_patch_completed_campaign_is_refused(api, conn):
    campaign = create(api)
    conn.execute("UPDATE campaigns.campaigns SET status = 'completed', completed_at = now() WHERE id = %s", (campaign["id"],))
    before = digest(conn)
    assert_problem(api.patch(f"/api/campaigns/{campaign['id']}", json={"name": "x"}), 409, "CAMPAIGN_NOT_EDITABLE")
    assert digest(conn) == before


def test_patch_validation(api, conn):
    campaign = create(api)
    url = f"/api/campaigns/{campaign['id']}"
    assert_problem(api.patch(url, json={"status": "active"}), 400, "VALIDATION_FAILED")
    assert_problem(api.patch(url, json={"name": None}), 400, "VALIDATION_FAILED")
    assert_problem(api.patch(url, json={"timezone": "Nowhere/City"}), 422, "INVALID_TIMEZONE")
    assert_problem(api.patch(url, json={"end_date": "2000-01-01T00:00:00Z"}), 400, "INVALID_TIME_RANGE")
    assert_problem(api.patch(url, json={"start_date": "2040-01-02T00:00:00Z", "end_date": "2040-01-01T00:00:00Z"}), 422, "CONSTRAINT_VIOLATED")


# -- delete -----------------------------------------------------------------------------------------


def test_delete_draft_only(api, conn, tenant):
    draft = create(api)
    make_step(conn, tenant.tenant_id, draft["id"])
    assert api.delete(f"/api/campaigns/{draft['id']}").status_code == 204
    assert count(conn, "campaigns", tenant.tenant_id) == 0 and count(conn, "campaign_steps", tenant.tenant_id) == 0
    for status in ("scheduled", "active", "paused", "completed"):
        campaign = create(api)
        conn.execute("UPDATE campaigns.campaigns SET status = %s, scheduled_at = now(), completed_at = now() WHERE id = %s", (status, campaign["id"]))
        assert_problem(api.delete(f"/api/campaigns/{campaign['id']}"), 409, "CAMPAIGN_NOT_EDITABLE")
    assert count(conn, "campaigns", tenant.tenant_id) == 4
    assert_problem(api.delete(f"/api/campaigns/{draft['id']}"), 404, "NOT_FOUND")


# -- lifecycle ---------------------------------------------------------------------------------------


def test_launch_pause_resume(api, conn, tenant):
    campaign, contacts = launchable(conn, api, tenant, 3)
    url = f"/api/campaigns/{campaign['id']}"
    launched = ok(api.post(f"{url}/launch"))
    assert launched["affected"] == 3 and launched["campaign"]["status"] == "active"
    assert launched["campaign"]["launched_at"] and launched["campaign"]["total_contacts"] == 3
    assert count(conn, "campaign_contacts", tenant.tenant_id) == 3
    assert_problem(api.post(f"{url}/launch"), 409, "INVALID_STATE_TRANSITION")
    assert_problem(api.post(f"{url}/resume"), 409, "INVALID_STATE_TRANSITION")
    paused = ok(api.post(f"{url}/pause"))
    assert paused["affected"] == 3 and paused["campaign"]["status"] == "paused"
    assert_problem(api.post(f"{url}/pause"), 409, "INVALID_STATE_TRANSITION")
    resumed = ok(api.post(f"{url}/resume"))
    assert resumed["affected"] == 3 and resumed["campaign"]["status"] == "active"
    assert count(conn, "campaign_contacts", tenant.tenant_id) == 3


def test_launch_refusals_leave_a_draft_without_enrollments(api, conn, tenant):
    segment, _ = audience(conn, tenant, 2)
    no_steps = create(api, segment_id=str(segment))
    assert_problem(api.post(f"/api/campaigns/{no_steps['id']}/launch"), 422, "CAMPAIGN_HAS_NO_STEPS")
    empty = create(api, segment_id=str(make_segment(conn, tenant.tenant_id)))
    make_step(conn, tenant.tenant_id, empty["id"])
    assert_problem(api.post(f"/api/campaigns/{empty['id']}/launch"), 422, "CAMPAIGN_HAS_NO_AUDIENCE")
    needs_ok = create(api, segment_id=str(segment), requires_approval=True)
    make_step(conn, tenant.tenant_id, needs_ok["id"])
    assert_problem(api.post(f"/api/campaigns/{needs_ok['id']}/launch"), 409, "APPROVAL_REQUIRED")
    conn.execute("UPDATE campaigns.tenants SET monthly_email_quota = 1 WHERE id = %s", (tenant.tenant_id,))
    quota = create(api, segment_id=str(segment))
    make_step(conn, tenant.tenant_id, quota["id"])
    assert_problem(api.post(f"/api/campaigns/{quota['id']}/launch"), 409, "MONTHLY_QUOTA_EXCEEDED")
    assert count(conn, "campaign_contacts", tenant.tenant_id) == 0
    assert {r[0] for r in conn.execute("SELECT status FROM campaigns.campaigns WHERE tenant_id = %s", (tenant.tenant_id,))} == {"draft"}


def test_launch_of_a_dynamic_segment_campaign_refreshes_the_segment_first(api, conn, tenant):
    segment = ok(api.post("/api/segments", json={"name": "vip", "segment_type": "dynamic",
                                                 "rules": {"conditions": [{"field": "tags", "operator": "contains", "value": "vip"}]}}), 201)
    assert segment["contact_count"] == 0
    for i in range(4):
        make_contact(conn, tenant.tenant_id, tags=["vip"], email=f"vip{i}@example.com")
    campaign = create(api, segment_id=segment["id"])
    make_step(conn, tenant.tenant_id, campaign["id"])
    assert ok(api.post(f"/api/campaigns/{campaign['id']}/launch"))["affected"] == 4


def test_send_action_is_an_alias(api, conn, tenant):
    campaign, _ = launchable(conn, api, tenant, 2)
    url = f"/api/campaigns/{campaign['id']}/send"
    assert ok(api.post(url, json={"action": "start"}))["campaign"]["status"] == "active"
    assert ok(api.post(url, json={"action": "pause"}))["campaign"]["status"] == "paused"
    assert ok(api.post(url, json={"action": "resume"}))["campaign"]["status"] == "active"
    assert_problem(api.post(url, json={"action": "start"}), 409, "INVALID_STATE_TRANSITION")
    assert_problem(api.post(url, json={"action": "stop"}), 400, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={}), 400, "VALIDATION_FAILED")


def test_clone_copies_steps_with_remapped_targets_and_caller_as_creator(api, api_app, conn, tenant):
    from tests.support.api import new_user_key

    campaign, _ = launchable(conn, api, tenant, 2)
    first = conn.execute("SELECT id FROM campaigns.campaign_steps WHERE campaign_id = %s", (campaign["id"],)).fetchone()[0]
    cond = make_step(conn, tenant.tenant_id, campaign["id"], step_type="condition", condition_rules='{"type": "email_opened"}',
                     email_step_id=first)
    conn.execute("UPDATE campaigns.campaign_steps SET next_step_id = %s WHERE id = %s", (cond, first))
    ok(api.post(f"/api/campaigns/{campaign['id']}/launch"))
    member_id, member_key = new_user_key(conn, tenant, "member@example.com")
    with api_app.client(member_key) as member:
        cloned = ok(member.post(f"/api/campaigns/{campaign['id']}/clone"))
    copy = cloned["campaign"]
    assert cloned["affected"] == 2 and copy["id"] != campaign["id"]
    assert copy["name"] == "Spring (Copy)" and copy["status"] == "draft" and copy["total_contacts"] == 0
    assert copy["launched_at"] is None and copy["created_by"] == str(member_id)
    steps = ok(api.get(f"/api/campaigns/{copy['id']}"))["steps"]
    ids = {s["id"] for s in steps}
    assert len(steps) == 2 and str(first) not in ids
    assert steps[0]["next_step_id"] == steps[1]["id"] and steps[1]["email_step_id"] == steps[0]["id"]
    assert count(conn, "campaign_contacts", tenant.tenant_id) == 2  # the original's only


def test_schedule_by_instant_and_by_local_time_and_cancel(api, conn):
    campaign = create(api, timezone="America/New_York")
    url = f"/api/campaigns/{campaign['id']}/schedule"
    instant = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=3)
    body = ok(api.post(url, json={"start_at": instant.isoformat()}))
    assert body["status"] == "scheduled" and datetime.fromisoformat(body["scheduled_at"].replace("Z", "+00:00")) == instant
    # 09:00 in New York before and after the March DST change (EST = UTC-5, EDT = UTC-4).
    body = ok(api.post(url, json={"local_date": "2031-03-07", "local_time": "09:00"}))
    assert body["scheduled_at"].startswith("2031-03-07T14:00:00")
    body = ok(api.post(url, json={"start_at": "2031-03-10T09:00:00"}))
    assert body["scheduled_at"].startswith("2031-03-10T13:00:00")
    body = ok(api.post(url, json={"local_date": "2031-03-10", "local_time": "09:00", "timezone": "Europe/London"}))
    assert body["scheduled_at"].startswith("2031-03-10T09:00:00")
    cancelled = ok(api.delete(url))
    assert cancelled["campaign"]["status"] == "draft" and cancelled["campaign"]["scheduled_at"] is None
    assert_problem(api.delete(url), 409, "INVALID_STATE_TRANSITION")


def test_schedule_refusals(api, conn, tenant):
    campaign = create(api)
    url = f"/api/campaigns/{campaign['id']}/schedule"
    assert_problem(api.post(url, json={"start_at": "2001-01-01T00:00:00Z"}), 400, "INVALID_TIME_RANGE")
    assert_problem(api.post(url, json={"local_date": "2001-01-01", "local_time": "09:00"}), 400, "INVALID_TIME_RANGE")
    assert_problem(api.post(url, json={"start_at": "2040-01-01T00:00:00", "timezone": "Atlantis/Capital"}), 422, "INVALID_TIMEZONE")
    assert_problem(api.post(url, json={}), 422, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={"local_date": "2040-01-01"}), 422, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={"start_at": "2040-01-01T00:00:00", "local_date": "2040-01-01", "local_time": "09:00"}), 422, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={"start_at": "2040-01-01T00:00:00Z", "timezone": "UTC"}), 422, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={"start_at": "tomorrow"}), 400, "VALIDATION_FAILED")
    conn.execute("UPDATE campaigns.campaigns SET status = 'active' WHERE id = %s", (campaign["id"],))
    assert_problem(api.post(url, json={"start_at": "2040-01-01T00:00:00Z"}), 409, "INVALID_STATE_TRANSITION")
    assert conn.execute("SELECT scheduled_at FROM campaigns.campaigns WHERE tenant_id = %s", (tenant.tenant_id,)).fetchone()[0] is None


# -- analytics -------------------------------------------------------------------------------------


def _analytics_rows(conn, tenant, campaign_id, days):
    for day in days:
        conn.execute(
            "INSERT INTO campaigns.campaign_analytics (tenant_id, campaign_id, date, emails_sent, emails_delivered, unique_opens,"
            " unique_clicks, open_rate) VALUES (%s, %s, %s, 5000, 4900, 1470, 245, 30.0)", (tenant.tenant_id, campaign_id, day))


def test_analytics_range_is_inclusive_with_summary_and_steps(api, conn, tenant):
    campaign = create(api)
    step = make_step(conn, tenant.tenant_id, campaign["id"])
    conn.execute("UPDATE campaigns.campaign_steps SET emails_sent = 10, emails_delivered = 8, opens = 4 WHERE id = %s", (step,))
    _analytics_rows(conn, tenant, campaign["id"], [date(2030, 1, d) for d in (1, 2, 3, 4, 5)])
    body = ok(api.get(f"/api/campaigns/{campaign['id']}/analytics", params={"startDate": "2030-01-02", "endDate": "2030-01-04"}))
    assert [r["date"] for r in body["overall"]] == ["2030-01-02", "2030-01-03", "2030-01-04"]
    summary = body["summary"]
    assert summary["emails_sent"] == 15000 and summary["emails_delivered"] == 14700
    # delivery = delivered/sent, open = unique opens/delivered, click = clicks/delivered, CTOR = clicks/opens.
    assert (summary["delivery_rate"], summary["open_rate"], summary["click_rate"], summary["click_to_open_rate"]) == (98.0, 30.0, 5.0, 16.67)
    assert body["byStep"] == [{"step_id": str(step), "step_order": 1, "step_name": None, "step_type": "email", "emails_sent": 10,
                               "emails_delivered": 8, "opens": 4, "clicks": 0, "replies": 0, "unsubscribes": 0, "bounces": 0,
                               "open_rate": 50.0, "click_rate": 0.0, "reply_rate": 0.0}]
    weekly = ok(api.get(f"/api/campaigns/{campaign['id']}/analytics", params={"startDate": "2030-01-01", "endDate": "2030-01-31", "groupBy": "week"}))
    assert [(p["period_start"], p["emails_sent"]) for p in weekly["time_series"]] == [("2029-12-31", 25000)]


def test_analytics_defaults_to_the_last_30_days(api, conn, tenant):
    campaign = create(api)
    today = datetime.now(timezone.utc).date()
    _analytics_rows(conn, tenant, campaign["id"], [today, today - timedelta(days=29), today - timedelta(days=30)])
    body = ok(api.get(f"/api/campaigns/{campaign['id']}/analytics"))
    assert body["start_date"] == (today - timedelta(days=29)).isoformat() and body["end_date"] == today.isoformat()
    assert len(body["overall"]) == 2
    week = ok(api.get(f"/api/campaigns/{campaign['id']}/analytics", params={"timeRange": "7d"}))
    assert len(week["overall"]) == 1 and week["start_date"] == (today - timedelta(days=6)).isoformat()


def test_analytics_refusals(api):
    campaign = create(api)
    url = f"/api/campaigns/{campaign['id']}/analytics"
    assert_problem(api.get(url, params={"startDate": "2030-01-05", "endDate": "2030-01-04"}), 400, "INVALID_TIME_RANGE")
    assert_problem(api.get(url, params={"startDate": "yesterday"}), 400, "VALIDATION_FAILED")
    assert_problem(api.get(url, params={"groupBy": "year"}), 400, "VALIDATION_FAILED")


# -- enrollments --------------------------------------------------------------------------------------


def test_list_enrollments_and_exit_one(api, conn, tenant):
    campaign, contacts = launchable(conn, api, tenant, 3)
    ok(api.post(f"/api/campaigns/{campaign['id']}/launch"))
    page = ok(api.get(f"/api/campaigns/{campaign['id']}/contacts"))
    assert page["pagination"]["total"] == 3 and {e["status"] for e in page["items"]} == {"enrolled"}
    assert {e["contact_id"] for e in page["items"]} == {str(c) for c in contacts}
    exited = ok(api.post(f"/api/campaigns/{campaign['id']}/contacts/{contacts[0]}/exit", json={"reason": "goal_reached"}))
    assert exited["status"] == "exited" and exited["exit_reason"] == "goal_reached" and exited["exited_at"]
    assert exited["next_email_scheduled_at"] is None
    assert_problem(api.post(f"/api/campaigns/{campaign['id']}/contacts/{contacts[0]}/exit", json={}), 409, "INVALID_STATE_TRANSITION")
    default = ok(api.post(f"/api/campaigns/{campaign['id']}/contacts/{contacts[1]}/exit", json={}))
    assert default["exit_reason"] == "manual"
    assert_problem(api.post(f"/api/campaigns/{campaign['id']}/contacts/{contacts[2]}/exit", json={"reason": "Not A Token"}), 400)
    filtered = ok(api.get(f"/api/campaigns/{campaign['id']}/contacts", params={"status": "exited"}))
    assert filtered["pagination"]["total"] == 2
    stranger = make_contact(conn, tenant.tenant_id)
    assert_problem(api.post(f"/api/campaigns/{campaign['id']}/contacts/{stranger}/exit", json={}), 404, "NOT_FOUND")


def test_enrollments_of_unknown_campaign_is_404(api, conn, tenant):
    assert_problem(api.get("/api/campaigns/00000000-0000-4000-8000-000000000000/contacts"), 404, "NOT_FOUND")


def test_factory_campaign_is_visible(api, conn, tenant):
    campaign = make_campaign(conn, tenant.tenant_id, name="by SQL")
    assert ok(api.get(f"/api/campaigns/{campaign}"))["campaign"]["name"] == "by SQL"
