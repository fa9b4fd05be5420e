"""Activity: what happened to one contact (its timeline: enrollments, messages, email events) and
why a campaign was auto-paused (its alerts). Read-only; campaigns.contact_timeline is the SQL."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller
from litestar.params import FromPath

from service.api.common import DbDep, Limit, Offset, endpoint, not_found, page_query
from service.api.examples import CAMPAIGN_ID, ENROLLMENT_ID, MESSAGE_ID, NOW, STEP_ID, page
from service.schemas.activity import AlertPage, TimelinePage

Q_TIMELINE = page_query(
    source="campaigns.contact_timeline(%(contact_id)s)",
    where="true",
    # An email event and its message can share a time: the event (the later fact) first.
    order="x.occurred_at DESC, CASE x.kind WHEN 'email_event' THEN 0 WHEN 'message' THEN 1 ELSE 2 END, "
          "x.message_id, x.event_type",
    doc="to_jsonb(x)",
    guard="EXISTS (SELECT FROM campaigns.contacts c WHERE c.id = %(contact_id)s)",
)
Q_ALERTS = page_query(
    source="campaigns.campaign_alerts",
    where="x.campaign_id = %(campaign_id)s",
    order="x.raised_at DESC, x.id",
    doc="to_jsonb(x) - 'tenant_id'",
    guard="EXISTS (SELECT FROM campaigns.campaigns c WHERE c.id = %(campaign_id)s)",
)

_ITEM = {"campaign_id": CAMPAIGN_ID, "campaign_name": "Spring launch", "enrollment_id": ENROLLMENT_ID,
         "step_id": STEP_ID, "message_id": None, "status": None, "exit_reason": None, "ended_at": None, "subject": None,
         "sent_at": None, "smtp_reply": None, "last_error": None, "event_type": None}
TIMELINE_EXAMPLE = page(
    _ITEM | {"occurred_at": "2030-03-01T09:05:00+00:00", "kind": "email_event", "message_id": MESSAGE_ID,
             "event_type": "open"},
    _ITEM | {"occurred_at": "2030-03-01T09:00:05+00:00", "kind": "message", "message_id": MESSAGE_ID, "status": "sent",
             "subject": "Welcome, Ada", "sent_at": "2030-03-01T09:00:06+00:00", "smtp_reply": "250 2.0.0 Ok: queued"},
    _ITEM | {"occurred_at": NOW, "kind": "enrollment", "status": "active"},
)
ALERT_EXAMPLE = {"id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c40", "campaign_id": CAMPAIGN_ID, "kind": "bounce_rate",
                 "value": 6.5, "threshold": 5.0, "action_taken": "paused", "raised_at": NOW}


class ContactTimelineController(Controller):
    path = "/contacts"
    tags = ["contacts"]

    @endpoint("GET", "/{contact_id:uuid}/timeline", operation_id="getContactTimeline",
              summary="A contact's history: enrollments, messages and email events, newest first",
              description="Each item has a kind (enrollment, message, email_event) and the fields of that kind: an "
                          "enrollment's status and how it ended, a message's status, subject, send time and the "
                          "relay's last reply, an email event's type.",
              query_example={"limit": 20, "offset": 0}, response_example=TIMELINE_EXAMPLE)
    async def get_contact_timeline(self, db: DbDep, contact_id: FromPath[UUID], limit: Limit = 20,
                                   offset: Offset = 0) -> TimelinePage:
        result = await db.doc(Q_TIMELINE, {"contact_id": contact_id, "limit": limit, "offset": offset}, TimelinePage)
        if result is None:
            raise not_found("contact", contact_id)
        return result


class CampaignAlertController(Controller):
    path = "/campaigns"
    tags = ["campaigns"]

    @endpoint("GET", "/{campaign_id:uuid}/alerts", operation_id="listCampaignAlerts",
              summary="A campaign's deliverability alerts, newest first",
              description="Raised when the campaign's bounce or complaint rate crossed the tenant's threshold; "
                          "action_taken paused means the campaign was auto-paused because of it.",
              query_example={"limit": 20, "offset": 0}, response_example=page(ALERT_EXAMPLE))
    async def list_campaign_alerts(self, db: DbDep, campaign_id: FromPath[UUID], limit: Limit = 20,
                                   offset: Offset = 0) -> AlertPage:
        result = await db.doc(Q_ALERTS, {"campaign_id": campaign_id, "limit": limit, "offset": offset}, AlertPage)
        if result is None:
            raise not_found("campaign", campaign_id)
        return result
