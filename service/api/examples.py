"""Example documents for the OpenAPI description (and the route-table tests, which call every route
with its examples). Each one is a valid instance of the response Struct it illustrates."""

from __future__ import annotations

from typing import Any

TENANT_ID = "0b8e5f1c-3d57-4f63-9a51-2f0f6d1c9e10"
USER_ID = "5d0f3a77-2c1b-4a7e-8c3e-6b7f1d2a9c40"
CAMPAIGN_ID = "7f3c2a10-5b8e-4d1f-9c6a-1e2d3f4a5b60"
SEGMENT_ID = "c4b2a1d0-9e8f-4a7b-8c6d-5e4f3a2b1c00"
STEP_ID = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c61"
STEP2_ID = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c62"
STEP3_ID = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c63"
CONTACT_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c60"
ENROLLMENT_ID = "2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d90"
TEMPLATE_ID = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e60"
SENDER_ID = "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f70"
SUPPRESSION_ID = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a80"
APPROVAL_ID = "6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a8b90"
API_KEY_ID = "8b9c0d1e-2f3a-4b4c-8d5e-6f7a8b9c0d10"
MESSAGE_ID = "019b1f2e-3d4c-7b5a-8f6e-7d8c9b0a1f20"
WEBHOOK_ID = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e40"
WEBHOOK_DELIVERY_ID = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e41"
NOW = "2030-03-01T09:00:00+00:00"

CAMPAIGN: dict[str, Any] = {
    "id": CAMPAIGN_ID, "workspace_id": None, "name": "Spring launch", "description": None, "campaign_type": "drip",
    "status": "draft", "segment_id": SEGMENT_ID, "sender_account_id": None, "total_contacts": 0, "from_email": None,
    "from_name": None, "reply_to_email": None, "start_date": None, "end_date": None, "timezone": "Europe/Paris",
    "send_strategy": "immediate", "track_opens": True, "track_clicks": True, "unsubscribe_enabled": True,
    "daily_limit": 200, "sending_days": [1, 2, 3, 4, 5], "sending_window_start": "09:00:00",
    "sending_window_end": "17:00:00", "window_missed_action": "wait", "on_reply": "exit", "requires_approval": False,
    "is_promotional": False, "refresh_audience": False, "reentry": "once", "scheduled_at": None, "schedule_error": None,
    "created_by": USER_ID, "created_at": NOW, "updated_at": NOW, "launched_at": None, "completed_at": None,
}

_COUNTERS = {"emails_sent": 0, "emails_delivered": 0, "opens": 0, "clicks": 0, "replies": 0, "unsubscribes": 0, "bounces": 0}

STEP: dict[str, Any] = {
    "id": STEP_ID, "campaign_id": CAMPAIGN_ID, "step_order": 1, "step_name": "Welcome", "step_type": "email",
    "template_id": None, "subject_line": "Hello {{ first_name | default: \"there\" }}",
    "email_content": "<p>Hi {{ first_name }}, welcome aboard.</p>", "wait_duration_value": None,
    "wait_duration_unit": None, "condition_rules": None, "email_step_id": None, "true_next_step_id": None,
    "false_next_step_id": None, "action_type": None, "action_config": {}, "next_step_id": STEP2_ID,
    **_COUNTERS, "created_at": NOW, "updated_at": NOW,
}
WAIT_STEP: dict[str, Any] = STEP | {
    "id": STEP2_ID, "step_order": 2, "step_name": "Wait 2 days", "step_type": "wait", "subject_line": None,
    "email_content": None, "wait_duration_value": 2, "wait_duration_unit": "days", "next_step_id": STEP3_ID,
}
FOLLOW_UP_STEP: dict[str, Any] = STEP | {
    "id": STEP3_ID, "step_order": 3, "step_name": "Follow-up", "subject_line": "Did you see this?",
    "email_content": "<p>Just checking in.</p>", "next_step_id": None,
}

