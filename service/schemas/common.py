"""What every schema module shares: constrained field types, UNSET for "not given", pagination and
the problem-details body of every error."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType

# -- constrained field types ---------------------------------------------------------------------

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=r"\S")]
ShortText = Annotated[str, msgspec.Meta(max_length=255)]
# Long text: descriptions, email bodies (Gmail clips a message past 102 KB anyway).
LongText = Annotated[str, msgspec.Meta(max_length=100_000)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Timezone = Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="IANA timezone name, e.g. Europe/Paris")]
# Local wall-clock time as HH:MM or HH:MM:SS.
TimeOfDay = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$", examples=["09:00"])]
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
