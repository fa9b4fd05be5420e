"""Request and response Structs of the suppressions API (service/api/suppressions.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from service.schemas.common import Timestamp, Email, Pagination, ShortText

SuppressionScope = Literal["tenant", "global"]
SuppressionReason = Literal["unsubscribe", "hard_bounce", "soft_bounce", "complaint", "manual", "import"]


class SuppressionCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: Email
    reason: SuppressionReason = "manual"
    source: ShortText | None = "api"
    expires_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class SuppressionRead(msgspec.Struct, kw_only=True):
    id: UUID
    email: str
    reason: SuppressionReason
    source: str | None
    added_by: UUID | None
    added_at: Timestamp
    expires_at: Timestamp | None


class SuppressionPage(msgspec.Struct):
    items: list[SuppressionRead]
    pagination: Pagination


class SuppressionCheck(msgspec.Struct, kw_only=True):
    email: str
    suppressed: bool
    scope: SuppressionScope | None
    reason: SuppressionReason | None
    added_at: Timestamp | None
    expires_at: Timestamp | None
