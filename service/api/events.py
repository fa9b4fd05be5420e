"""Contact events from applications: "this user signed up", "purchased". Each event is recorded
(once per idempotency key), ends enrollments whose campaigns name it as an exit event, and enrolls
the contact into every active campaign it triggers (campaigns.record_contact_events). Contacts
named by email are upserted first (campaigns.upsert_contacts), in the same transaction."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller
from litestar.params import JSONBody

from service.api.common import DbDep, endpoint
from service.api.examples import CAMPAIGN_ID, CONTACT_ID, ENROLLMENT_ID, NOW
from service.db import Db
from service.errors import ApiError
from service.schemas.events import ContactEventBatch, ContactEventBatchResult, ContactEventCreate, ContactEventResult

Q_UPSERT = """
    SELECT coalesce(jsonb_agg(jsonb_build_object('contact_id', u.contact_id, 'error_code', u.error_code,
                                                 'error_message', u.error_message) ORDER BY u.row_index), '[]')
    FROM campaigns.upsert_contacts(%s::jsonb) u"""
Q_RECORD = "SELECT coalesce(jsonb_agg(r.result ORDER BY r.idx), '[]') FROM campaigns.record_contact_events(%s::jsonb) r"

RESULT_EXAMPLE = {"event_id": "019b1f2e-3d4c-7b5a-8f6e-7d8c9b0a1f30", "contact_id": CONTACT_ID, "duplicate": False,
                  "enrolled": [{"campaign_id": CAMPAIGN_ID, "enrollment_id": ENROLLMENT_ID, "outcome": "enrolled"}],
                  "exited": []}
EVENT_EXAMPLE = {"name": "signed_up", "email": "ada@example.com", "contact": {"first_name": "Ada"},
                 "properties": {"plan": "pro"}, "occurred_at": NOW, "idempotency_key": "signup-4711"}
DESCRIPTION = (
    "The contact is named by `contact_id` or by `email` (created when new, with the `contact` fields). The event "
    "ends the contact's live enrollments in campaigns that list its name in `exit_events` (exit_reason goal), then "
    "enrolls the contact into every active campaign whose `trigger_event` is its name and whose `trigger_filter` "
    "matches (`event.<name>` reads the properties), with launch's rules and the campaign's reentry. Templates read "
    "the properties as `{{ event.<name> }}`. A repeated `idempotency_key` records nothing and returns the first "
    "result with `duplicate: true`.")


async def record(db: Db, events: list[ContactEventCreate]) -> list[dict[str, Any]]:
    """Resolve each event's contact (upserting those named by email), then record them in one call."""
    rows: list[dict[str, Any]] = []
    by_email: list[tuple[int, ContactEventCreate]] = []
    for i, event in enumerate(events):
        if (event.contact_id is None) == (event.email is None):
            raise ApiError(422, "VALIDATION_FAILED", "Validation failed", "each event names a contact_id or an email",
                           errors=[{"message": "give contact_id or email", "key": f"events[{i}]", "source": "body"}])
        if event.contact is not None and event.email is None:
            raise ApiError(422, "VALIDATION_FAILED", "Validation failed", "contact fields go with an email",
                           errors=[{"message": "contact needs email", "key": f"events[{i}].contact", "source": "body"}])
        if event.email is not None:
            by_email.append((i, event))
    contact_ids: dict[int, str] = {}
    if by_email:
        upserts = [msgspec.to_builtins(e.contact or {}) | {"email": e.email} for _, e in by_email]
        upserted = await db.doc(Q_UPSERT, (msgspec.json.encode(upserts).decode(),), list) or []
        for (i, _), row in zip(by_email, upserted):
            if row["contact_id"] is None:
                raise ApiError(422, row["error_code"] or "VALIDATION_FAILED", "Validation failed", row["error_message"],
                               errors=[{"message": row["error_message"], "key": f"events[{i}].contact", "source": "body"}])
            contact_ids[i] = row["contact_id"]
    for i, event in enumerate(events):
        rows.append({"contact_id": str(event.contact_id) if event.contact_id else contact_ids[i], "name": event.name,
                     "properties": event.properties, "idempotency_key": event.idempotency_key,
                     "occurred_at": event.occurred_at.isoformat() if event.occurred_at else None})
    return await db.doc(Q_RECORD, (msgspec.json.encode(rows).decode(),), list) or []


class EventController(Controller):
    path = "/events"
    tags = ["events"]

    @endpoint("POST", "/", operation_id="recordEvent", summary="Record a contact event (may start or end enrollments)",
              errors=(404, 422), status_code=200, description=DESCRIPTION, request_example=EVENT_EXAMPLE,
              response_example=RESULT_EXAMPLE)
    async def record_event(self, db: DbDep, data: JSONBody[ContactEventCreate]) -> ContactEventResult:
        [result] = await record(db, [data])
        return msgspec.convert(result, ContactEventResult)

    @endpoint("POST", "/batch", operation_id="recordEvents", summary="Record up to 1,000 contact events",
              errors=(404, 422), status_code=200, description=DESCRIPTION + " One result per event, in order.",
              request_example={"events": [EVENT_EXAMPLE]}, response_example={"results": [RESULT_EXAMPLE]},
              request_max_body_size=16 * 1024 * 1024)
    async def record_events(self, db: DbDep, data: JSONBody[ContactEventBatch]) -> ContactEventBatchResult:
        return msgspec.convert({"results": await record(db, data.events)}, ContactEventBatchResult)
