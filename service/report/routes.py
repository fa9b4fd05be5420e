"""GET /reports/campaigns/{id}: the report page, for an API key (Bearer) or a signed link (?token=,
minted by POST /api/campaigns/{id}/report-link, service.api.reports)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.params import FromPath, QueryParameter

from service.api.auth import bearer_key
from service.api.common import problem_responses
from service.config import get_settings
from service.db import api_key_transaction, tenant_transaction
from service.report.links import ReportLinkSigner
from service.report.page import render_report


def report_signer() -> ReportLinkSigner:
    """Signs with CAMPAIGNS_SECRET_KEY; verifies with it and every CAMPAIGNS_PREVIOUS_SECRET_KEYS entry."""
    keys = get_settings().links.secret_keys
    if not keys:
        raise HTTPException(status_code=503, detail="report links need CAMPAIGNS_SECRET_KEY")
    return ReportLinkSigner(keys)


_REPORT = "SELECT campaigns.campaign_report(%s, %s) AS doc"


async def _report_doc(conn, campaign_id: UUID, days: int) -> dict:
    cur = await conn.execute(_REPORT, (campaign_id, days))
    return (await cur.fetchone())["doc"]


@get("/reports/campaigns/{campaign_id:uuid}", operation_id="getCampaignReport", tags=["reports"],
     summary="The campaign report page (HTML), for an API key or a signed link", media_type="text/html",
     responses=problem_responses(401, 404, 503))
async def campaign_report_page(
    request: Request, state: State, campaign_id: FromPath[UUID],
    token: Annotated[str | None, QueryParameter(max_length=200)] = None,
    days: Annotated[int, QueryParameter(ge=1, le=366)] = 30,
) -> Response:
    if token is not None:
        tenant_id = report_signer().verify(token, campaign_id)
        if tenant_id is None:
            raise NotAuthorizedException()
        async with tenant_transaction(state.pool, tenant_id) as conn:
            doc = await _report_doc(conn, campaign_id, days)
    else:
        key = bearer_key(request.headers.get("authorization"))
        if key is None:
            raise NotAuthorizedException()
        # The key check and the report on one connection, in one transaction.
        async with api_key_transaction(state.pool, key) as request_tx:
            if request_tx is None:
                raise NotAuthorizedException()
            doc = await _report_doc(request_tx.conn, campaign_id, days)
    return Response(content=render_report(doc), media_type="text/html",
                    headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
