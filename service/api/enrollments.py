"""Enrolling contacts into a running campaign now: by id, or as contact objects upserted by email in
the same call (campaigns.upsert_contacts, then campaigns.enroll_contacts, in the request's one
transaction). Each contact's outcome is reported; a repeat call is idempotent."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Controller
from litestar.params import FromPath, JSONBody

from service.api.common import DbDep, endpoint
from service.api.examples import CONTACT_ID, ENROLLMENT_ID
from service.errors import ApiError
from service.schemas.enrollments import ENROLL_MAX, EnrollRequest, EnrollResponse

# The objects' upsert: each row's contact id, or why it was rejected.
Q_UPSERT = """
    SELECT coalesce(jsonb_agg(jsonb_build_object('index', u.row_index, 'contact_id', u.contact_id,
                                                 'error_code', u.error_code) ORDER BY u.row_index), '[]')
    FROM campaigns.upsert_contacts(%s::jsonb) u"""
Q_ENROLL = """
    SELECT jsonb_build_object(
        'enrolled', count(*) FILTER (WHERE e.outcome = 'enrolled'),
        'results', coalesce(jsonb_agg(jsonb_build_object('contact_id', e.contact_id, 'outcome', e.outcome,
                                                         'enrollment_id', e.enrollment_id)), '[]'))
    FROM campaigns.enroll_contacts(%s, %s::uuid[]) e"""

EXAMPLE_RESULT = {"contact_id": CONTACT_ID, "email": "ada@example.com", "outcome": "enrolled",
                  "enrollment_id": ENROLLMENT_ID, "error_code": None}


class EnrollmentController(Controller):
    path = "/campaigns"
    tags = ["campaigns"]

    @endpoint("POST", "/{campaign_id:uuid}/enrollments", operation_id="enrollContacts",
              summary="Enroll contacts into an active campaign now", errors=(409, 422), status_code=200,
              description="Up to 1,000 contacts, by id and/or as contact objects upserted by email first. Each is "
                          "enrolled at the first step with the rules of launch (mailable, not suppressed, first send "
                          "time by the send strategy and sending window), or reported: already_enrolled, suppressed, "
                          "not_mailable, not_found, invalid. The campaign's reentry says whether a contact whose "
                          "enrollment ended may enter again (after_exit) or not (once). Repeating the call changes "
                          "nothing. INVALID_STATE_TRANSITION unless the campaign is active; VALIDATION_FAILED (422) "
                          "for an empty request or more than 1,000 contacts in all.",
              request_example={"contacts": [{"email": "ada@example.com", "first_name": "Ada"}]},
              response_example={"enrolled": 1, "results": [EXAMPLE_RESULT]})
    async def enroll_contacts(self, db: DbDep, campaign_id: FromPath[UUID], data: JSONBody[EnrollRequest]) -> EnrollResponse:
        # Rules across the two fields, which the schema cannot state: a 422, as for any business rule.
        if not data.contact_ids and not data.contacts:
            raise ApiError(422, "VALIDATION_FAILED", "Validation failed", "give contact_ids or contacts")
        if len(data.contact_ids) + len(data.contacts) > ENROLL_MAX:
            raise ApiError(422, "VALIDATION_FAILED", "Validation failed", f"at most {ENROLL_MAX} contacts per call")
        results: list[dict] = []
        ids: list[UUID] = list(data.contact_ids)
        emails: dict[str, str] = {}
        if data.contacts:
            rows = await db.doc(Q_UPSERT, (msgspec.json.encode(data.contacts).decode(),), list) or []
            for row, contact in zip(rows, data.contacts):
                if row["contact_id"] is None:
                    results.append({"contact_id": None, "email": contact.email, "outcome": "invalid",
                                    "enrollment_id": None, "error_code": row["error_code"]})
                else:
                    ids.append(UUID(row["contact_id"]))
                    emails[row["contact_id"]] = contact.email
        enrolled = await db.doc(Q_ENROLL, (campaign_id, ids), dict) or {"enrolled": 0, "results": []}
        for row in enrolled["results"]:
            results.append(row | {"email": emails.get(row["contact_id"]), "error_code": None})
        return msgspec.convert({"enrolled": enrolled["enrolled"], "results": results}, EnrollResponse)
