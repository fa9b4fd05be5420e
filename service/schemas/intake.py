"""Request and response Structs of the intake API (service/api/intake.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec


# recorded | duplicate (a provider_event_id seen before) | not_found | invalid
EventOutcome = Literal["recorded", "duplicate", "not_found", "invalid"]
# references (In-Reply-To / References) or subject (subject + sender fallback)
MatchedBy = Literal["references", "subject"]


class ProviderEvent(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One event reported by a provider. Name the message by our id or by its SMTP Message-ID."""

    type: str
    message_id: UUID | None = None
    smtp_message_id: str | None = None
    occurred_at: Annotated[datetime, msgspec.Meta(extra_json_schema={"format": "date-time"}, description="RFC 3339 date-time; without an offset, UTC")] | None = None
    provider_event_id: str | None = None
    details: dict[str, Any] | None = None


class EventBatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    events: list[ProviderEvent]


class EventResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    index: int
    status: EventOutcome
    message_id: UUID | None = None
    code: str | None = None
    detail: str | None = None


class EventBatchResult(msgspec.Struct, kw_only=True):
    results: list[EventResult]
    recorded: int
    duplicates: int
    not_found: int
    invalid: int


class ReplyResult(msgspec.Struct, kw_only=True):
    matched: bool
    message_id: UUID | None = None
    matched_by: MatchedBy | None = None
    recorded: bool = False
