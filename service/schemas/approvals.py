"""Request and response Structs of the approvals API (service/api/approvals.py)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec

from service.schemas.common import Timestamp, Pagination

ApprovalRole = Literal["campaign_manager", "compliance_officer"]
ApprovalStatus = Literal["pending", "approved", "rejected"]
Comments = Annotated[str, msgspec.Meta(max_length=10_000)]


class Approver(msgspec.Struct, forbid_unknown_fields=True):
    user_id: UUID
    role: ApprovalRole


class ApprovalRequest(msgspec.Struct, forbid_unknown_fields=True):
    approvers: Annotated[list[Approver], msgspec.Meta(min_length=1, max_length=20)]


class ReviewRequest(msgspec.Struct, forbid_unknown_fields=True):
    comments: Comments | None = None


class ApprovalRead(msgspec.Struct, kw_only=True):
    id: UUID
    campaign_id: UUID
    approver_id: UUID
    approval_role: ApprovalRole
    status: ApprovalStatus
    round: int
    comments: str | None
    requested_by: UUID | None
    requested_at: Timestamp
    reviewed_at: Timestamp | None


class ApprovalPage(msgspec.Struct):
    items: list[ApprovalRead]
    pagination: Pagination
