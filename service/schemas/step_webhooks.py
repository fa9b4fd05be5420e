"""Structs of the webhook action step's API: its delivery log and the tenant's action secret
(service/api/step_webhooks.py, service/api/webhooks.py)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec

from service.schemas.common import JsonObject, Pagination
from service.schemas.steps import WebhookOnFailure
from service.schemas.webhooks import DeliveryOutcome


class StepWebhookDeliveryRead(DeliveryOutcome, kw_only=True):
    """One POST of a webhook action step for one enrollment, with its tries."""

    id: UUID
    step_id: UUID
    enrollment_id: UUID
    url: str
    on_failure: WebhookOnFailure
    event_id: Annotated[str, msgspec.Meta(description="The webhook-id header: the same for every try")]
    event_type: Literal["action.webhook"]
    payload: JsonObject


class StepWebhookDeliveryPage(msgspec.Struct):
    items: list[StepWebhookDeliveryRead]
    pagination: Pagination


class ActionSecret(msgspec.Struct, kw_only=True):
    secret: Annotated[str, msgspec.Meta(description="The secret (whsec_…) that signs the tenant's webhook action "
                                                    "deliveries (Standard Webhooks)")]
