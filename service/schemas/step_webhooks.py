"""Structs of the webhook action step's API: its delivery log and the tenant's action secret
(service/api/step_webhooks.py, service/api/webhooks.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from service.schemas.common import JsonObject, Pagination
from service.schemas.steps import WebhookOnFailure
from service.schemas.webhooks import WebhookDeliveryStatus


class StepWebhookDeliveryRead(msgspec.Struct, kw_only=True):
    """One POST of a webhook action step for one enrollment, with its tries."""

    id: UUID
    step_id: UUID
    enrollment_id: UUID
    url: str
    on_failure: WebhookOnFailure
    event_id: Annotated[str, msgspec.Meta(description="The webhook-id header: the same for every try")]
    event_type: Literal["action.webhook"]
    payload: JsonObject
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


class StepWebhookDeliveryPage(msgspec.Struct):
    items: list[StepWebhookDeliveryRead]
    pagination: Pagination


class ActionSecret(msgspec.Struct, kw_only=True):
    secret: Annotated[str, msgspec.Meta(description="The secret (whsec_…) that signs the tenant's webhook action "
                                                    "deliveries (Standard Webhooks)")]