ANALYTICS_ROW: dict[str, Any] = {
    "id": "aa1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c40", "campaign_id": CAMPAIGN_ID, "date": "2030-03-01",
    "emails_sent": 5000, "emails_delivered": 4900, "emails_bounced": 100, "unique_opens": 1470, "total_opens": 2100,
    "unique_clicks": 245, "total_clicks": 300, "replies": 49, "spam_complaints": 5, "unsubscribes": 12,
    "delivery_rate": 98.0, "open_rate": 30.0, "click_rate": 5.0, "click_to_open_rate": 16.67, "reply_rate": 1.0,
    "unsubscribe_rate": 0.24, "bounce_rate": 2.0, "complaint_rate": 0.1, "calculated_at": "2030-03-02T02:00:00+00:00",
}

ENROLLMENT: dict[str, Any] = {
    "id": ENROLLMENT_ID, "campaign_id": CAMPAIGN_ID, "contact_id": CONTACT_ID, "email": "ada@example.com",
    "first_name": "Ada", "last_name": "Lovelace", "status": "active", "pause_reason": None, "current_step_id": STEP2_ID,
    "enrolled_at": NOW, "started_at": NOW, "completed_at": None, "exited_at": None, "exit_reason": None,
    "steps_completed": 1, "last_email_sent_at": NOW, "next_email_scheduled_at": "2030-03-03T09:00:00+00:00",
    "updated_at": NOW,
}

CONTACT: dict[str, Any] = {
    "id": CONTACT_ID, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
    "company": "Analytical Engines", "job_title": "Engineer", "city": "London", "state": None, "country": "GB",
    "timezone": "Europe/London", "custom_fields": {"industry": "SaaS"}, "score": 42, "status": "active",
    "tags": ["newsletter", "vip"], "created_at": NOW, "updated_at": NOW,
}

SEGMENT_RULES: dict[str, Any] = {
    "match": "all",
    "groups": [
        {"match": "any", "conditions": [
            {"field": "customField.industry", "operator": "equals", "value": "SaaS"},
            {"field": "score", "operator": "greater_than", "value": 50},
        ]},
        {"match": "all", "conditions": [{"field": "country", "operator": "in", "value": ["GB", "IE"]}]},
    ],
    "exclusions": [{"field": "tags", "operator": "contains", "value": "customer"}, "in_active_campaign"],
}

SEGMENT: dict[str, Any] = {
    "id": SEGMENT_ID, "workspace_id": None, "name": "UK SaaS leads", "description": None, "segment_type": "dynamic",
    "rules": SEGMENT_RULES, "contact_count": 1250, "last_recalculated_at": NOW, "is_active": True,
    "created_by": USER_ID, "created_at": NOW, "updated_at": NOW,
}

TEMPLATE: dict[str, Any] = {
    "id": TEMPLATE_ID, "workspace_id": None, "name": "Welcome", "subject": "Welcome, {{ first_name | default: \"friend\" }}",
    "html_content": "<p>Hi {{ first_name }},</p>{% if company %}<p>Greetings to {{ company }}.</p>{% endif %}",
    "text_content": "Hi {{ first_name }}", "created_by": USER_ID, "created_at": NOW, "updated_at": NOW,
}

SENDER: dict[str, Any] = {
    "id": SENDER_ID, "workspace_id": None, "from_email": "hello@example.com", "from_name": "Example Team",
    "reply_to_email": "replies@example.com", "daily_limit": 50, "min_gap_seconds": 120, "is_active": True, "retry_lifetime_seconds": None,
    "created_at": NOW, "updated_at": NOW,
}

SUPPRESSION: dict[str, Any] = {
    "id": SUPPRESSION_ID, "email": "no-more@example.com", "reason": "manual", "source": "api", "added_by": USER_ID,
    "added_at": NOW, "expires_at": None,
}

WEBHOOK: dict[str, Any] = {"id": WEBHOOK_ID, "url": "https://hooks.example.com/campaigns", "event_types": ["message.bounced", "message.replied"],
           "description": "CRM sync", "enabled": True, "disabled_at": None, "disabled_reason": None, "failing_since": None,
           "created_at": NOW, "updated_at": NOW}
