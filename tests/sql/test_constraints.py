"""Bad values are refused by named constraints, so the service can map each refusal to a stable error."""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg
import pytest

from tests.support.factories import (
    insert, make_campaign, make_contact, make_enrollment, make_message, make_segment, make_step, make_tenant,
)


@pytest.fixture
def world(conn):
    """One tenant with a contact enrolled in a one-step campaign and a message for that step."""
    t = make_tenant(conn, "A")
    tid = t["tenant_id"]
    contact = make_contact(conn, tid)
    campaign = make_campaign(conn, tid, segment_id=make_segment(conn, tid, [contact]))
    step = make_step(conn, tid, campaign)
    enrollment = make_enrollment(conn, tid, campaign, contact)
    message = make_message(conn, tid, enrollment, step)
    return {**t, "contact": contact, "campaign": campaign, "step": step, "enrollment": enrollment, "message": message}


def refused(conn: psycopg.Connection, fn, *args, **kwargs) -> tuple[str, str | None]:
    """(SQLSTATE, constraint) of the error fn raises; the transaction is rolled back."""
    with pytest.raises(psycopg.Error) as e, conn.transaction():
        fn(conn, *args, **kwargs)
    return e.value.sqlstate, e.value.diag.constraint_name


# (what is inserted, column overrides, the constraint that must refuse it)
CHECKS = [
    ("campaign", {"status": "running"}, "ck_campaigns_status"),
    ("campaign", {"campaign_type": "spam"}, "ck_campaigns_type"),
    ("campaign", {"send_strategy": "later"}, "ck_campaigns_send_strategy"),
    ("contact", {"status": "deleted"}, "ck_contacts_status"),
    ("enrollment", {"status": "done"}, "ck_campaign_contacts_status"),
    ("step", {"step_type": "sms"}, "ck_campaign_steps_type"),
    ("step", {"step_type": "wait", "wait_duration_value": 0, "wait_duration_unit": "days"}, "ck_campaign_steps_wait"),
    # Both wait checks fail; PostgreSQL tests CHECK constraints in name order, so the first is reported.
    ("step", {"step_type": "wait", "wait_duration_value": 1, "wait_duration_unit": "months"}, "ck_campaign_steps_wait"),
    ("step", {"wait_duration_unit": "months"}, "ck_campaign_steps_wait_unit"),
    ("message", {"status": "lost"}, "ck_email_messages_status"),
    ("event", {"event_type": "view"}, "ck_email_events_type"),
    ("suppression", {"reason": "whatever"}, "ck_suppressions_reason"),
]


def _insert(conn, world, kind, cols):
    tid = world["tenant_id"]
    if kind == "campaign":
        return make_campaign(conn, tid, **cols)
    if kind == "contact":
        return make_contact(conn, tid, **cols)
    if kind == "enrollment":
        return make_enrollment(conn, tid, world["campaign"], make_contact(conn, tid), **cols)
    if kind == "step":
        return make_step(conn, tid, world["campaign"], **cols)
    if kind == "message":
        enrollment = make_enrollment(conn, tid, world["campaign"], make_contact(conn, tid))
        return make_message(conn, tid, enrollment, world["step"], **cols)
    if kind == "event":
        return insert(conn, "email_events", tenant_id=tid, message_id=world["message"], campaign_id=world["campaign"],
                      step_id=world["step"], contact_id=world["contact"], occurred_at=datetime.now(timezone.utc), **cols)
    if kind == "suppression":
        return insert(conn, "suppressions", tenant_id=tid, email="someone@example.com", **cols)
    raise AssertionError(kind)


@pytest.mark.parametrize(("kind", "cols", "constraint"), CHECKS, ids=[c for *_, c in CHECKS])
def test_check_constraints(conn, world, kind, cols, constraint):
    assert refused(conn, _insert, world, kind, cols) == ("23514", constraint)


@pytest.mark.parametrize(("kind", "cols"), [
    ("campaign", {"status": "paused", "campaign_type": "broadcast", "send_strategy": "optimized"}),
    ("contact", {"status": "bounced"}),
    ("enrollment", {"status": "active"}),
    ("step", {"step_type": "wait", "wait_duration_value": 2, "wait_duration_unit": "weeks"}),
    ("message", {"status": "cancelled"}),
    ("event", {"event_type": "click"}),
    ("suppression", {"reason": "hard_bounce"}),
])
def test_valid_values_pass_the_same_checks(conn, world, kind, cols):
    assert _insert(conn, world, kind, cols)


def test_unknown_timezone_is_refused(conn, world):
    assert refused(conn, make_contact, world["tenant_id"], timezone="Mars/Olympus") == ("23503", "fk_contacts_timezone")
    assert make_contact(conn, world["tenant_id"], timezone="America/New_York")


def test_contact_email_unique_per_tenant_ignoring_case(conn, world):
    make_contact(conn, world["tenant_id"], email="Jane@Example.com")
    assert refused(conn, make_contact, world["tenant_id"], email="jane@example.COM") == ("23505", "uq_contacts_tenant_email")
    other = make_tenant(conn, "B")["tenant_id"]
    assert make_contact(conn, other, email="jane@example.com")


def test_one_message_per_enrollment_and_step(conn, world):
    assert refused(conn, make_message, world["tenant_id"], world["enrollment"], world["step"]) == (
        "23505", "uq_email_messages_enrollment_step",
    )


def test_step_order_unique_in_campaign(conn, world):
    assert refused(conn, make_step, world["tenant_id"], world["campaign"], step_order=1) == ("23505", "uq_campaign_steps_order")
    # The same order in another campaign is fine.
    assert make_step(conn, world["tenant_id"], make_campaign(conn, world["tenant_id"]), step_order=1)
