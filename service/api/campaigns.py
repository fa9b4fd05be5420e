"""Campaigns: CRUD, lifecycle actions, scheduling, analytics and enrollments.

Each handler validates its Struct, calls one SQL function or named query, and returns a Struct. The
editing rules live in campaigns.update_campaign / delete_campaign (db/functions/20_campaigns.sql).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from service.api.common import DbDep, Limit, Offset, encode, endpoint, one, page_query
from service.api.examples import (
    CAMPAIGN,
    ENROLLMENT,
    analytics_example,
    campaign_detail_example,
)
from service.schemas.campaigns import (
    CampaignActionResult,
    CampaignAnalytics,
    CampaignCreate,
    CampaignDetail,
    CampaignPage,
    CampaignRead,
    CampaignStatus,
    CampaignUpdate,
    EnrollmentPage,
    EnrollmentRead,
    EnrollmentStatus,
    ExitRequest,
    GroupBy,
    ScheduleRequest,
    SendRequest,
    TimeRange,
)

# -- named queries -------------------------------------------------------------------------------

CAMPAIGN_DOC = "to_jsonb(c) - 'tenant_id'"

Q_CREATE = f"SELECT {CAMPAIGN_DOC} FROM campaigns.create_campaign(%s::jsonb) c"
Q_UPDATE = f"SELECT {CAMPAIGN_DOC} FROM campaigns.update_campaign(%s, %s::jsonb) c"
Q_DELETE = "SELECT campaigns.delete_campaign(%s)"
Q_ACTION = "SELECT jsonb_build_object('affected', r.affected, 'campaign', to_jsonb(r.campaign) - 'tenant_id') FROM campaigns.run_campaign_action(%s, %s) r"
Q_SCHEDULE = f"SELECT {CAMPAIGN_DOC} FROM campaigns.schedule_campaign_from_request(%s, %s, %s, %s::time, %s) c"
Q_ANALYTICS = "SELECT campaigns.campaign_analytics_report(%s, %s, %s, %s, %s)"
Q_EXIT = """
    SELECT to_jsonb(e) - 'tenant_id' || jsonb_build_object('email', ct.email, 'first_name', ct.first_name, 'last_name', ct.last_name)
    FROM campaigns.exit_enrollment(%s, %s, %s) e
    JOIN campaigns.contacts ct ON ct.tenant_id = e.tenant_id AND ct.id = e.contact_id
"""
Q_DETAIL = """
    SELECT jsonb_build_object(
        'campaign', to_jsonb(c) - 'tenant_id',
        'steps', coalesce((SELECT jsonb_agg(to_jsonb(s) - 'tenant_id' ORDER BY s.step_order)
                           FROM campaigns.campaign_steps s WHERE s.tenant_id = c.tenant_id AND s.campaign_id = c.id), '[]'::jsonb),
        'analytics', (SELECT to_jsonb(a) - 'tenant_id' FROM campaigns.campaign_analytics a
                      WHERE a.tenant_id = c.tenant_id AND a.campaign_id = c.id ORDER BY a.date DESC LIMIT 1))
    FROM campaigns.campaigns c WHERE c.id = %s
