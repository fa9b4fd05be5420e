"""Response Structs of the activity API (service/api/activity.py): a contact's timeline and a
campaign's alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from service.schemas.common import Pagination

TimelineKind = Literal["enrollment", "message", "email_event", "contact_event"]
AlertKind = Literal["bounce_rate", "complaint_rate"]
AlertAction = Literal["paused", "none"]


class TimelineItem(msgspec.Struct, kw_only=True):
    """One item of a contact's history. Which fields are set depends on `kind`: an enrollment has
    status, exit_reason and ended_at; a message has status, subject, sent_at, smtp_reply and
    last_error; an email event has event_type; a contact event (an application's, POST /api/events)
    has its name in event_type and no campaign."""

    occurred_at: Annotated[datetime, msgspec.Meta(description="Enrolled, queued or event time")]
    kind: TimelineKind
    campaign_id: UUID | None
    campaign_name: str | None
    enrollment_id: UUID | None
    step_id: UUID | None
    message_id: UUID | None
    status: str | None
    exit_reason: str | None
    ended_at: datetime | None
    subject: str | None
    sent_at: datetime | None
    smtp_reply: Annotated[str | None, msgspec.Meta(description="The relay's last reply to the message")]
    last_error: str | None
    event_type: str | None


class TimelinePage(msgspec.Struct):
    items: list[TimelineItem]
    pagination: Pagination


class AlertRead(msgspec.Struct, kw_only=True):
    id: UUID
    campaign_id: UUID
    kind: AlertKind
    value: Annotated[float, msgspec.Meta(description="The measured rate, in percent")]
    threshold: Annotated[float, msgspec.Meta(description="The tenant's limit it crossed, in percent")]
    action_taken: Annotated[AlertAction, msgspec.Meta(description="paused: the campaign was auto-paused")]
    raised_at: datetime


class AlertPage(msgspec.Struct):
    items: list[AlertRead]
    pagination: Pagination
