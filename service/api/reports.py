"""POST /api/campaigns/{id}/report-link: a signed link to the campaign's report page
(service.report), viewable without an API key until it expires."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from uuid import UUID

from litestar import Controller
from litestar.params import FromPath, JSONBody

from service.api.common import DbDep, endpoint, not_found
from service.api.examples import CAMPAIGN_ID
from service.config import get_settings
from service.report.routes import report_signer
from service.schemas.reports import ReportLink, ReportLinkRequest


class ReportLinkController(Controller):
    path = "/campaigns/{campaign_id:uuid}/report-link"
    tags = ["reports"]

    @endpoint("POST", "/", operation_id="createReportLink", status_code=201, errors=(404, 503),
              summary="A signed link to the campaign's report page",
              description="Anyone with the link sees that campaign's report until expires_at (default 7 days, "
                          "at most 90). Needs CAMPAIGNS_SECRET_KEY on the server (503 otherwise).",
              request_example={"expires_in_hours": 24},
              response_example={"url": f"https://campaigns.example.com/reports/campaigns/{CAMPAIGN_ID}?token=…",
                                "expires_at": "2026-03-02T09:00:00Z"})
    async def create_report_link(self, db: DbDep, campaign_id: FromPath[UUID],
                                 data: JSONBody[ReportLinkRequest]) -> ReportLink:
        # Under Row Level Security another tenant's campaign is simply not there: 404.
        if await db.execute("SELECT 1 FROM campaigns.campaigns WHERE id = %s", (campaign_id,)) == 0:
            raise not_found("campaign", campaign_id)
        expires = int(time.time()) + 3600 * data.expires_in_hours
        token = report_signer().sign(db.auth.tenant_id, campaign_id, expires)
        return ReportLink(url=f"{get_settings().public_url}/reports/campaigns/{campaign_id}?token={token}",
                          expires_at=datetime.fromtimestamp(expires, timezone.utc))
