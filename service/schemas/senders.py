"""Request and response Structs of the senders API (service/api/senders.py)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec

from service.schemas.common import Timestamp, UNSET, Email, Pagination, PositiveInt, ShortText, Unset


# How long transient failures (4xx, timeouts) of this account's mail are retried before the message is
# a dead letter; null: the tenant's setting, else the worker's default (2 days).
RetryLifetimeSeconds = Annotated[int, msgspec.Meta(ge=60, le=2_592_000, description=(
    "Seconds transient failures are retried (1 minute to 30 days); null: the tenant's, else 2 days"))]


class SenderCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Limits are opt-in: null = none. The cold-email preset is daily_limit 50, min_gap_seconds 120."""

    from_email: Email
    from_name: ShortText | None = None
    reply_to_email: Email | None = None
    daily_limit: PositiveInt | None = None
    min_gap_seconds: PositiveInt | None = None
    is_active: bool = True
    workspace_id: UUID | None = None
    retry_lifetime_seconds: RetryLifetimeSeconds | None = None


class SenderUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    from_email: Email | Unset = UNSET
    from_name: ShortText | None | Unset = UNSET
    reply_to_email: Email | None | Unset = UNSET
    daily_limit: PositiveInt | None | Unset = UNSET
    min_gap_seconds: PositiveInt | None | Unset = UNSET
    is_active: bool | Unset = UNSET
    retry_lifetime_seconds: RetryLifetimeSeconds | None | Unset = UNSET


class SenderRead(msgspec.Struct, kw_only=True):
    id: UUID
    workspace_id: UUID | None
    from_email: str
    from_name: str | None
    reply_to_email: str | None
    daily_limit: int | None
    min_gap_seconds: int | None
    is_active: bool
    retry_lifetime_seconds: int | None = None
    created_at: Timestamp
    updated_at: Timestamp


class SenderPage(msgspec.Struct):
    items: list[SenderRead]
    pagination: Pagination
