"""Request and response Structs of the reports API (service/api/reports.py)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from service.schemas.common import Timestamp

MAX_LINK_HOURS = 24 * 90


class ReportLinkRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    expires_in_hours: Annotated[int, msgspec.Meta(ge=1, le=MAX_LINK_HOURS)] = 24 * 7


class ReportLink(msgspec.Struct):
    url: str
    expires_at: Timestamp
