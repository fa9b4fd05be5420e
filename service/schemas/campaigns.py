"""Request and response Structs of the campaigns API (service/api/campaigns.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from service.schemas.common import (
    LocalOrInstant,
    Timestamp,
    UNSET,
    Email,
    LongText,
    Name,
    Pagination,
    PositiveInt,
    ShortText,
    TimeOfDay,
    Timezone,
    Unset,
)
from service.schemas.segments import Rules
from service.schemas.steps import StepCounts, StepRead, StepType

# A label for lists and reports: every type launches at its segment and runs its steps the same way.
CampaignType = Annotated[
    Literal["broadcast", "drip", "triggered", "ab_test"],
    msgspec.Meta(description="A label for lists and reports; it does not change how the campaign runs "
                             "(every type is launched at its segment)"),
]
CampaignStatus = Literal["draft", "scheduled", "active", "paused", "completed"]
SendStrategy = Literal["immediate", "scheduled", "optimized"]
WindowMissedAction = Literal["wait", "send_anyway"]
OnReply = Literal["exit", "pause", "continue"]
# once: a contact enters the campaign at most once; after_exit: again after its enrollment ended.
Reentry = Literal["once", "after_exit"]
EventName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:\-]{1,100}$", examples=["signed_up"])]
# (Names without the pattern: Schemathesis cannot generate negative arrays of patterned strings; a
# name no event can have simply never matches.)
ExitEvents = Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=100)]], msgspec.Meta(max_length=20)]
Weekday = Annotated[int, msgspec.Meta(ge=1, le=7)]
SendingDays = Annotated[list[Weekday], msgspec.Meta(min_length=1, max_length=7, description="ISO weekdays, 1 = Monday … 7 = Sunday")]
Instant = Annotated[datetime, msgspec.Meta(tz=True, description="An instant with its UTC offset (RFC 3339)")]
SendAction = Literal["start", "pause", "resume"]
GroupBy = Literal["day", "week", "month"]
TimeRange = Literal["7d", "30d", "90d", "custom"]
EnrollmentStatus = Literal["enrolled", "active", "paused", "completed", "exited"]
ExitReason = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="A machine-readable reason (lower_snake_case)")]


class CampaignFields(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The fields a client sets on a campaign; an absent field is UNSET (not given)."""

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
    reentry: Reentry | Unset = UNSET
    # An event that enrolls its contact (POST /api/events), the segment rules it must match
    # (event.<name> reads its properties), and the events that end an enrollment (exit_reason goal).
    trigger_event: EventName | None | Unset = UNSET
    trigger_filter: Rules | None | Unset = UNSET
    exit_events: ExitEvents | None | Unset = UNSET


class CampaignCreate(CampaignFields, kw_only=True):
    """A new campaign; every field but the name has a default (see docs/api.md)."""

    name: Name


class CampaignUpdate(CampaignFields, kw_only=True):
    """The fields to change; what may change depends on the status (docs/api.md)."""


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
    start_date: Timestamp | None
    end_date: Timestamp | None
    timezone: str
    send_strategy: SendStrategy
    track_opens: bool
    track_clicks: bool
    unsubscribe_enabled: bool
    daily_limit: int | None
    sending_days: list[int] | None
    sending_window_start: TimeOfDay | None
    sending_window_end: TimeOfDay | None
    window_missed_action: WindowMissedAction
    on_reply: OnReply
    requires_approval: bool
    is_promotional: bool
    refresh_audience: bool = False
    reentry: Reentry = "once"
    trigger_event: str | None = None
    trigger_filter: Rules | None = None
    exit_events: list[str] = []
    scheduled_at: Timestamp | None
    schedule_error: str | None
    created_by: UUID | None
    created_at: Timestamp
    updated_at: Timestamp
    launched_at: Timestamp | None
    completed_at: Timestamp | None


class CampaignPage(msgspec.Struct):
    items: list[CampaignRead]
    pagination: Pagination


class AnalyticsTotals(msgspec.Struct, kw_only=True):
    """Counts and rates (percentages) of a campaign over some days."""

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


class AnalyticsRow(AnalyticsTotals, kw_only=True):
    """One campaign_analytics row: a campaign's counts and rates for one UTC day."""

    id: UUID
    campaign_id: UUID
    date: date
    calculated_at: Timestamp


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

    start_at: LocalOrInstant | None = None
    local_date: date | None = None
    local_time: TimeOfDay | None = None
    timezone: Timezone | None = None


class SendRequest(msgspec.Struct, forbid_unknown_fields=True):
    action: SendAction


class AnalyticsPeriod(msgspec.Struct, kw_only=True):
    period_start: date
    emails_sent: int
    emails_delivered: int
    emails_bounced: int
    unique_opens: int
    unique_clicks: int
    replies: int
    unsubscribes: int


class StepCounters(StepCounts, kw_only=True):
    step_id: UUID
    step_order: int
    step_name: str | None
    step_type: StepType
    open_rate: float
    click_rate: float
    reply_rate: float


class CampaignAnalytics(msgspec.Struct, kw_only=True):
    campaign_id: UUID
    start_date: date
    end_date: date
    group_by: GroupBy
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
    enrolled_at: Timestamp
    started_at: Timestamp | None
    completed_at: Timestamp | None
    exited_at: Timestamp | None
    exit_reason: str | None
    steps_completed: int
    last_email_sent_at: Timestamp | None
    next_email_scheduled_at: Timestamp | None
    updated_at: Timestamp


class EnrollmentPage(msgspec.Struct):
    items: list[EnrollmentRead]
    pagination: Pagination


class ExitRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: ExitReason = "manual"
