"""Request and response Structs of the users API (service/api/users.py)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import msgspec

from service.schemas.common import Timestamp, Email, Name, Pagination, ShortText

UserRole = Literal["admin", "member"]


class UserCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: Email
    name: ShortText | None = None
    role: UserRole = "member"


class UserRead(msgspec.Struct, kw_only=True):
    id: UUID
    email: str
    name: str | None
    role: UserRole
    created_at: Timestamp
    updated_at: Timestamp


class UserPage(msgspec.Struct):
    items: list[UserRead]
    pagination: Pagination


class Me(msgspec.Struct, kw_only=True):
    tenant_id: UUID
    tenant_name: str
    user: UserRead


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name = "default"


class ApiKeyCreated(msgspec.Struct, kw_only=True):
    """The key is shown this once; only its sha256 is stored."""

    id: UUID
    user_id: UUID
    name: str
    key_prefix: str
    api_key: str


class ApiKeyRead(msgspec.Struct, kw_only=True):
    id: UUID
    user_id: UUID
    name: str
    key_prefix: str
    created_at: Timestamp
    last_used_at: Timestamp | None = None
    revoked_at: Timestamp | None


class ApiKeyPage(msgspec.Struct):
    items: list[ApiKeyRead]
    pagination: Pagination
