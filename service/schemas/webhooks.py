"""Request and response Structs of the webhooks API (service/api/webhooks.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from service.schemas.common import UNSET, JsonObject, Pagination, ShortText, Unset

WebhookEventType = Literal[
    "message.sent", "message.delivered", "message.opened", "message.clicked", "message.replied", "message.bounced",
    "message.complained", "message.unsubscribed", "enrollment.started", "enrollment.completed", "enrollment.exited",
    "campaign.launched", "campaign.paused", "campaign.completed", "ab_test.decided",
]
WebhookDeliveryStatus = Literal["queued", "sending", "delivered", "failed"]

WebhookUrl = Annotated[str, msgspec.Meta(min_length=8, max_length=2048, pattern=r"^https?://[^/?#\s]+\S*$",
                                         description="http or https; the host must be public unless the operator allows it",
                                         examples=["https://hooks.example.com/campaigns"])]
EventTypes = Annotated[list[WebhookEventType], msgspec.Meta(min_length=1, max_length=32)]


class WebhookCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: WebhookUrl
    event_types: EventTypes
    description: ShortText | None = None


class WebhookUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: WebhookUrl | Unset = UNSET
    event_types: EventTypes | Unset = UNSET
    description: ShortText | None | Unset = UNSET
    enabled: Annotated[bool, msgspec.Meta(description="true again after an automatic disable, once the receiver is fixed")] | Unset = UNSET


class WebhookRead(msgspec.Struct, kw_only=True):
    id: UUID
    url: str
    event_types: list[WebhookEventType]
    description: str | None
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: Annotated[str | None, msgspec.Meta(description="Why it is disabled: by a user, or failing for 3 days")]
    failing_since: Annotated[datetime | None, msgspec.Meta(description="Start of the current run of failed deliveries")]
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead, kw_only=True):
    secret: Annotated[str, msgspec.Meta(description="The signing secret (whsec_…), shown only in this response")]


class WebhookPage(msgspec.Struct):
    items: list[WebhookRead]
    pagination: Pagination


class DeliveryOutcome(msgspec.Struct, kw_only=True):
    """Where a webhook delivery stands: tries, the last answer, and when it was settled."""

    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: datetime
    response_status: int | None
    response_body: Annotated[str | None, msgspec.Meta(description="The first 2,000 characters of the last response")]
    latency_ms: int | None
    last_error: str | None
    created_at: datetime
    expires_at: datetime
    delivered_at: datetime | None
    failed_at: datetime | None


class WebhookDeliveryRead(DeliveryOutcome, kw_only=True):
    id: UUID
    subscription_id: UUID
    event_id: Annotated[str, msgspec.Meta(description="The webhook-id header: the same for every try and redelivery")]
    event_type: WebhookEventType
    payload: JsonObject


class WebhookDeliveryPage(msgspec.Struct):
    items: list[WebhookDeliveryRead]
    pagination: Pagination
