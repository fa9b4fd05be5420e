"""Request and response Structs of the segments API (service/api/segments.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from service.schemas.common import UNSET, LongText, Name, Pagination, Unset

SegmentType = Literal["static", "dynamic"]
Rules = Annotated[dict[str, Any], msgspec.Meta(description="{match: all|any, groups: [{match, conditions: [{field, operator, value}]}], exclusions: […]} — see docs/api.md")]
ContactIds = Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=10_000)]


class SegmentCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    segment_type: SegmentType = "static"
    rules: Rules | None = None
    description: LongText | None = None
    workspace_id: UUID | None = None


class SegmentUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | Unset = UNSET
    description: LongText | None | Unset = UNSET
    is_active: bool | Unset = UNSET
    rules: Rules | Unset = UNSET


class SegmentRead(msgspec.Struct, kw_only=True):
    id: UUID
    workspace_id: UUID | None
    name: str
    description: str | None
    segment_type: SegmentType
    rules: dict[str, Any] | None
    contact_count: int
    last_recalculated_at: datetime | None
    is_active: bool
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime


class SegmentPage(msgspec.Struct):
    items: list[SegmentRead]
    pagination: Pagination


class PreviewRequest(msgspec.Struct, forbid_unknown_fields=True):
    rules: Rules
    sample: Annotated[int, msgspec.Meta(ge=0, le=100)] = 10


class PreviewContact(msgspec.Struct):
    id: UUID
    email: str
    status: str


class PreviewResult(msgspec.Struct):
    contact_count: int
    sample: list[PreviewContact]


class RefreshResult(msgspec.Struct):
    added: int
    removed: int
    contact_count: int


class MembersRequest(msgspec.Struct, forbid_unknown_fields=True):
    contact_ids: ContactIds
