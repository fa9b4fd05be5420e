"""The tenant's sending allowance: mail sent this month against its monthly quota, and its send rate
(db/functions/50_send_quota.sql). Both limits are set by the operator, so they are read-only here."""

from __future__ import annotations

from litestar import Controller

from service.api.common import DbDep, endpoint, one
from service.schemas.usage import UsageRead

USAGE_EXAMPLE = {"month": "2030-03-01", "sent": 41250, "monthly_email_quota": 100000, "remaining": 58750,
                 "deferred_until": None, "max_send_rate_per_second": 50.0}


Q_USAGE = "SELECT to_jsonb(u) - 'tenant_id' FROM campaigns.tenant_usage() u"


class UsageController(Controller):
    path = "/usage"
    tags = ["users and keys"]

    @endpoint("GET", "/", operation_id="getUsage", summary="Mail sent this month against the monthly quota",
              description="The current UTC month: messages that went to the relay (accepted, or refused for the "
                          "recipient), the tenant's monthly_email_quota and what remains of it (NULL = unlimited), "
                          "deferred_until while over-quota mail waits for next month, and the send rate limit. "
                          "The worker holds a tenant's mail once its quota is used (docs/worker.md).",
              response_example=USAGE_EXAMPLE)
    async def get_usage(self, db: DbDep) -> UsageRead:
        return await one(db, Q_USAGE, None, UsageRead, "tenant", "current")
