"""Campaigns: CRUD, lifecycle actions, scheduling, analytics and enrollments.

Each handler validates its Struct, calls one SQL function or named query, and returns a Struct. The
editing rules live in campaigns.update_campaign / delete_campaign (db/functions/78_campaign_api.sql).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from service.api.common import (
    UNSET,
    DbDep,
    Email,
    Limit,
    LongText,
    Name,
    Offset,
    Pagination,
    PositiveInt,
    ShortText,
    TimeOfDay,
    Timezone,
    Unset,
    encode,
    endpoint,
    one,
    page_query,
)
from service.api.examples import (
    CAMPAIGN,
    ENROLLMENT,
    analytics_example,
    campaign_detail_example,
)
from service.errors import ApiError

CampaignType = Literal["broadcast", "drip", "triggered", "ab_test"]
CampaignStatus = Literal["draft", "scheduled", "active", "paused", "completed"]
SendStrategy = Literal["immediate", "scheduled", "optimized"]
WindowMissedAction = Literal["wait", "send_anyway"]
OnReply = Literal["exit", "pause", "continue"]
Weekday = Annotated[int, msgspec.Meta(ge=1, le=7)]
SendingDays = Annotated[list[Weekday], msgspec.Meta(min_length=1, max_length=7, description="ISO weekdays, 1 = Monday … 7 = Sunday")]
Instant = Annotated[datetime, msgspec.Meta(tz=True, description="An instant with its UTC offset (RFC 3339)")]
EnrollmentStatus = Literal["enrolled", "active", "paused", "completed", "exited"]
ExitReason = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="A machine-readable reason (lower_snake_case)")]


class CampaignCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new campaign; every field but the name has a default (see docs/api.md)."""

    name: Name
    description: LongText | None | Unset = UNSET
    campaign_type: CampaignType | Unset = UNSET
    workspace_id: UUID | None | Unset = UNSET
    segment_id: UUID | None | Unset = UNSET
    sender_account_id: UUID | None | Unset = UNSET
    from_email: Email | None | Unset = UNSET
    from_name: ShortText | None | Unset = UNSET
    reply_to_email: Email | None | Unset = UNSET
    start_date: Instant | None | Unset = UNSET
    end_date: Instant | None | Unset = UNSET
    timezone: Timezone | Unset = UNSET
    send_strategy: SendStrategy | Unset = UNSET
    track_opens: bool | Unset = UNSET
    track_clicks: bool | Unset = UNSET
    unsubscribe_enabled: bool | Unset = UNSET
    daily_limit: PositiveInt | None | Unset = UNSET
    sending_days: SendingDays | None | Unset = UNSET
    sending_window_start: TimeOfDay | None | Unset = UNSET
    sending_window_end: TimeOfDay | None | Unset = UNSET
    window_missed_action: WindowMissedAction | Unset = UNSET
    on_reply: OnReply | Unset = UNSET
    requires_approval: bool | Unset = UNSET
    is_promotional: bool | Unset = UNSET
    refresh_audience: bool | Unset = UNSET


class CampaignUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The fields to change; what may change depends on the status (docs/api.md)."""

    name: Name | Unset = UNSET
    description: LongText | None | Unset = UNSET
    campaign_type: CampaignType | Unset = UNSET
    workspace_id: UUID | None | Unset = UNSET
    segment_id: UUID | None | Unset = UNSET
    sender_account_id: UUID | None | Unset = UNSET
    from_email: Email | None | Unset = UNSET
    from_name: ShortText | None | Unset = UNSET
    reply_to_email: Email | None | Unset = UNSET
    start_date: Instant | None | Unset = UNSET
    end_date: Instant | None | Unset = UNSET
    timezone: Timezone | Unset = UNSET
    send_strategy: SendStrategy | Unset = UNSET
    track_opens: bool | Unset = UNSET
    track_clicks: bool | Unset = UNSET
    unsubscribe_enabled: bool | Unset = UNSET
    daily_limit: PositiveInt | None | Unset = UNSET
    sending_days: SendingDays | None | Unset = UNSET
    sending_window_start: TimeOfDay | None | Unset = UNSET
    sending_window_end: TimeOfDay | None | Unset = UNSET
    window_missed_action: WindowMissedAction | Unset = UNSET
    on_reply: OnReply | Unset = UNSET
    requires_approval: bool | Unset = UNSET
    is_promotional: bool | Unset = UNSET
    refresh_audience: bool | Unset = UNSET


class CampaignRead(msgspec.Struct, kw_only=True):
    id: UUID
    workspace_id: UUID | None
    name: str
    description: str | None
    campaign_type: CampaignType
    status: CampaignStatus
    segment_id: UUID | None
    sender_account_id: UUID | None
    total_contacts: int
    from_email: str | None
    from_name: str | None
    reply_to_email: str | None
    start_date: datetime | None
    end_date: datetime | None
    timezone: str
    send_strategy: SendStrategy
    track_opens: bool
    track_clicks: bool
    unsubscribe_enabled: bool
    daily_limit: int | None
    sending_days: list[int] | None
    sending_window_start: str | None
    sending_window_end: str | None
    window_missed_action: WindowMissedAction
    on_reply: OnReply
    requires_approval: bool
    is_promotional: bool
    refresh_audience: bool = False
    scheduled_at: datetime | None
    schedule_error: str | None
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime
    launched_at: datetime | None
    completed_at: datetime | None


class CampaignPage(msgspec.Struct):
    items: list[CampaignRead]
    pagination: Pagination


class StepRead(msgspec.Struct, kw_only=True):
    id: UUID
    campaign_id: UUID
    step_order: int
    step_name: str | None
    step_type: Literal["email", "wait", "condition", "action"]
    template_id: UUID | None
    subject_line: str | None
    email_content: str | None
    wait_duration_value: int | None
    wait_duration_unit: Literal["minutes", "hours", "days", "weeks"] | None
    condition_rules: dict[str, object] | None
    email_step_id: UUID | None
    true_next_step_id: UUID | None
    false_next_step_id: UUID | None
    action_type: str | None
    action_config: dict[str, object]
    next_step_id: UUID | None
    emails_sent: int
    emails_delivered: int
    opens: int
    clicks: int
    replies: int
    unsubscribes: int
    bounces: int
    created_at: datetime
    updated_at: datetime


class AnalyticsRow(msgspec.Struct, kw_only=True):
    """One campaign_analytics row: a campaign's counts and rates for one UTC day."""

    id: UUID
    campaign_id: UUID
    date: date
    emails_sent: int
    emails_delivered: int
    emails_bounced: int
    unique_opens: int
    total_opens: int
    unique_clicks: int
    total_clicks: int
    replies: int
    spam_complaints: int
    unsubscribes: int
    delivery_rate: float
    open_rate: float
    click_rate: float
    click_to_open_rate: float
    reply_rate: float
    unsubscribe_rate: float
    bounce_rate: float
    complaint_rate: float
    calculated_at: datetime


class CampaignDetail(msgspec.Struct):
    campaign: CampaignRead
    steps: list[StepRead]
    analytics: AnalyticsRow | None


class CampaignActionResult(msgspec.Struct):
    """The campaign after a lifecycle action, and how many rows it affected (enrolled, paused,
    released, or steps copied by a clone)."""

    affected: int
    campaign: CampaignRead


class ScheduleRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """When to launch: `start_at` with a UTC offset is an instant; without one (or `local_date` +
    `local_time`) it is a wall-clock time in `timezone`, default the campaign's."""

    start_at: datetime | None = None
    local_date: date | None = None
    local_time: TimeOfDay | None = None
    timezone: Timezone | None = None


