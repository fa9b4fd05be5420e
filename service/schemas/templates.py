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


class TemplateWarning(msgspec.Struct, kw_only=True):
    """Something in a Liquid source that does not stop it from being saved (service/liquid.py)."""

    code: Annotated[str, msgspec.Meta(description="UNKNOWN_VARIABLE: a variable the renderer does not provide (it renders empty)")]
    field: Annotated[str, msgspec.Meta(description="The body field, e.g. subject_line or variants[1].email_content")]
    variable: str
    message: str


Warnings = Annotated[list[TemplateWarning], msgspec.Meta(
    description="What the save-time Liquid check found that is not an error (unknown variables); empty when nothing")]


class TemplateSaved(TemplateRead, kw_only=True):
    """A template as saved, with the warnings of the save-time Liquid check."""

    warnings: Warnings = msgspec.field(default_factory=list)


class TemplatePage(msgspec.Struct):
    items: list[TemplateRead]
    pagination: Pagination
