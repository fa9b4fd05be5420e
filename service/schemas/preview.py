"""Request and response Structs of a step's preview and test send (service/api/preview.py)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec

from service.schemas.common import UNSET, Email, JsonObject, ShortText, Timezone, Unset
from service.schemas.templates import TemplateWarning

VariantName = Annotated[str, msgspec.Meta(pattern="^[A-Z]$", description="An A/B variant of the step: A, B, …")]


class StepPreviewSample(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Made-up contact data to render with (nothing is stored); a field left out is empty."""

    email: Email | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    company: ShortText | None = None
    job_title: ShortText | None = None
    city: ShortText | None = None
    state: ShortText | None = None
    country: ShortText | None = None
    timezone: Timezone | None = None
    score: Annotated[int, msgspec.Meta(ge=-2_147_483_648, le=2_147_483_647)] = 0
    tags: Annotated[list[Annotated[str, msgspec.Meta(max_length=100)]], msgspec.Meta(max_length=100)] = []
    custom_fields: JsonObject = {}


class StepPreviewRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Exactly one of contact_id and sample."""

    contact_id: UUID | Unset = UNSET
    sample: StepPreviewSample | Unset = UNSET
    variant: VariantName | Unset = UNSET


class StepTestSendRequest(StepPreviewRequest, forbid_unknown_fields=True, kw_only=True):
    """Where to send, and (optionally) whose data to render with: at most one of contact_id and
    sample; neither renders with the sample contact of the save-time check."""

    to_email: Email


Warnings = Annotated[list[TemplateWarning], msgspec.Meta(
    description="MISSING_VALUE (a merge tag empty for this contact), UNKNOWN_VARIABLE, TEMPLATE_UNKNOWN_FILTER and "
                "TEMPLATE_SYNTAX_ERROR (the worker then sends the source with its merge tags removed); empty when nothing")]


class StepPreview(msgspec.Struct, kw_only=True):
    """The message as the worker would compose it for that contact (tracking links left out)."""

    subject: str
    html: str
    text: str
    from_email: str
    from_name: str | None
    reply_to: str | None
    to_email: str | None
    variant: str | None
    warnings: Warnings


class StepTestSendQueued(msgspec.Struct, kw_only=True):
    id: UUID
    to_email: str
    status: str
    subject: str
    warnings: Warnings