class SendRequest(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["start", "pause", "resume"]


class AnalyticsTotals(msgspec.Struct, kw_only=True):
    emails_sent: int
    emails_delivered: int
    emails_bounced: int
    unique_opens: int
    total_opens: int
    unique_clicks: int
    total_clicks: int
    replies: int
    spam_complaints: int
    unsubscribes: int
    delivery_rate: float
    open_rate: float
    click_rate: float
    click_to_open_rate: float
    reply_rate: float
    unsubscribe_rate: float
    bounce_rate: float
    complaint_rate: float


class AnalyticsPeriod(msgspec.Struct, kw_only=True):
    period_start: date
    emails_sent: int
    emails_delivered: int
    emails_bounced: int
    unique_opens: int
    unique_clicks: int
    replies: int
    unsubscribes: int


class StepCounters(msgspec.Struct, kw_only=True):
    step_id: UUID
    step_order: int
    step_name: str | None
    step_type: str
    emails_sent: int
    emails_delivered: int
    opens: int
    clicks: int
    replies: int
    unsubscribes: int
    bounces: int
    open_rate: float
    click_rate: float
    reply_rate: float


class CampaignAnalytics(msgspec.Struct, kw_only=True):
    campaign_id: UUID
    start_date: date
    end_date: date
    group_by: Literal["day", "week", "month"]
    summary: AnalyticsTotals
    overall: list[AnalyticsRow]
    time_series: list[AnalyticsPeriod]
    byStep: list[StepCounters]  # noqa: N815 - the documented name


class EnrollmentRead(msgspec.Struct, kw_only=True):
    id: UUID
    campaign_id: UUID
    contact_id: UUID
    email: str
    first_name: str | None
    last_name: str | None
    status: EnrollmentStatus
    pause_reason: str | None
    current_step_id: UUID | None
    enrolled_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    exited_at: datetime | None
    exit_reason: str | None
    steps_completed: int
    last_email_sent_at: datetime | None
    next_email_scheduled_at: datetime | None
    updated_at: datetime


class EnrollmentPage(msgspec.Struct):
    items: list[EnrollmentRead]
    pagination: Pagination


class ExitRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: ExitReason = "manual"


# -- named queries -------------------------------------------------------------------------------

CAMPAIGN_DOC = "to_jsonb(c) - 'tenant_id'"

Q_CREATE = f"SELECT {CAMPAIGN_DOC} FROM campaigns.create_campaign(%s::jsonb) c"
Q_UPDATE = f"SELECT {CAMPAIGN_DOC} FROM campaigns.update_campaign(%s, %s::jsonb) c"
Q_DELETE = "SELECT campaigns.delete_campaign(%s)"
Q_ACTION = "SELECT jsonb_build_object('affected', r.affected, 'campaign', to_jsonb(r.campaign) - 'tenant_id') FROM campaigns.run_campaign_action(%s, %s) r"
Q_SCHEDULE = f"SELECT {CAMPAIGN_DOC} FROM campaigns.schedule_campaign_at(%s, %s, %s, %s) c"
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
        return await one(db, Q_CREATE, (encode(data),), CampaignRead, "campaign", "new")

    @endpoint("GET", "/", operation_id="listCampaigns", summary="List campaigns",
              description="The caller's campaigns, newest first, optionally filtered by status and workspace.",
              query_example={"status": "draft", "limit": 20, "offset": 0},
              response_example={"items": [CAMPAIGN], "pagination": {"total": 1, "limit": 20, "offset": 0, "has_more": False}})
    async def list_campaigns(
        self, db: DbDep, status: FromQuery[CampaignStatus | None] = None, workspace_id: FromQuery[UUID | None] = None,
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
        return await one(db, Q_UPDATE, (campaign_id, encode(data)), CampaignRead, "campaign", campaign_id)

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
        start_at = local = None
        if data.start_at is not None:
            if data.start_at.tzinfo is None:
                local = data.start_at
            else:
                start_at = data.start_at
        if data.local_date is not None or data.local_time is not None:
            if data.local_date is None or data.local_time is None or data.start_at is not None:
                raise ApiError(422, "VALIDATION_FAILED", "give start_at, or local_date and local_time together")
            local = f"{data.local_date.isoformat()} {data.local_time}"
        return await one(db, Q_SCHEDULE, (campaign_id, start_at, local, data.timezone), CampaignRead, "campaign", campaign_id)

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
        time_range: Annotated[Literal["7d", "30d", "90d", "custom"] | None, QueryParameter(name="timeRange")] = None,
        group_by: Annotated[Literal["day", "week", "month"], QueryParameter(name="groupBy")] = "day",
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

