"""What every schema module shares: constrained field types, UNSET for "not given", pagination and
the problem-details body of every error."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType

# -- constrained field types ---------------------------------------------------------------------

# Whitespace spelt out: `\s` differs between Python's regexes (which check) and ECMAScript's (which JSON
# Schema tools read: no \x1c-\x1f or \x85, but \ufeff), so a value one calls blank the other could not.
_WS = r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=f"[^{_WS}]")]
ShortText = Annotated[str, msgspec.Meta(max_length=255)]
# Long text: descriptions, email bodies (Gmail clips a message past 102 KB anyway).
LongText = Annotated[str, msgspec.Meta(max_length=100_000)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=f"^[^@{_WS}]+@[^@{_WS}]+\\.[^@{_WS}]+$")]
Timezone = Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="IANA timezone name, e.g. Europe/Paris")]
# Local wall-clock time as HH:MM or HH:MM:SS, without an offset: RFC 3339's partial-time (its seconds
# optional), a format the document names so clients know it is a time of day, not free text.
TIME_OF_DAY_FORMAT = "partial-time"
TimeOfDay = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$", examples=["09:00"],
                                        extra_json_schema={"format": TIME_OF_DAY_FORMAT})]
# A moment as the API writes it: always with its UTC offset (RFC 3339 date-time).
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]
# A moment a client may give without an offset (then read as documented where it is used).
LocalOrInstant = Annotated[datetime, msgspec.Meta(
    extra_json_schema={"format": "date-time"},
    description="RFC 3339 date-time; without an offset it is read as the field says")]
PositiveInt = Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]
Int32 = Annotated[int, msgspec.Meta(ge=-2_147_483_648, le=2_147_483_647)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
JsonObject = dict[str, Any]


class Pagination(msgspec.Struct):
    total: int
    limit: int
    offset: int
    has_more: bool


# -- problem details ---------------------------------------------------------------------------------


class FieldError(msgspec.Struct, omit_defaults=True):
    message: str
    key: str | None = None
    source: str | None = None


class Problem(msgspec.Struct, omit_defaults=True, kw_only=True):
    """RFC 9457 problem details with the engine's stable `code`."""

    type: str = "about:blank"
    title: str
    status: int
    code: Annotated[str, msgspec.Meta(description="Stable machine-readable error code, e.g. CAMPAIGN_NOT_EDITABLE")]
    detail: str | None = None
    hint: str | None = None
    constraint: Annotated[str | None, msgspec.Meta(description="The database constraint that refused the change")] = None
    column: str | None = None
    errors: list[FieldError] | None = None
