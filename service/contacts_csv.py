"""Contact CSV → upsert rows, shared by the API's import (POST /api/contacts/import) and
`campaignctl import-contacts`: which column means what, how a record becomes a row, that a blank
record is skipped, and how a streamed body splits into whole records.

Columns: the standard fields by name (case-insensitive, with a few aliases), score, tags (separated
by ; or |), custom.<name>; any other column is a custom field of that name; reserved names (status,
id…) are ignored, so an import never changes a contact's status. Empty cells are left out of the row
(they never clear a stored value); a record whose cells are all empty is no row at all.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import AsyncIterator
from typing import Any

Column = tuple[str, str] | None

_STANDARD = {"email", "first_name", "last_name", "company", "job_title", "city", "state", "country", "timezone"}
_ALIASES = {"firstname": "first_name", "lastname": "last_name", "jobtitle": "job_title", "e-mail": "email",
            "email_address": "email", "time_zone": "timezone"}
_RESERVED = {"id", "status", "tenant_id", "created_at", "updated_at", "consecutive_soft_bounces", "custom_fields"}
_CUSTOM_PREFIX = re.compile(r"^(custom|customfield|custom_fields)\.(.+)$", re.IGNORECASE)
_INTEGER = re.compile(r"^-?[0-9]{1,9}$")


class CsvError(ValueError):
    """The bytes are not a UTF-8 CSV, or a record is malformed."""


def csv_columns(header: list[str]) -> tuple[list[Column], list[str]]:
    """Each column's meaning, (kind, name), or None when ignored; and the ignored column names."""
    columns: list[Column] = []
    ignored: list[str] = []
    for raw in header:
        name = raw.strip()
        key = _ALIASES.get(name.lower().replace(" ", "_"), name.lower().replace(" ", "_"))
        if key in _STANDARD:
            columns.append(("field", key))
        elif key in ("score", "tags"):
            columns.append((key, key))
        elif m := _CUSTOM_PREFIX.match(name):
            columns.append(("custom", m.group(2)))
        elif key in _RESERVED or not name:
            columns.append(None)
            ignored.append(name)
        else:
            columns.append(("custom", name))
    return columns, ignored


def has_email_column(columns: list[Column]) -> bool:
    return ("field", "email") in columns


def csv_row(columns: list[Column], cells: list[str]) -> dict[str, Any] | None:
    """A CSV record as an upsert row, or None for a blank record (every cell empty), which is skipped."""
    if not any(cell.strip() for cell in cells):
        return None
    row: dict[str, Any] = {}
    for column, cell in zip(columns, cells, strict=False):  # a short row leaves the rest empty
        value = cell.strip()
        if column is None or value == "":
            continue
        kind, name = column
        if kind == "field":
            row[name] = value
        elif kind == "score":
            row["score"] = int(value) if _INTEGER.match(value) else value
        elif kind == "tags":
            row["tags"] = [t.strip() for t in re.split(r"[;|]", value) if t.strip()]
        else:
            row.setdefault("custom_fields", {})[name] = value
    return row


async def csv_records(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[list[str]]]:
    """Parse a streamed CSV body into batches of records, one batch per complete part of the stream.

    A record ends at a newline outside quotes: quotes are escaped by doubling (RFC 4180), so a newline
    ends a record exactly when the number of quote characters before it is even."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    buffer = ""
    try:
        async for chunk in chunks:
            buffer += decoder.decode(chunk)
            cut = _complete_prefix(buffer)
            if cut:
                yield list(csv.reader(io.StringIO(buffer[:cut])))
                buffer = buffer[cut:]
        buffer += decoder.decode(b"", final=True)
        if buffer.strip():
            yield list(csv.reader(io.StringIO(buffer), strict=True))
    except UnicodeDecodeError as exc:
        raise CsvError(f"not UTF-8: {exc}") from exc
    except csv.Error as exc:
        raise CsvError(f"malformed: {exc}") from exc


def _complete_prefix(text: str) -> int:
    """Length of the longest prefix of text made of complete records (0 if none)."""
    quotes = 0
    start = 0
    cut = 0
    while (newline := text.find("\n", start)) != -1:
        quotes += text.count('"', start, newline)
        start = newline + 1
        if quotes % 2 == 0:
            cut = start
    return cut
