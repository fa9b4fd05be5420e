"""Request and response Structs of the contacts API (service/api/contacts.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from service.schemas.common import Timestamp, UNSET, Email, Int32, Pagination, ShortText, Tag, Timezone, Unset

BATCH_MAX = 10_000
ContactStatus = Literal["active", "unsubscribed", "bounced"]
Tags = Annotated[list[Tag], msgspec.Meta(max_length=100)]
CustomFields = Annotated[dict[str, Any], msgspec.Meta(description="Free-form attributes, read by segments as custom.<name>")]


class ContactFields(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The fields a client sets on a contact; an absent field is UNSET (not given)."""

    email: Email | Unset = UNSET
    first_name: ShortText | None | Unset = UNSET
    last_name: ShortText | None | Unset = UNSET
    company: ShortText | None | Unset = UNSET
    job_title: ShortText | None | Unset = UNSET
    city: ShortText | None | Unset = UNSET
    state: ShortText | None | Unset = UNSET
    country: ShortText | None | Unset = UNSET
    timezone: Timezone | None | Unset = UNSET
    custom_fields: CustomFields | Unset = UNSET
    score: Int32 | Unset = UNSET
    tags: Tags | Unset = UNSET


class ContactCreate(ContactFields, kw_only=True):
    email: Email


class ContactUpdate(ContactFields, kw_only=True):
    status: ContactStatus | Unset = UNSET


class ContactRead(msgspec.Struct, kw_only=True):
    id: UUID
    email: str
    first_name: str | None
    last_name: str | None
    company: str | None
    job_title: str | None
    city: str | None
    state: str | None
    country: str | None
    timezone: str | None
    custom_fields: dict[str, Any]
    score: int
    status: ContactStatus
    tags: list[str]
    created_at: Timestamp
    updated_at: Timestamp


class ContactPage(msgspec.Struct):
    items: list[ContactRead]
    pagination: Pagination


class ContactBatch(msgspec.Struct, forbid_unknown_fields=True):
    """Contacts to upsert by email, each a ContactCreate (not status). A row that breaks the schema
    refuses the whole batch (400, its index in the error's key: `contacts[2].email`); a row the
    database refuses (an unknown timezone, an email twice) is reported while the others are saved."""

    contacts: Annotated[list[ContactCreate], msgspec.Meta(min_length=1, max_length=BATCH_MAX)]


class CsvImportRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The CSV import's JSON form: the same text as the text/csv body."""

    csv: Annotated[str, msgspec.Meta(min_length=1, description="The CSV text: a header row with an email column, then one contact per row")]


class RowError(msgspec.Struct):
    index: int
    code: str
    field: str | None
    message: str


class UpsertResult(msgspec.Struct, kw_only=True):
    created: int
    updated: int
    rejected: int
    errors: list[RowError]


class ImportResult(msgspec.Struct, kw_only=True):
    rows: int
    created: int
    updated: int
    rejected: int
    errors: list[RowError]
    errors_truncated: bool = False
    ignored_columns: list[str] = []
