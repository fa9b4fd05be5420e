"""Request and response Structs of the dead letters API (service/api/dead_letters.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from service.schemas.common import Pagination

# Why a message was given up (email_messages.failure_kind): the relay refused the recipient
# (bounced) or the message (rejected); transient failures outlived the retry lifetime; the worker
# died on it again and again (worker_crashed); its template broke a render limit (render_limit);
# attempts_exhausted only on messages that failed under the old count-based rule.
FailureKind = Literal["bounced", "rejected", "retry_lifetime_expired", "worker_crashed", "render_limit", "attempts_exhausted"]

# What a requeue did with each message: requeued (queued again with a fresh retry lifetime);
# suppressed (the recipient is suppressed or no longer mailable: left failed); campaign_ended (the
# campaign is no longer active or paused: left failed); enrollment_exited (the contact left the
# sequence: left failed).
RequeueOutcome = Literal["requeued", "suppressed", "campaign_ended", "enrollment_exited"]

Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]


class DeadLetterRead(msgspec.Struct, kw_only=True):
    message_id: UUID
    campaign_id: UUID
    campaign_name: str
    step_id: UUID
    step_name: str | None
    step_order: int
    enrollment_id: UUID | None
    contact_id: UUID
    to_email: str
    failure_kind: FailureKind
    attempts: Annotated[int, msgspec.Meta(description="SMTP tries made")]
    lease_reclaims: Annotated[int, msgspec.Meta(description="Times a worker's lease on it ran out (the worker died)")]
    last_error: str | None
    last_smtp_reply: Annotated[str | None, msgspec.Meta(description="The relay's last reply, code and text")]
    queued_at: datetime
    failed_at: datetime | None


class DeadLetterPage(msgspec.Struct):
    items: list[DeadLetterRead]
    pagination: Pagination


class RequeueFilter(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Which dead letters to requeue: every one matching all the given fields (at least one)."""

    message_ids: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=10_000)] | None = None
    campaign_id: UUID | None = None
    failure_kind: FailureKind | None = None
    failed_after: Timestamp | None = None
    failed_before: Timestamp | None = None


class RequeueResult(msgspec.Struct, kw_only=True):
    message_id: UUID
    outcome: RequeueOutcome


class RequeueSummary(msgspec.Struct, kw_only=True):
    matched: Annotated[int, msgspec.Meta(description="Dead letters that matched the filter")]
    requeued: int
    suppressed: int
    campaign_ended: int
    enrollment_exited: int
    not_found: Annotated[int, msgspec.Meta(description="Listed message ids that are not dead letters of this tenant")]
