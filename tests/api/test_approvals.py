"""Approvals over HTTP: request a round, approve or reject by the assigned approver only, a rejection
returns the campaign to draft, launch waits for the approvals, pending ones expire after 48 hours."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.support.api import assert_problem, digest, new_user_key, ok
from tests.support.factories import make_contact, make_segment, make_step


@pytest.fixture
def people(conn, tenant, api_app):
    """A manager and a compliance officer of the tenant, each with a client of their own."""
    manager_id, manager_key = new_user_key(conn, tenant, "manager@example.com")
    officer_id, officer_key = new_user_key(conn, tenant, "officer@example.com")
    with api_app.client(manager_key) as manager, api_app.client(officer_key) as officer:
        yield {"manager_id": str(manager_id), "manager": manager, "officer_id": str(officer_id), "officer": officer}


@pytest.fixture
def campaign(api, conn, tenant):
    segment = make_segment(conn, tenant.tenant_id, [make_contact(conn, tenant.tenant_id) for _ in range(2)])
    body = ok(api.post("/api/campaigns", json={"name": "Needs sign-off", "segment_id": str(segment), "requires_approval": True,
                                               "is_promotional": True}), 201)
    make_step(conn, tenant.tenant_id, body["id"])
    return body


def request(api, campaign, people, roles=("campaign_manager", "compliance_officer")):
    approvers = [{"user_id": people["manager_id"], "role": "campaign_manager"},
                 {"user_id": people["officer_id"], "role": "compliance_officer"}]
    return ok(api.post(f"/api/campaigns/{campaign['id']}/approvals",
                       json={"approvers": [a for a in approvers if a["role"] in roles]}), 201)


def test_approve_then_launch(api, campaign, people, tenant):
    rows = request(api, campaign, people)
    assert {(r["approval_role"], r["status"], r["round"]) for r in rows} == {("campaign_manager", "pending", 1), ("compliance_officer", "pending", 1)}
    assert all(r["requested_by"] == str(tenant.user_id) and r["reviewed_at"] is None for r in rows)
    by_role = {r["approval_role"]: r for r in rows}
    launch = f"/api/campaigns/{campaign['id']}/launch"
    assert_problem(api.post(launch), 409, "APPROVAL_REQUIRED")
    # Only the assigned approver may act: the admin, or the other approver, may not.
    assert_problem(api.post(f"/api/approvals/{by_role['campaign_manager']['id']}/approve", json={}), 403, "NOT_APPROVER")
    assert_problem(people["officer"].post(f"/api/approvals/{by_role['campaign_manager']['id']}/approve", json={}), 403, "NOT_APPROVER")
    approved = ok(people["manager"].post(f"/api/approvals/{by_role['campaign_manager']['id']}/approve", json={"comments": "Fine"}))
    assert approved["status"] == "approved" and approved["comments"] == "Fine" and approved["reviewed_at"]
    assert_problem(people["manager"].post(f"/api/approvals/{by_role['campaign_manager']['id']}/approve", json={}), 409, "INVALID_STATE_TRANSITION")
    assert_problem(api.post(launch), 409, "APPROVAL_REQUIRED")  # promotional: compliance is required too
    mine = ok(people["officer"].get("/api/approvals", params={"mine": True, "status": "pending"}))
    assert [a["id"] for a in mine["items"]] == [by_role["compliance_officer"]["id"]]
    ok(people["officer"].post(f"/api/approvals/{by_role['compliance_officer']['id']}/approve", json={}))
    assert ok(api.post(launch))["campaign"]["status"] == "active"
    listed = ok(api.get(f"/api/campaigns/{campaign['id']}/approvals"))
    assert {a["status"] for a in listed} == {"approved"}


def test_rejection_returns_the_campaign_to_draft_and_closes_the_round(api, conn, campaign, people):
    url = f"/api/campaigns/{campaign['id']}"
    rows = {r["approval_role"]: r for r in request(api, campaign, people)}
    ok(api.post(f"{url}/schedule", json={"start_at": (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()}))
    rejected = ok(people["manager"].post(f"/api/approvals/{rows['campaign_manager']['id']}/reject",
                                         json={"comments": "The unsubscribe footer is missing."}))
    assert rejected["status"] == "rejected" and rejected["comments"] == "The unsubscribe footer is missing."
    detail = ok(api.get(url))["campaign"]
    assert detail["status"] == "draft" and detail["scheduled_at"] is None
    other = next(a for a in ok(api.get(f"{url}/approvals")) if a["approval_role"] == "compliance_officer")
    assert other["status"] == "rejected" and other["reviewed_at"]
    assert_problem(people["officer"].post(f"/api/approvals/{other['id']}/approve", json={}), 409, "INVALID_STATE_TRANSITION")
    # A new round may be requested; only the latest round counts for launch.
    second = request(api, campaign, people)
    assert {r["round"] for r in second} == {2}
    assert_problem(api.post(f"{url}/approvals", json={"approvers": [{"user_id": people["manager_id"], "role": "campaign_manager"}]}),
                   409, "INVALID_STATE_TRANSITION")
    for row in second:
        reviewer = people["manager"] if row["approval_role"] == "campaign_manager" else people["officer"]
        ok(reviewer.post(f"/api/approvals/{row['id']}/approve", json={}))
    assert ok(api.post(f"{url}/launch"))["affected"] == 2


def test_request_refusals(api, conn, campaign, people, other_tenant):
    url = f"/api/campaigns/{campaign['id']}/approvals"
    stranger, _ = new_user_key(conn, other_tenant, "stranger@example.com")
    before = digest(conn)
    assert_problem(api.post(url, json={"approvers": []}), 400, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={"approvers": [{"user_id": people["manager_id"], "role": "ceo"}]}), 400, "VALIDATION_FAILED")
    assert_problem(api.post(url, json={"approvers": [{"user_id": str(stranger), "role": "campaign_manager"}]}), 422, "REFERENCE_NOT_FOUND")
    same = {"user_id": people["manager_id"], "role": "campaign_manager"}
    assert_problem(api.post(url, json={"approvers": [same, same]}), 422, "VALIDATION_FAILED")
    conn.execute("UPDATE campaigns.campaigns SET status = 'active' WHERE id = %s", (campaign["id"],))
    before = digest(conn)
    assert_problem(api.post(url, json={"approvers": [same]}), 409, "INVALID_STATE_TRANSITION")
    assert digest(conn) == before


@pytest.mark.own_database  # expire_approvals counts every tenant's expired approvals
def test_pending_approvals_expire_after_48_hours(api, conn, campaign, people):
    rows = request(api, campaign, people, roles=("campaign_manager",))
    ok(api.post(f"/api/campaigns/{campaign['id']}/schedule", json={"start_at": (datetime.now(timezone.utc) + timedelta(days=7)).isoformat()}))
    now = datetime.now(timezone.utc)
    assert conn.execute("SELECT campaigns.expire_approvals(%s)", (now + timedelta(hours=47),)).fetchone()[0] == 0
    assert conn.execute("SELECT campaigns.expire_approvals(%s)", (now + timedelta(hours=48, minutes=1),)).fetchone()[0] == 1
    expired = ok(api.get(f"/api/campaigns/{campaign['id']}/approvals"))[0]
    assert expired["id"] == rows[0]["id"] and expired["status"] == "rejected" and "48 hours" in expired["comments"]
    assert_problem(people["manager"].post(f"/api/approvals/{rows[0]['id']}/approve", json={}), 409, "INVALID_STATE_TRANSITION")
    # The expired request sent the scheduled campaign back to draft.
    assert ok(api.get(f"/api/campaigns/{campaign['id']}"))["campaign"]["status"] == "draft"
    assert conn.execute("SELECT campaigns.expire_approvals(%s)", (now + timedelta(days=5),)).fetchone()[0] == 0
