"""Request and response Structs of the events API (service/api/events.py)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec

from service.schemas.campaigns import EventName
from service.schemas.common import Email, Timestamp
from service.schemas.contacts import ContactFields
from service.schemas.enrollments import EnrollOutcome

EVENTS_MAX = 1_000
Properties = Annotated[dict[str, Any], msgspec.Meta(description="Free-form; templates read them as {{ event.<name> }}")]
IdempotencyKey = Annotated[str, msgspec.Meta(min_length=1, max_length=255,
                                             description="A repeat of a key records nothing and returns the first result")]


class ContactEventCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One event of one contact, named by `contact_id` or by `email` (exactly one); a contact given by
    email is created when new, with the `contact` fields (the batch upsert's rules)."""

    name: EventName
    contact_id: UUID | None = None
    email: Email | None = None
    contact: ContactFields | None = None
    properties: Properties = {}
    occurred_at: Timestamp | None = None
    idempotency_key: IdempotencyKey | None = None


class ContactEventBatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    events: Annotated[list[ContactEventCreate], msgspec.Meta(min_length=1, max_length=EVENTS_MAX)]


class ContactEventEnrollment(msgspec.Struct, kw_only=True):
    campaign_id: UUID
    enrollment_id: UUID | None
    outcome: EnrollOutcome


class ContactEventExit(msgspec.Struct, kw_only=True):
    campaign_id: UUID
    enrollment_id: UUID


class ContactEventResult(msgspec.Struct, kw_only=True):
    event_id: UUID
    contact_id: UUID
    duplicate: Annotated[bool, msgspec.Meta(description="The idempotency key was seen before: this is its first result")]
    enrolled: list[ContactEventEnrollment]
    exited: list[ContactEventExit]


class ContactEventBatchResult(msgspec.Struct, kw_only=True):
    results: list[ContactEventResult]
