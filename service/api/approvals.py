"""Approvals: request a round (assign approvers and roles), list, approve or reject by the assigned
approver with comments (db/functions/74_approvals.sql). Pending requests expire after 48 hours
(campaigns.expire_approvals, hourly by pg_cron)."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Controller
from litestar.params import FromPath, FromQuery, JSONBody

from service.api.common import DbDep, Limit, Offset, endpoint, one, page_query
from service.api.examples import APPROVAL, USER_ID, page
from service.schemas.approvals import ApprovalPage, ApprovalRead, ApprovalRequest, ApprovalStatus, ReviewRequest

APPROVAL_DOC = "to_jsonb(a) - 'tenant_id'"
Q_REQUEST = f"SELECT coalesce(jsonb_agg({APPROVAL_DOC} ORDER BY a.approval_role, a.approver_id), '[]'::jsonb) FROM campaigns.request_approval(%s, %s::jsonb) a"
Q_REVIEW = f"SELECT {APPROVAL_DOC} FROM campaigns.review_approval(%s, %s, %s) a"
Q_FOR_CAMPAIGN = f"""
    SELECT CASE WHEN EXISTS (SELECT FROM campaigns.campaigns c WHERE c.id = %(campaign_id)s) THEN
        coalesce((SELECT jsonb_agg({APPROVAL_DOC} ORDER BY a.round DESC, a.approval_role, a.requested_at)
                  FROM campaigns.campaign_approvals a WHERE a.campaign_id = %(campaign_id)s), '[]'::jsonb) END
"""
Q_LIST = page_query(
    source="campaigns.campaign_approvals",
    where="(%(status)s::text IS NULL OR x.status = %(status)s::text)"
          " AND (NOT %(mine)s OR x.approver_id = campaigns.current_user_id())",
    order="x.requested_at DESC, x.id",
    doc="to_jsonb(x) - 'tenant_id'",
)


class CampaignApprovalController(Controller):
    path = "/campaigns/{campaign_id:uuid}/approvals"
    tags = ["approvals"]

    @endpoint("POST", "/", operation_id="requestApproval", summary="Request approval of a campaign", errors=(404, 409, 422),
              description="Opens a new round: one pending approval per approver and role (campaign_manager; "
                          "compliance_officer as well for audiences over 10,000 or promotional content). The campaign "
                          "must be draft or scheduled, and no round may be pending (INVALID_STATE_TRANSITION). An "
                          "approver who is not a user of the tenant is REFERENCE_NOT_FOUND.",
              request_example={"approvers": [{"user_id": USER_ID, "role": "campaign_manager"}]},
              response_example=[APPROVAL])
    async def request_approval(self, db: DbDep, campaign_id: FromPath[UUID], data: JSONBody[ApprovalRequest]) -> list[ApprovalRead]:
        return await one(db, Q_REQUEST, (campaign_id, msgspec.json.encode(data.approvers).decode()), list[ApprovalRead],
                         "campaign", campaign_id)

    @endpoint("GET", "/", operation_id="listCampaignApprovals", errors=(404,), summary="List a campaign's approvals (latest round first)",
              response_example=[APPROVAL])
    async def list_for_campaign(self, db: DbDep, campaign_id: FromPath[UUID]) -> list[ApprovalRead]:
        return await one(db, Q_FOR_CAMPAIGN, {"campaign_id": campaign_id}, list[ApprovalRead], "campaign", campaign_id)


class ApprovalController(Controller):
    path = "/approvals"
    tags = ["approvals"]

    @endpoint("GET", "/", operation_id="listApprovals", summary="List approvals (e.g. those awaiting me)",
              description="mine=true: only those assigned to the caller.",
              query_example={"status": "pending", "mine": True, "limit": 20, "offset": 0}, response_example=page(APPROVAL))
    async def list_approvals(
        self, db: DbDep, status: FromQuery[ApprovalStatus | None] = None, mine: FromQuery[bool] = False, limit: Limit = 20, offset: Offset = 0,
    ) -> ApprovalPage:
        return await db.doc(Q_LIST, {"status": status, "mine": mine, "limit": limit, "offset": offset}, ApprovalPage)  # type: ignore[return-value]

    @endpoint("POST", "/{approval_id:uuid}/approve", operation_id="approveApproval", summary="Approve", errors=(403, 409),
              status_code=200,
              description="Only the assigned approver (NOT_APPROVER otherwise); the approval must be pending "
                          "(INVALID_STATE_TRANSITION). Sets reviewed_at.",
              request_example={"comments": "Looks good."},
              response_example=APPROVAL | {"status": "approved", "comments": "Looks good.", "reviewed_at": "2030-03-01T10:00:00+00:00"})
    async def approve(self, db: DbDep, approval_id: FromPath[UUID], data: JSONBody[ReviewRequest]) -> ApprovalRead:
        return await one(db, Q_REVIEW, (approval_id, "approved", data.comments), ApprovalRead, "approval", approval_id)

    @endpoint("POST", "/{approval_id:uuid}/reject", operation_id="rejectApproval", summary="Reject", errors=(403, 409),
              status_code=200,
              description="Only the assigned approver. Closes the round (its other pending approvals are rejected with "
                          "it) and returns a scheduled campaign to draft; comments are kept.",
              request_example={"comments": "The unsubscribe footer is missing."},
              response_example=APPROVAL | {"status": "rejected", "comments": "The unsubscribe footer is missing.",
                                           "reviewed_at": "2030-03-01T10:00:00+00:00"})
    async def reject(self, db: DbDep, approval_id: FromPath[UUID], data: JSONBody[ReviewRequest]) -> ApprovalRead:
        return await one(db, Q_REVIEW, (approval_id, "rejected", data.comments), ApprovalRead, "approval", approval_id)
