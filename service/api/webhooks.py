"""Webhook subscriptions and their delivery log: subscribe a URL to event types (the signing secret
is shown once, at creation), change or disable it, list its deliveries (status, response code,
latency) and redeliver one; and the tenant's action secret, which signs webhook action steps'
deliveries (read and rotated by an admin). The events, retries and auto-disable are SQL
(db/functions/8*_webhook_*.sql); the target check is service.webhooks.targets."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller
from litestar.params import FromPath, FromQuery, JSONBody

from service.api.common import DbDep, Limit, Offset, encode, endpoint, not_found, one, page_query
from service.api.examples import NOW, WEBHOOK, WEBHOOK_DELIVERY, page
from service.config import get_settings
from service.errors import ApiError
from service.schemas.step_webhooks import ActionSecret
from service.schemas.webhooks import (
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryPage,
    WebhookDeliveryRead,
    WebhookDeliveryStatus,
    WebhookEventType,
    WebhookPage,
    WebhookRead,
    WebhookUpdate,
)
from service.webhooks.targets import check_target, parse_networks

WEBHOOK_DOC = "to_jsonb(w) - 'tenant_id' - 'secret'"
DELIVERY_DOC = "to_jsonb(x) - 'tenant_id' - 'lease_expires_at' - 'locked_by'"
Q_CREATE = "SELECT to_jsonb(w) - 'tenant_id' FROM campaigns.create_webhook_subscription(%s, %s, %s) w"
Q_UPDATE = f"SELECT {WEBHOOK_DOC} FROM campaigns.update_webhook_subscription(%s, %s::jsonb) w"
Q_GET = f"SELECT {WEBHOOK_DOC} FROM campaigns.webhook_subscriptions w WHERE w.id = %s"
Q_DELETE = "DELETE FROM campaigns.webhook_subscriptions WHERE id = %s"
Q_LIST = page_query(source="campaigns.webhook_subscriptions", where="true", order="x.created_at DESC, x.id",
                    doc="to_jsonb(x) - 'tenant_id' - 'secret'")
Q_DELIVERIES = page_query(
    source="campaigns.webhook_deliveries",
    where="x.subscription_id = %(subscription_id)s AND (%(status)s::text IS NULL OR x.status = %(status)s::text)"
          " AND (%(event_type)s::text IS NULL OR x.event_type = %(event_type)s::text)",
    order="x.created_at DESC, x.id",
    doc=DELIVERY_DOC,
    guard="EXISTS (SELECT FROM campaigns.webhook_subscriptions w WHERE w.id = %(subscription_id)s)",
)
Q_ACTION_SECRET = "SELECT jsonb_build_object('secret', campaigns.webhook_action_secret())"
Q_ROTATE_ACTION_SECRET = "SELECT jsonb_build_object('secret', campaigns.rotate_webhook_action_secret())"
Q_REDELIVER = f"""
    SELECT {DELIVERY_DOC} FROM campaigns.redeliver_webhook(
        (SELECT d.id FROM campaigns.webhook_deliveries d WHERE d.id = %(delivery_id)s AND d.subscription_id = %(subscription_id)s)) x"""

async def check_webhook_target(url: str) -> None:
    """The save-time target check of subscriptions and webhook action steps (the sender checks again
    before every delivery): 422 WEBHOOK_TARGET_NOT_ALLOWED for an internal address."""
    try:
        await check_target(url, parse_networks(get_settings().webhooks.allowed_networks), unresolvable_ok=True)
    except ValueError as exc:  # TargetNotAllowed, or a URL whose host or port does not parse
        raise ApiError(422, "WEBHOOK_TARGET_NOT_ALLOWED", "The webhook target is not a public address", str(exc)) from exc


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]

    @endpoint("POST", "/", operation_id="createWebhook", summary="Subscribe a URL to events", errors=(422,),
              description="Deliveries are POSTed as JSON `{type, timestamp, data}`, signed to the Standard Webhooks "
                          "specification (`webhook-id`, `webhook-timestamp`, `webhook-signature` with the returned "
                          "`secret`, shown only here). A target that is or resolves to a loopback, private or "
                          "link-local address is refused (WEBHOOK_TARGET_NOT_ALLOWED) unless the operator allows it.",
              request_example={"url": "https://hooks.example.com/campaigns", "event_types": ["message.bounced", "message.replied"],
                               "description": "CRM sync"},
              response_example=WEBHOOK | {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw6A0ZIUabmgs="})
    async def create_webhook(self, db: DbDep, data: JSONBody[WebhookCreate]) -> WebhookCreated:
        await check_webhook_target(data.url)
        return await one(db, Q_CREATE, (data.url, list(data.event_types), data.description), WebhookCreated, "webhook", "new")

    @endpoint("GET", "/", operation_id="listWebhooks", summary="List the tenant's webhook subscriptions",
              query_example={"limit": 20, "offset": 0}, response_example=page(WEBHOOK))
    async def list_webhooks(self, db: DbDep, limit: Limit = 20, offset: Offset = 0) -> WebhookPage:
        return await db.doc(Q_LIST, {"limit": limit, "offset": offset}, WebhookPage)  # type: ignore[return-value]

    @endpoint("GET", "/{webhook_id:uuid}", operation_id="getWebhook", summary="One webhook subscription",
              response_example=WEBHOOK)
    async def get_webhook(self, db: DbDep, webhook_id: FromPath[UUID]) -> WebhookRead:
        return await one(db, Q_GET, (webhook_id,), WebhookRead, "webhook", webhook_id)

    @endpoint("PATCH", "/{webhook_id:uuid}", operation_id="updateWebhook", summary="Change or disable a webhook subscription",
              errors=(422,), description="`enabled: true` turns a subscription on again after an automatic disable "
                                         "(3 days of failed deliveries) and clears its reason.",
              request_example={"enabled": False}, response_example=WEBHOOK | {"enabled": False, "disabled_at": NOW,
                                                                               "disabled_reason": "disabled by a user"})
    async def update_webhook(self, db: DbDep, webhook_id: FromPath[UUID], data: JSONBody[WebhookUpdate]) -> WebhookRead:
        if isinstance(data.url, str):
            await check_webhook_target(data.url)
        return await one(db, Q_UPDATE, (webhook_id, encode(data)), WebhookRead, "webhook", webhook_id)

    @endpoint("DELETE", "/{webhook_id:uuid}", operation_id="deleteWebhook", summary="Delete a webhook subscription",
              description="Its deliveries, sent or not, go with it.")
    async def delete_webhook(self, db: DbDep, webhook_id: FromPath[UUID]) -> None:
        if await db.execute(Q_DELETE, (webhook_id,)) == 0:
            raise not_found("webhook", webhook_id)

    @endpoint("GET", "/{webhook_id:uuid}/deliveries", operation_id="listWebhookDeliveries",
              summary="A subscription's delivery log, newest first",
              description="Each delivery's status, tries, last response code and body excerpt, latency and error.",
              query_example={"status": "failed", "limit": 20, "offset": 0}, response_example=page(WEBHOOK_DELIVERY))
    async def list_webhook_deliveries(
        self, db: DbDep, webhook_id: FromPath[UUID], status: FromQuery[WebhookDeliveryStatus | None] = None,
        event_type: FromQuery[WebhookEventType | None] = None, limit: Limit = 20, offset: Offset = 0,
    ) -> WebhookDeliveryPage:
        params = {"subscription_id": webhook_id, "status": status, "event_type": event_type, "limit": limit, "offset": offset}
        result = await db.doc(Q_DELIVERIES, params, WebhookDeliveryPage)
        if result is None:
            raise not_found("webhook", webhook_id)
        return result

    @endpoint("POST", "/{webhook_id:uuid}/deliveries/{delivery_id:uuid}/redeliver", operation_id="redeliverWebhook",
              summary="Send a delivery's event again", errors=(409,),
              description="A new delivery of the same event (same webhook-id, so the receiver can tell a repeat), due "
                          "now, with 3 days of retries. INVALID_STATE_TRANSITION while the subscription is disabled.",
              response_example=WEBHOOK_DELIVERY | {"status": "queued", "attempts": 0, "response_status": None, "latency_ms": None,
                                           "delivered_at": None})
    async def redeliver_webhook(self, db: DbDep, webhook_id: FromPath[UUID], delivery_id: FromPath[UUID]) -> WebhookDeliveryRead:
        return await one(db, Q_REDELIVER, {"delivery_id": delivery_id, "subscription_id": webhook_id}, WebhookDeliveryRead,
                         "webhook delivery", delivery_id)

    @endpoint("GET", "/action-secret", operation_id="getWebhookActionSecret", summary="The tenant's webhook action secret",
              errors=(403,), description="The Standard Webhooks secret (whsec_…) that signs the deliveries of the tenant's "
                                         "webhook action steps, which have no subscription. Admins only (FORBIDDEN).",
              response_example={"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw6A0ZIUabmgs="})
    async def get_action_secret(self, db: DbDep) -> ActionSecret:
        return await one(db, Q_ACTION_SECRET, None, ActionSecret, "tenant", "current")

    @endpoint("POST", "/action-secret/rotate", operation_id="rotateWebhookActionSecret", summary="Replace the webhook action secret",
              errors=(403,), status_code=200,
              description="A new secret signs every try from now on, of queued deliveries too; receivers must switch to it. "
                          "Admins only (FORBIDDEN).",
              response_example={"secret": "whsec_Yp3cVq0bqR1m7tZ8xKJ4u9WfH2nL6sDgA5eQiOoTrMc="})
    async def rotate_action_secret(self, db: DbDep) -> ActionSecret:
        return await one(db, Q_ROTATE_ACTION_SECRET, None, ActionSecret, "tenant", "current")
