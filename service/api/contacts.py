"""Contacts: create, batch upsert (up to 10,000 per request), CSV import (streamed), list, get,
update, delete.

The batch and the CSV import both go through campaigns.upsert_contacts (db/functions/70_contacts.sql),
one set-based call per batch or CSV chunk, which saves the valid rows and reports the others.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request
from litestar.exceptions import ValidationException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from service.api.common import DbDep, Limit, Offset, encode, endpoint, not_found, one, page_query
from service.api.examples import CONTACT, page
from service.contacts_csv import CsvError, csv_columns, csv_records, csv_row, has_email_column
from service.errors import ApiError
from service.request_body import body_error, check_depth, decode_strict
from service.schemas.contacts import (
    ContactBatch,
    ContactCreate,
    ContactPage,
    ContactRead,
    ContactStatus,
    ContactUpdate,
    CsvImportRequest,
    ImportResult,
    UpsertResult,
)

CSV_CHUNK = 1_000
CSV_MAX_ERRORS = 10_000
CSV_MAX_BYTES = 256 * 1024 * 1024


CONTACT_DOC = "to_jsonb(c) - 'tenant_id' - 'consecutive_soft_bounces'"
Q_CREATE = f"""
    INSERT INTO campaigns.contacts AS c
        (tenant_id, email, first_name, last_name, company, job_title, city, state, country, timezone, custom_fields, score, tags)
    SELECT campaigns.current_tenant_id(), btrim(r.email), r.first_name, r.last_name, r.company, r.job_title, r.city, r.state,
           r.country, r.timezone, coalesce(r.custom_fields, '{{}}'::jsonb), coalesce(r.score, 0),
           ARRAY(SELECT DISTINCT t.v FROM unnest(coalesce(r.tags, '{{}}'::text[])) AS t(v) ORDER BY t.v)
    FROM jsonb_populate_record(NULL::campaigns.contacts, %s::jsonb) r
    RETURNING {CONTACT_DOC}
"""
Q_UPDATE = f"SELECT {CONTACT_DOC} FROM campaigns.update_contact(%s, %s::jsonb) c"
Q_GET = f"SELECT {CONTACT_DOC} FROM campaigns.contacts c WHERE c.id = %s"
Q_DELETE = "DELETE FROM campaigns.contacts WHERE id = %s"
Q_LIST = page_query(
    source="campaigns.contacts",
    where="(%(status)s::text IS NULL OR x.status = %(status)s::text)"
          " AND (%(tag)s::text IS NULL OR x.tags @> ARRAY[%(tag)s::text])"
          " AND (%(email)s::text IS NULL OR strpos(lower(x.email), lower(%(email)s::text)) > 0)",
    order="x.created_at DESC, x.id",
    doc="to_jsonb(x) - 'tenant_id' - 'consecutive_soft_bounces'",
)
# One call of the set-based upsert, its per-row outcomes summarised.
Q_UPSERT = """
    SELECT jsonb_build_object(
        'created', count(*) FILTER (WHERE u.outcome = 'created'),
        'updated', count(*) FILTER (WHERE u.outcome = 'updated'),
        'rejected', count(*) FILTER (WHERE u.outcome = 'rejected'),
        'errors', coalesce(jsonb_agg(jsonb_build_object('index', u.row_index + %s, 'code', u.error_code,
                                                       'field', u.error_field, 'message', u.error_message)
                                     ORDER BY u.row_index) FILTER (WHERE u.outcome = 'rejected'), '[]'::jsonb))
    FROM campaigns.upsert_contacts(%s::jsonb) u
