"""The webhook action step over the API: its target is checked when a step is saved (as a
subscription's is, service.api.webhooks), and its delivery log is listed under the step. Deliveries,
retries and the on_failure rule are SQL (db/functions/43_actions.sql, 82_webhook_outbox.sql)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller
from litestar.params import FromPath, FromQuery

from service.api.common import DbDep, Limit, Offset, endpoint, not_found, page_query
from service.api.examples import CAMPAIGN_ID, CONTACT_ID, ENROLLMENT_ID, NOW, STEP_ID, page
from service.api.webhooks import check_webhook_target
from service.schemas.common import UNSET
from service.schemas.step_webhooks import StepWebhookDeliveryPage
from service.schemas.steps import StepFields
from service.schemas.webhooks import WebhookDeliveryStatus

STEP_WEBHOOK_DELIVERY: dict[str, Any] = {
    "id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e51", "step_id": STEP_ID, "enrollment_id": ENROLLMENT_ID,
    "url": "https://hooks.example.com/crm", "on_failure": "continue", "event_id": "evt_0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e51",
    "event_type": "action.webhook",
    "payload": {"type": "action.webhook", "timestamp": NOW, "data": {
        "contact": {"id": CONTACT_ID, "email": "ada@example.com", "first_name": "Ada"},
        "enrollment": {"id": ENROLLMENT_ID, "contact_id": CONTACT_ID, "entry": 1, "enrolled_at": NOW, "steps_completed": 0},
        "campaign_id": CAMPAIGN_ID, "step_id": STEP_ID, "payload": {"list": "vip"}}},
    "status": "delivered", "attempts": 1, "next_attempt_at": NOW, "response_status": 204, "response_body": "",
    "latency_ms": 41, "last_error": None, "created_at": NOW, "expires_at": "2030-03-04T09:00:00+00:00",
    "delivered_at": NOW, "failed_at": None,
}

Q_DELIVERIES = page_query(
    source="campaigns.webhook_deliveries",
    where="x.step_id = %(step_id)s AND (%(status)s::text IS NULL OR x.status = %(status)s::text)",
    order="x.created_at DESC, x.id",
    doc="to_jsonb(x) - 'tenant_id' - 'subscription_id' - 'lease_expires_at' - 'locked_by'",
    guard="EXISTS (SELECT FROM campaigns.campaign_steps s WHERE s.campaign_id = %(campaign_id)s AND s.id = %(step_id)s)",
)


async def check_step_webhook_target(data: StepFields) -> None:
    """A step saved with a webhook URL: 422 WEBHOOK_TARGET_NOT_ALLOWED for an internal target."""
    if data.action_config is not UNSET and data.action_config is not None and isinstance(data.action_config.url, str):
        await check_webhook_target(data.action_config.url)


class StepWebhookDeliveryController(Controller):
    path = "/campaigns/{campaign_id:uuid}/steps/{step_id:uuid}/webhook-deliveries"
    tags = ["steps"]

    @endpoint("GET", "/", operation_id="listStepWebhookDeliveries", summary="A webhook action step's delivery log, newest first", errors=(404,),
              description="One delivery per enrollment that reached the step: status, tries, last response code and body "
                          "excerpt, latency and error. Signed with the tenant's action secret (GET /api/webhooks/action-secret).",
              query_example={"status": "failed", "limit": 20, "offset": 0}, response_example=page(STEP_WEBHOOK_DELIVERY))
    async def list_step_webhook_deliveries(
        self, db: DbDep, campaign_id: FromPath[UUID], step_id: FromPath[UUID],
        status: FromQuery[WebhookDeliveryStatus | None] = None, limit: Limit = 20, offset: Offset = 0,
    ) -> StepWebhookDeliveryPage:
        params = {"campaign_id": campaign_id, "step_id": step_id, "status": status, "limit": limit, "offset": offset}
        result = await db.doc(Q_DELIVERIES, params, StepWebhookDeliveryPage)
        if result is None:
            raise not_found("step", step_id)
        return result
