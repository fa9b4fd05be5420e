"""The REST API under /api: every route requires `Authorization: Bearer <api key>` (the router's
guard) and gets the request's tenant-scoped transaction as the `db` dependency."""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from service.api.ab_tests import AbTestController
from service.api.activity import CampaignAlertController, ContactTimelineController
from service.api.approvals import ApprovalController, CampaignApprovalController
from service.api.auth import provide_db, release_request_transaction, require_api_key
from service.api.campaigns import CampaignController
from service.api.contacts import ContactController
from service.api.dead_letters import DeadLetterController
from service.api.enrollments import EnrollmentController
from service.api.events import EventController
from service.api.intake import IntakeController
from service.api.openapi import BEARER
from service.api.preview import PreviewController
from service.api.reports import ReportLinkController
from service.api.segments import SegmentController
from service.api.senders import SenderController
from service.api.step_webhooks import StepWebhookDeliveryController
from service.api.steps import StepController
from service.api.suppressions import SuppressionController
from service.api.templates import TemplateController
from service.api.usage import UsageController
from service.api.users import UserController
from service.api.webhooks import WebhookController

CONTROLLERS = [
    CampaignController, StepController, CampaignApprovalController, ApprovalController, ContactController,
    SegmentController, TemplateController, SenderController, SuppressionController, UserController,
    AbTestController, ReportLinkController, UsageController, IntakeController, ContactTimelineController,
    CampaignAlertController, WebhookController, DeadLetterController, EnrollmentController, EventController,
    StepWebhookDeliveryController, PreviewController,
]


def api_router() -> Router:
    return Router(
        path="/api",
        route_handlers=CONTROLLERS,
        guards=[require_api_key],
        middleware=[release_request_transaction],
        dependencies={"db": Provide(provide_db)},
        security=[{BEARER: []}],
    )
