"""Request and response Structs of the senders API (service/api/senders.py)."""

from __future__ import annotations

from uuid import UUID

import msgspec

from service.schemas.common import Timestamp, UNSET, Email, Pagination, PositiveInt, ShortText, Unset


class SenderCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Limits are opt-in: null = none. The cold-email preset is daily_limit 50, min_gap_seconds 120."""

    from_email: Email
    from_name: ShortText | None = None
    reply_to_email: Email | None = None
    daily_limit: PositiveInt | None = None
    min_gap_seconds: PositiveInt | None = None
    is_active: bool = True
    workspace_id: UUID | None = None


class SenderUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    from_email: Email | Unset = UNSET
    from_name: ShortText | None | Unset = UNSET
    reply_to_email: Email | None | Unset = UNSET
    daily_limit: PositiveInt | None | Unset = UNSET
    min_gap_seconds: PositiveInt | None | Unset = UNSET
    is_active: bool | Unset = UNSET


class SenderRead(msgspec.Struct, kw_only=True):
    id: UUID
    workspace_id: UUID | None
    from_email: str
    from_name: str | None
    reply_to_email: str | None
    daily_limit: int | None
    min_gap_seconds: int | None
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp


class SenderPage(msgspec.Struct):
    items: list[SenderRead]
    pagination: Pagination