"""

async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _json_csv(body: bytes) -> AsyncIterator[bytes]:
    """The CSV text of the JSON form {"csv": "…"}, as the one chunk the CSV reader takes."""
    check_depth(body)
    try:
        request = decode_strict(body or b"null", CsvImportRequest)
    except msgspec.ValidationError as exc:
        raise ValidationException(detail="Validation failed for POST /api/contacts/import", extra=[body_error(exc)]) from exc
    except msgspec.DecodeError as exc:
        raise ApiError(400, "INVALID_JSON", "The body is not valid JSON", str(exc)) from exc
    return _one_chunk(request.csv.encode())


class ContactController(Controller):
    path = "/contacts"
    tags = ["contacts"]

    @endpoint("POST", "/", operation_id="createContact", summary="Create a contact", errors=(409, 422),
              description="A second contact with the same email (case-insensitive) is CONTACT_ALREADY_EXISTS; use the "
                          "batch upsert to update by email.",
              request_example={"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
                               "company": "Analytical Engines", "timezone": "Europe/London",
                               "custom_fields": {"industry": "SaaS"}, "tags": ["newsletter"]},
              response_example=CONTACT)
    async def create_contact(self, db: DbDep, data: JSONBody[ContactCreate]) -> ContactRead:
        return await one(db, Q_CREATE, (encode(data),), ContactRead, "contact", "new")

    @endpoint("POST", "/batch", operation_id="upsertContacts", summary="Upsert up to 10,000 contacts by email",
              status_code=200,
              description="Each row is a contact as createContact takes it, upserted by email (case-insensitive) in "
                          "one set-based call: a present field overwrites (null clears), an absent one keeps its value, "
                          "custom_fields merge, tags are replaced. A row that breaks the schema (a bad email, an unknown "
                          "field, a wrong type) refuses the whole batch: 400 VALIDATION_FAILED with the row in "
                          "errors[0].key (`contacts[2].email`). Rows the database refuses (INVALID_TIMEZONE, "
                          "DUPLICATE_IN_BATCH — the last occurrence wins) are reported by index while the others are saved.",
              request_example={"contacts": [{"email": "ada@example.com", "first_name": "Ada", "score": 42},
                                            {"email": "grace@example.com", "custom_fields": {"industry": "Navy"}},
                                            {"email": "alan@example.com", "timezone": "Nowhere/City"}]},
              response_example={"created": 1, "updated": 1, "rejected": 1, "errors": [
                  {"index": 2, "code": "INVALID_TIMEZONE", "field": "timezone", "message": "unknown timezone"}]},
              request_max_body_size=64 * 1024 * 1024)
    async def upsert_contacts(self, db: DbDep, data: JSONBody[ContactBatch]) -> UpsertResult:
        return await one(db, Q_UPSERT, (0, encode(data.contacts)), UpsertResult, "batch", "")

    @endpoint("POST", "/import", operation_id="importContactsCsv", summary="Import contacts from CSV (streamed)",
              errors=(413, 415), status_code=200,
              description="Body: text/csv, UTF-8, a header row then one contact per row. Columns: email (required), "
                          "first_name, last_name, company, job_title, city, state, country, timezone, score, tags "
                          "(separated by ; or |), custom.<name>; any other column is a custom field; status and id are "
                          "ignored. Empty cells keep stored values. Read in chunks of 1,000 rows, each upserted like the "
                          "batch endpoint; errors are indexed by data row (0 = the first row after the header).",
              request_example="email,first_name,company,tags,custom.industry\nada@example.com,Ada,Analytical Engines,newsletter;vip,SaaS\n",
              response_example={"rows": 1, "created": 1, "updated": 0, "rejected": 0, "errors": [],
                                "errors_truncated": False, "ignored_columns": []},
              request_max_body_size=CSV_MAX_BYTES)
    async def import_csv(self, request: Request, db: DbDep) -> ImportResult:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type == "application/json":
            chunks = _json_csv(await request.body())
        elif media_type in ("text/csv", "application/csv"):
            chunks = request.stream()
        else:
            raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Send the CSV as text/csv, or as JSON {\"csv\": \"…\"}")
        result = ImportResult(rows=0, created=0, updated=0, rejected=0, errors=[])
        columns: list[tuple[str, str] | None] | None = None
        pending: list[dict[str, Any]] = []

        async def flush() -> None:
            if not pending:
                return
            chunk = await one(db, Q_UPSERT, (result.rows - len(pending), msgspec.json.encode(pending).decode()),
                              UpsertResult, "import", "")
            result.created += chunk.created
            result.updated += chunk.updated
            result.rejected += chunk.rejected
            room = CSV_MAX_ERRORS - len(result.errors)
            result.errors.extend(chunk.errors[:room])
            result.errors_truncated = result.errors_truncated or len(chunk.errors) > room
            pending.clear()

        try:
            async for records in csv_records(chunks):
                for cells in records:
                    if columns is None:
                        columns, result.ignored_columns = csv_columns(cells)
                        if not has_email_column(columns):
                            raise ApiError(400, "INVALID_CSV", "The CSV has no email column", f"header: {cells}")
                        continue
                    row = csv_row(columns, cells)
                    if row is None:
                        continue
                    pending.append(row)
                    result.rows += 1
                    if len(pending) >= CSV_CHUNK:
                        await flush()
        except CsvError as exc:
            raise ApiError(400, "INVALID_CSV", "The CSV is not a UTF-8 CSV or is malformed", str(exc)) from exc
        if columns is None:
            raise ApiError(400, "INVALID_CSV", "The CSV is empty", "a header row with an email column is required")
        await flush()
        return result

    @endpoint("GET", "/", operation_id="listContacts", summary="List contacts",
              description="Newest first; filters: status, tag (exact), email (case-insensitive substring).",
              query_example={"status": "active", "tag": "vip", "email": "example.com", "limit": 20, "offset": 0},
              response_example=page(CONTACT))
    async def list_contacts(
        self, db: DbDep, status: FromQuery[ContactStatus | None] = None,
        tag: Annotated[str | None, QueryParameter(max_length=100, description="Contacts carrying this tag")] = None,
        email: Annotated[str | None, QueryParameter(max_length=320, description="Case-insensitive substring of the email")] = None,
        limit: Limit = 20, offset: Offset = 0,
    ) -> ContactPage:
        params = {"status": status, "tag": tag, "email": email, "limit": limit, "offset": offset}
        return await db.doc(Q_LIST, params, ContactPage)  # type: ignore[return-value]

    @endpoint("GET", "/{contact_id:uuid}", operation_id="getContact", summary="Get a contact", response_example=CONTACT)
    async def get_contact(self, db: DbDep, contact_id: FromPath[UUID]) -> ContactRead:
        return await one(db, Q_GET, (contact_id,), ContactRead, "contact", contact_id)

    @endpoint("PATCH", "/{contact_id:uuid}", operation_id="updateContact", summary="Update a contact", errors=(409, 422),
              description="Null clears a field; custom_fields and tags are replaced. Setting status active on an "
                          "unsubscribed or bounced contact whose address is suppressed is INVALID_STATE_TRANSITION.",
              request_example={"company": "Analytical Engines Ltd", "score": 55},
              response_example=CONTACT | {"company": "Analytical Engines Ltd", "score": 55})
    async def update_contact(self, db: DbDep, contact_id: FromPath[UUID], data: JSONBody[ContactUpdate]) -> ContactRead:
        return await one(db, Q_UPDATE, (contact_id, encode(data)), ContactRead, "contact", contact_id)

    @endpoint("DELETE", "/{contact_id:uuid}", operation_id="deleteContact", summary="Delete a contact",
              description="Erases the contact with its memberships, enrollments and message history (right to "
                          "erasure); analytics already rolled up keep their counts.")
    async def delete_contact(self, db: DbDep, contact_id: FromPath[UUID]) -> None:
        if await db.execute(Q_DELETE, (contact_id,)) == 0:
            raise not_found("contact", contact_id)
