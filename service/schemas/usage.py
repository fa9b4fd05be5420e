"""Request and response Structs of the usage API (service/api/usage.py)."""

from __future__ import annotations

from datetime import date

import msgspec

from service.schemas.common import Timestamp


class UsageRead(msgspec.Struct, kw_only=True):
    month: date
    sent: int
    monthly_email_quota: int | None
    remaining: int | None
    deferred_until: Timestamp | None
    max_send_rate_per_second: float | None
