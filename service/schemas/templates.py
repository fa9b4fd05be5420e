"""Request and response Structs of the templates API (service/api/templates.py)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec

from service.schemas.common import Timestamp, UNSET, Name, Pagination, Unset

Subject = Annotated[str, msgspec.Meta(max_length=998)]
Body = Annotated[str, msgspec.Meta(max_length=100_000)]


class TemplateCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A Liquid template; at least one of html_content and text_content."""

    name: Name
    subject: Subject = ""
    html_content: Body | None = None
    text_content: Body | None = None
    workspace_id: UUID | None = None


class TemplateUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | Unset = UNSET
    subject: Subject | Unset = UNSET
    html_content: Body | None | Unset = UNSET
    text_content: Body | None | Unset = UNSET


class TemplateRead(msgspec.Struct, kw_only=True):
    id: UUID
    workspace_id: UUID | None
    name: str
    subject: str
    html_content: str | None
    text_content: str | None
    created_by: UUID | None
    created_at: Timestamp
    updated_at: Timestamp


class TemplatePage(msgspec.Struct):
    items: list[TemplateRead]
    pagination: Pagination
