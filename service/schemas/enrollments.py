"""Request and response Structs of enrolling contacts now (service/api/enrollments.py)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec

from service.schemas.contacts import ContactCreate

ENROLL_MAX = 1_000

# enrolled: at the first step now; already_enrolled: a live enrollment exists (or, when the campaign
# does not allow re-entry, any earlier one); suppressed: the address is on a suppression list;
# not_mailable: the contact is unsubscribed or bounced; not_found: no such contact of this tenant;
# invalid: the contact object could not be saved (see error_code).
EnrollOutcome = Literal["enrolled", "already_enrolled", "suppressed", "not_mailable", "not_found", "invalid"]


class EnrollRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Contacts by id, or as objects upserted by email first (both may be given; at most 1,000 in all)."""

    contact_ids: Annotated[list[UUID], msgspec.Meta(max_length=ENROLL_MAX)] = []
    contacts: Annotated[list[ContactCreate], msgspec.Meta(max_length=ENROLL_MAX)] = []


class EnrollResult(msgspec.Struct, kw_only=True):
    contact_id: UUID | None
    email: Annotated[str | None, msgspec.Meta(description="For contacts given as objects")]
    outcome: EnrollOutcome
    enrollment_id: UUID | None
    error_code: Annotated[str | None, msgspec.Meta(description="Why a contact object was invalid")]


class EnrollResponse(msgspec.Struct, kw_only=True):
    enrolled: int
    results: list[EnrollResult]