WEBHOOK_DELIVERY: dict[str, Any] = {"id": WEBHOOK_DELIVERY_ID, "subscription_id": WEBHOOK_ID, "event_id": "evt_019b1f2e3d4c7b5a8f6e7d8c9b0a1f21",
            "event_type": "message.replied",
            "payload": {"type": "message.replied", "timestamp": NOW, "data": {"message_id": MESSAGE_ID}},
            "status": "delivered", "attempts": 1, "next_attempt_at": NOW, "response_status": 204, "response_body": "",
            "latency_ms": 38, "last_error": None, "created_at": NOW, "expires_at": "2030-03-04T09:00:00+00:00",
            "delivered_at": NOW, "failed_at": None}

DEAD_LETTER: dict[str, Any] = {
    "message_id": MESSAGE_ID, "campaign_id": CAMPAIGN_ID, "campaign_name": "Spring launch", "step_id": STEP_ID,
    "step_name": "Welcome", "step_order": 1, "enrollment_id": ENROLLMENT_ID, "contact_id": CONTACT_ID,
    "to_email": "ada@example.com", "failure_kind": "retry_lifetime_expired", "attempts": 14, "lease_reclaims": 0,
    "last_error": "retry lifetime (2 days) expired: 451 4.7.1 Greylisted, try again later",
    "last_smtp_reply": "451 4.7.1 Greylisted, try again later", "queued_at": NOW, "failed_at": "2030-03-03T09:00:00+00:00",
}

APPROVAL: dict[str, Any] = {
    "id": APPROVAL_ID, "campaign_id": CAMPAIGN_ID, "approver_id": USER_ID, "approval_role": "campaign_manager",
    "status": "pending", "round": 1, "comments": None, "requested_by": USER_ID, "requested_at": NOW, "reviewed_at": None,
}

USER: dict[str, Any] = {
    "id": USER_ID, "email": "manager@example.com", "name": "Grace", "role": "member", "created_at": NOW, "updated_at": NOW,
}

API_KEY: dict[str, Any] = {
    "id": API_KEY_ID, "user_id": USER_ID, "name": "ci", "key_prefix": "ck_3f9a1b2c", "created_at": NOW,
    "last_used_at": None, "revoked_at": None,
}


def page(*items: dict[str, Any]) -> dict[str, Any]:
    return {"items": list(items), "pagination": {"total": len(items), "limit": 20, "offset": 0, "has_more": False}}


def campaign_detail_example() -> dict[str, Any]:
    return {"campaign": CAMPAIGN | {"status": "active", "total_contacts": 1250, "launched_at": NOW},
            "steps": [STEP, WAIT_STEP, FOLLOW_UP_STEP], "analytics": ANALYTICS_ROW}


def analytics_example() -> dict[str, Any]:
    summary = {k: ANALYTICS_ROW[k] for k in (
        "emails_sent", "emails_delivered", "emails_bounced", "unique_opens", "total_opens", "unique_clicks",
        "total_clicks", "replies", "spam_complaints", "unsubscribes", "delivery_rate", "open_rate", "click_rate",
        "click_to_open_rate", "reply_rate", "unsubscribe_rate", "bounce_rate", "complaint_rate")}
    period = {k: ANALYTICS_ROW[k] for k in (
        "emails_sent", "emails_delivered", "emails_bounced", "unique_opens", "unique_clicks", "replies", "unsubscribes")}
    step = {"step_id": STEP_ID, "step_order": 1, "step_name": "Welcome", "step_type": "email", "emails_sent": 5000,
            "emails_delivered": 4900, "opens": 1470, "clicks": 245, "replies": 49, "unsubscribes": 12, "bounces": 100,
            "open_rate": 30.0, "click_rate": 5.0, "reply_rate": 1.0}
    return {"campaign_id": CAMPAIGN_ID, "start_date": "2030-03-01", "end_date": "2030-03-31", "group_by": "week",
            "summary": summary, "overall": [ANALYTICS_ROW], "time_series": [{"period_start": "2030-02-25", **period}],
            "byStep": [step]}