"""
Q_LIST = page_query(
    source="campaigns.campaigns",
    where="(%(status)s::text IS NULL OR x.status = %(status)s::text) AND (%(workspace_id)s::uuid IS NULL OR x.workspace_id = %(workspace_id)s::uuid)",
    order="x.created_at DESC, x.id",
    doc="to_jsonb(x) - 'tenant_id'",
)
Q_ENROLLMENTS = page_query(
    source="""(SELECT cc.*, ct.email, ct.first_name, ct.last_name
               FROM campaigns.campaign_contacts cc
               JOIN campaigns.contacts ct ON ct.tenant_id = cc.tenant_id AND ct.id = cc.contact_id)""",
    where="x.campaign_id = %(campaign_id)s AND (%(status)s::text IS NULL OR x.status = %(status)s::text)",
    order="x.enrolled_at, x.id",
    doc="to_jsonb(x) - 'tenant_id'",
    guard="EXISTS (SELECT FROM campaigns.campaigns c WHERE c.id = %(campaign_id)s)",
)


def _action(method: str, path: str, op: str, action: str, summary: str, errors: tuple[int, ...], description: str,
            status: str, affected: int):
    """A lifecycle route: one call of campaigns.run_campaign_action."""

    @endpoint(method, path, operation_id=op, summary=summary, errors=errors, status_code=200,  # type: ignore[arg-type]
              description=description, response_example={"affected": affected, "campaign": CAMPAIGN | {"status": status}})
    async def handler(self, db: DbDep, campaign_id: FromPath[UUID]) -> CampaignActionResult:
        return await one(db, Q_ACTION, (campaign_id, action), CampaignActionResult, "campaign", campaign_id)

    return handler


def _no_null_exit_events(data: Any) -> Any:
    """exit_events null means none (the column is a list, never null)."""
    if data.exit_events is None:
        return msgspec.structs.replace(data, exit_events=[])
    return data


class CampaignController(Controller):
    path = "/campaigns"
    tags = ["campaigns"]

    @endpoint("POST", "/", operation_id="createCampaign", summary="Create a draft campaign", errors=(422,),
              description="Creates a campaign in status draft for the caller's tenant; created_by is the caller. "
                          "A segment or sender of another tenant is refused (REFERENCE_NOT_FOUND), so is an end_date "
                          "in the past (INVALID_TIME_RANGE) or an unknown timezone (INVALID_TIMEZONE).",
              request_example={"name": "Spring launch", "campaign_type": "drip", "segment_id": CAMPAIGN["segment_id"],
                               "timezone": "Europe/Paris", "daily_limit": 200, "sending_days": [1, 2, 3, 4, 5],
                               "sending_window_start": "09:00", "sending_window_end": "17:00"},
              response_example=CAMPAIGN)
    async def create_campaign(self, db: DbDep, data: JSONBody[CampaignCreate]) -> CampaignRead:
        return await one(db, Q_CREATE, (encode(_no_null_exit_events(data)),), CampaignRead, "campaign", "new")

    @endpoint("GET", "/", operation_id="listCampaigns", summary="List campaigns",
              description="The caller's campaigns, newest first, optionally filtered by status and workspace.",
              query_example={"status": "draft", "limit": 20, "offset": 0},
              response_example={"items": [CAMPAIGN], "pagination": {"total": 1, "limit": 20, "offset": 0, "has_more": False}})
    async def list_campaigns(
        self, db: DbDep, status: FromQuery[CampaignStatus | None] = None,
        workspace_id: FromQuery[UUID | None] = None,
        limit: Limit = 20, offset: Offset = 0,
    ) -> CampaignPage:
        params = {"status": status, "workspace_id": workspace_id, "limit": limit, "offset": offset}
        return await db.doc(Q_LIST, params, CampaignPage)  # type: ignore[return-value]

    @endpoint("GET", "/{campaign_id:uuid}", operation_id="getCampaign", summary="Get a campaign with its steps and latest analytics",
              response_example=campaign_detail_example())
    async def get_campaign(self, db: DbDep, campaign_id: FromPath[UUID]) -> CampaignDetail:
        return await one(db, Q_DETAIL, (campaign_id,), CampaignDetail, "campaign", campaign_id)

    @endpoint("PATCH", "/{campaign_id:uuid}", operation_id="updateCampaign", summary="Update a campaign",
              errors=(409, 422),
              description="Draft and scheduled campaigns: any field. Active and paused: name, description and settings "
                          "(end_date, timezone, tracking, unsubscribe, daily_limit, sending window, window_missed_action, "
                          "on_reply, from_name, reply_to_email, refresh_audience). Completed: nothing "
                          "(CAMPAIGN_NOT_EDITABLE).",
              request_example={"name": "Spring launch (EU)", "daily_limit": 150},
              response_example=CAMPAIGN | {"name": "Spring launch (EU)", "daily_limit": 150})
    async def update_campaign(self, db: DbDep, campaign_id: FromPath[UUID], data: JSONBody[CampaignUpdate]) -> CampaignRead:
        return await one(db, Q_UPDATE, (campaign_id, encode(_no_null_exit_events(data))), CampaignRead, "campaign", campaign_id)

    @endpoint("DELETE", "/{campaign_id:uuid}", operation_id="deleteCampaign", summary="Delete a draft campaign",
              errors=(409,), description="Only a draft can be deleted (CAMPAIGN_NOT_EDITABLE otherwise).")
    async def delete_campaign(self, db: DbDep, campaign_id: FromPath[UUID]) -> None:
        await db.execute(Q_DELETE, (campaign_id,))

    launch = _action("POST", "/{campaign_id:uuid}/launch", "launchCampaign", "launch", "Launch a draft or scheduled campaign",
                     (409, 422), "Enrolls the segment's eligible contacts at the first step (a dynamic segment is refreshed "
                     "first) and makes the campaign active; affected = contacts enrolled. Refusals: "
                     "INVALID_STATE_TRANSITION, CAMPAIGN_HAS_NO_STEPS, CAMPAIGN_STEPS_INVALID, CAMPAIGN_HAS_NO_AUDIENCE, "
                     "APPROVAL_REQUIRED, MONTHLY_QUOTA_EXCEEDED.", "active", 1250)
    pause = _action("POST", "/{campaign_id:uuid}/pause", "pauseCampaign", "pause", "Pause an active campaign", (409,),
                    "Pauses the campaign and its enrolled/active enrollments (due times are kept); affected = enrollments "
                    "paused. Any other status is INVALID_STATE_TRANSITION.", "paused", 1180)
    resume = _action("POST", "/{campaign_id:uuid}/resume", "resumeCampaign", "resume", "Resume a paused campaign", (409,),
                     "Releases the enrollments the pause paused (those paused individually stay paused); affected = "
                     "released. Any other status, or a passed end_date, is INVALID_STATE_TRANSITION.", "active", 1180)
    clone = _action("POST", "/{campaign_id:uuid}/clone", "cloneCampaign", "clone", "Clone a campaign as a new draft", (),
                    "A draft named \"<name> (Copy)\" with copies of the steps (targets remapped), counters zeroed, no "
                    "enrollments, analytics or approvals; created_by is the caller; affected = steps copied.", "draft", 3)
    unschedule = _action("DELETE", "/{campaign_id:uuid}/schedule", "unscheduleCampaign", "unschedule",
                         "Cancel a campaign's schedule", (409,),
                         "A scheduled campaign returns to draft (INVALID_STATE_TRANSITION otherwise).", "draft", 0)

    @endpoint("POST", "/{campaign_id:uuid}/schedule", operation_id="scheduleCampaign", summary="Schedule a campaign",
              errors=(409, 422), status_code=200,
              description="Schedules a draft (or moves a scheduled) campaign. `start_at` with an offset is an instant; "
                          "without one, or `local_date` + `local_time`, it is a wall-clock time in `timezone` (default the "
                          "campaign's). A time not in the future is INVALID_TIME_RANGE (400).",
              request_example={"local_date": "2030-03-10", "local_time": "09:00", "timezone": "America/New_York"},
              response_example=CAMPAIGN | {"status": "scheduled", "scheduled_at": "2030-03-10T13:00:00+00:00"})
    async def schedule_campaign(self, db: DbDep, campaign_id: FromPath[UUID], data: JSONBody[ScheduleRequest]) -> CampaignRead:
        # The rule (instant, local time, or local date + time; which combinations are refused) is the SQL function's.
        start_at = data.start_at.isoformat() if data.start_at is not None else None
        params = (campaign_id, start_at, data.local_date, data.local_time, data.timezone)
        return await one(db, Q_SCHEDULE, params, CampaignRead, "campaign", campaign_id)

    @endpoint("POST", "/{campaign_id:uuid}/send", operation_id="sendCampaignAction", summary="Start, pause or resume",
              errors=(409, 422), status_code=200,
              description="action start = launch, pause = pause, resume = resume (the seed API's alias).",
              request_example={"action": "start"}, response_example={"affected": 1250, "campaign": CAMPAIGN | {"status": "active"}})
    async def send_action(self, db: DbDep, campaign_id: FromPath[UUID], data: JSONBody[SendRequest]) -> CampaignActionResult:
        return await one(db, Q_ACTION, (campaign_id, data.action), CampaignActionResult, "campaign", campaign_id)

    @endpoint("GET", "/{campaign_id:uuid}/analytics", operation_id="getCampaignAnalytics", summary="Campaign analytics",
              description="overall: the daily campaign_analytics rows dated in [startDate, endDate] (inclusive; default the "
                          "last 30 days, or timeRange 7d/30d/90d); summary: their totals and rates; time_series: grouped by "
                          "groupBy; byStep: each step's counters. startDate after endDate is INVALID_TIME_RANGE.",
              query_example={"startDate": "2030-03-01", "endDate": "2030-03-31", "groupBy": "week"},
              response_example=analytics_example())
    async def get_analytics(
        self, db: DbDep, campaign_id: FromPath[UUID],
        start_date: Annotated[date | None, QueryParameter(name="startDate", description="First day (UTC), inclusive")] = None,
        end_date: Annotated[date | None, QueryParameter(name="endDate", description="Last day (UTC), inclusive")] = None,
        time_range: Annotated[TimeRange | None, QueryParameter(name="timeRange")] = None,
        group_by: Annotated[GroupBy, QueryParameter(name="groupBy")] = "day",
    ) -> CampaignAnalytics:
        days = {"7d": 7, "30d": 30, "90d": 90}.get(time_range or "")
        return await one(db, Q_ANALYTICS, (campaign_id, start_date, end_date, group_by, days), CampaignAnalytics, "campaign", campaign_id)

    @endpoint("GET", "/{campaign_id:uuid}/contacts", operation_id="listCampaignContacts", summary="List a campaign's enrollments",
              query_example={"status": "active", "limit": 20, "offset": 0},
              response_example={"items": [ENROLLMENT], "pagination": {"total": 1, "limit": 20, "offset": 0, "has_more": False}})
    async def list_enrollments(
        self, db: DbDep, campaign_id: FromPath[UUID], status: FromQuery[EnrollmentStatus | None] = None, limit: Limit = 20, offset: Offset = 0,
    ) -> EnrollmentPage:
        params = {"campaign_id": campaign_id, "status": status, "limit": limit, "offset": offset}
        return await one(db, Q_ENROLLMENTS, params, EnrollmentPage, "campaign", campaign_id)

    @endpoint("POST", "/{campaign_id:uuid}/contacts/{contact_id:uuid}/exit", operation_id="exitCampaignContact",
              summary="Exit one contact from a campaign", errors=(409,), status_code=200,
              description="The enrollment exits with the given reason (default manual) and its queued mail is cancelled. "
                          "An enrollment already completed or exited is INVALID_STATE_TRANSITION.",
              request_example={"reason": "goal_reached"},
              response_example=ENROLLMENT | {"status": "exited", "exit_reason": "goal_reached", "exited_at": "2030-03-02T10:00:00+00:00",
                                             "next_email_scheduled_at": None})
    async def exit_contact(self, db: DbDep, campaign_id: FromPath[UUID], contact_id: FromPath[UUID], data: JSONBody[ExitRequest]) -> EnrollmentRead:
        return await one(db, Q_EXIT, (campaign_id, contact_id, data.reason), EnrollmentRead, "enrollment", contact_id)

