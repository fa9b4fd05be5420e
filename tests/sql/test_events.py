"""campaigns.record_email_event: tracked events folded into messages and step counters, and their
consequences (reply, unsubscribe, bounces, complaint) for contacts, suppressions and enrollments."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.support.factories import (
    make_campaign, make_contact, make_enrollment, make_message, make_segment, make_step, make_tenant,
)
from tests.support.waits import wait_until_blocked

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)


# -- helpers ------------------------------------------------------------------------------------


def active_campaign(conn, tenant_id: UUID, **cols: Any) -> tuple[UUID, UUID]:
    """An active campaign launched a day before T0 with one email step: (campaign_id, step_id)."""
    cols.setdefault("status", "active")
    cols.setdefault("launched_at", T0 - timedelta(days=1))
    campaign_id = make_campaign(conn, tenant_id, **cols)
    return campaign_id, make_step(conn, tenant_id, campaign_id)


def enroll(conn, tenant_id: UUID, campaign_id: UUID, contact_id: UUID, **cols: Any) -> UUID:
    cols.setdefault("status", "active")
    if cols["status"] != "enrolled":
        cols.setdefault("started_at", T0 - timedelta(days=1))
    if cols["status"] == "paused":
        cols.setdefault("pause_reason", "campaign")
    return make_enrollment(conn, tenant_id, campaign_id, contact_id, next_email_scheduled_at=T0 + timedelta(days=2), **cols)


def sent(conn, tenant_id: UUID, enrollment_id: UUID, step_id: UUID) -> UUID:
    return make_message(conn, tenant_id, enrollment_id, step_id, status="sent", sent_at=T0 - timedelta(hours=1))


def queued(conn, tenant_id: UUID, enrollment_id: UUID, step_id: UUID) -> UUID:
    return make_message(conn, tenant_id, enrollment_id, step_id)


def record(conn, message_id: UUID, event_type: str, at: datetime = T0, details: dict | None = None) -> bool:
    return conn.execute(
        "SELECT campaigns.record_email_event(%s, %s, %s, %s)", (message_id, event_type, at, Jsonb(details or {}))
    ).fetchone()[0]


def one(conn, query: str, *params: Any) -> Any:
    row = conn.execute(query, params).fetchone()
    return row if row is None or len(row) > 1 else row[0]


def message(conn, message_id: UUID) -> dict[str, Any]:
    cur = conn.execute("SELECT * FROM campaigns.email_messages WHERE id = %s", (message_id,))
    return dict(zip([d.name for d in cur.description], cur.fetchone()))


def step_counters(conn, step_id: UUID) -> dict[str, int]:
    cur = conn.execute(
        "SELECT emails_sent, emails_delivered, opens, clicks, replies, unsubscribes, bounces "
        "FROM campaigns.campaign_steps WHERE id = %s", (step_id,))
    return dict(zip([d.name for d in cur.description], cur.fetchone()))


def enrollment(conn, enrollment_id: UUID) -> tuple:
    return one(conn, "SELECT status, exit_reason, exited_at, pause_reason FROM campaigns.campaign_contacts WHERE id = %s",
               enrollment_id)


def enrolled_contacts(conn, campaign_id: UUID) -> set[UUID]:
    return {r[0] for r in conn.execute("SELECT contact_id FROM campaigns.campaign_contacts WHERE campaign_id = %s",
                                       (campaign_id,))}


@pytest.fixture
def world(conn):
    """One tenant, an active campaign with one email step, a contact with an active enrollment and a sent message."""
    t = make_tenant(conn)["tenant_id"]
    campaign, step = active_campaign(conn, t)
    contact = make_contact(conn, t)
    enr = enroll(conn, t, campaign, contact)
    return {"t": t, "campaign": campaign, "step": step, "contact": contact, "enrollment": enr,
            "message": sent(conn, t, enr, step)}


# -- opens, clicks, delivery ----------------------------------------------------------------------


def test_open_sets_first_open_once_and_counts_every_open(conn, world):
    m = world["message"]
    assert record(conn, m, "open", T0) is True
    assert record(conn, m, "open", T0 + timedelta(minutes=5)) is True
    assert record(conn, m, "open", T0 + timedelta(hours=3)) is True
    row = message(conn, m)
    assert row["first_opened_at"] == T0
    assert row["open_count"] == 3
    assert row["first_clicked_at"] is None and row["click_count"] == 0
    assert step_counters(conn, world["step"])["opens"] == 1
    assert one(conn, "SELECT count(*) FROM campaigns.email_events WHERE message_id = %s AND event_type = 'open'", m) == 3


def test_first_open_of_each_message_counts_once_per_message(conn, world):
    t = world["t"]
    other = sent(conn, t, enroll(conn, t, world["campaign"], make_contact(conn, t)), world["step"])
    for m in (world["message"], other, world["message"], other):
        record(conn, m, "open")
    assert step_counters(conn, world["step"])["opens"] == 2


def test_click_counts_unique_clicks_and_implies_an_open(conn, world):
    m, step = world["message"], world["step"]
    assert record(conn, m, "click", T0) is True
    row = message(conn, m)
    assert (row["first_opened_at"], row["first_clicked_at"], row["click_count"]) == (T0, T0, 1)
    assert (step_counters(conn, step)["opens"], step_counters(conn, step)["clicks"]) == (1, 1)

    record(conn, m, "click", T0 + timedelta(minutes=1))
    record(conn, m, "open", T0 + timedelta(minutes=2))
    row = message(conn, m)
    assert (row["first_opened_at"], row["first_clicked_at"]) == (T0, T0)
    assert (row["open_count"], row["click_count"]) == (1, 2)
    assert (step_counters(conn, step)["opens"], step_counters(conn, step)["clicks"]) == (1, 1)


def test_click_after_open_counts_one_open_and_one_click(conn, world):
    m, step = world["message"], world["step"]
    record(conn, m, "open", T0)
    record(conn, m, "click", T0 + timedelta(minutes=1))
    row = message(conn, m)
    assert (row["first_opened_at"], row["first_clicked_at"]) == (T0, T0 + timedelta(minutes=1))
    assert (step_counters(conn, step)["opens"], step_counters(conn, step)["clicks"]) == (1, 1)


def test_an_earlier_open_recorded_late_becomes_the_first_open(conn, world):
    m = world["message"]
    record(conn, m, "open", T0 + timedelta(days=1))
    record(conn, m, "open", T0)  # happened first, reported last
    row = message(conn, m)
    assert (row["first_opened_at"], row["open_count"]) == (T0, 2)
    assert step_counters(conn, world["step"])["opens"] == 1


def test_repeated_provider_event_returns_false_and_changes_nothing(conn, world):
    m, step = world["message"], world["step"]
    assert record(conn, m, "open", T0, {"provider_event_id": "evt-1"}) is True
    before = (message(conn, m), step_counters(conn, step))
    assert record(conn, m, "open", T0 + timedelta(minutes=1), {"provider_event_id": "evt-1"}) is False
    assert (message(conn, m), step_counters(conn, step)) == before
    assert one(conn, "SELECT count(*) FROM campaigns.email_events WHERE message_id = %s", m) == 1
    # Another provider id is another event.
    assert record(conn, m, "open", T0 + timedelta(minutes=2), {"provider_event_id": "evt-2"}) is True
    assert message(conn, m)["open_count"] == 2


def test_repeated_provider_click_counts_once(conn, world):
    m = world["message"]
    assert record(conn, m, "click", T0, {"provider_event_id": "x"}) is True
    assert record(conn, m, "click", T0, {"provider_event_id": "x"}) is False
    assert message(conn, m)["click_count"] == 1


def test_events_without_provider_id_each_count(conn, world):
    m = world["message"]
    assert record(conn, m, "open", T0) is True
    assert record(conn, m, "open", T0) is True
    assert message(conn, m)["open_count"] == 2
    assert one(conn, "SELECT count(*) FROM campaigns.email_events WHERE message_id = %s", m) == 2


@pytest.mark.parametrize("event_type", ["bounce", "opened", "OPEN", "", None])
def test_unknown_event_type_is_qc401(conn, world, event_type):
    with pytest.raises(psycopg.Error) as exc:
        record(conn, world["message"], event_type)
    assert exc.value.sqlstate == "QC401"
    assert one(conn, "SELECT count(*) FROM campaigns.email_events") == 0


def test_unknown_message_is_qc404(conn, world):
    with pytest.raises(psycopg.Error) as exc:
        record(conn, uuid4(), "open")
    assert exc.value.sqlstate == "QC404"
    assert one(conn, "SELECT count(*) FROM campaigns.email_events") == 0


@pytest.mark.parametrize("details", ["[]", "\"text\"", "42", "null", None])
def test_non_object_details_is_qc422(conn, world, details):
    with pytest.raises(psycopg.Error) as exc:
        conn.execute("SELECT campaigns.record_email_event(%s, 'open', %s, %s::jsonb)", (world["message"], T0, details))
    assert exc.value.sqlstate == "QC422"
    assert message(conn, world["message"])["open_count"] == 0
    assert one(conn, "SELECT count(*) FROM campaigns.email_events") == 0


def test_delivered_sets_delivered_at_counts_once_and_resets_soft_bounces(conn, world):
    m, step = world["message"], world["step"]
    conn.execute("UPDATE campaigns.contacts SET consecutive_soft_bounces = 2 WHERE id = %s", (world["contact"],))
    assert record(conn, m, "delivered", T0) is True
    assert record(conn, m, "delivered", T0 + timedelta(minutes=1)) is True
    assert message(conn, m)["delivered_at"] == T0
    assert step_counters(conn, step)["emails_delivered"] == 1
    assert one(conn, "SELECT consecutive_soft_bounces FROM campaigns.contacts WHERE id = %s", world["contact"]) == 0


# -- reply ----------------------------------------------------------------------------------------


def test_reply_with_exit_exits_and_cancels_the_enrollments_queued_mail(conn, world):
    t, campaign = world["t"], world["campaign"]
    step2 = make_step(conn, t, campaign)
    mine_queued = queued(conn, t, world["enrollment"], step2)
    other_enr = enroll(conn, t, campaign, make_contact(conn, t))
    others_queued = queued(conn, t, other_enr, world["step"])

    at = T0 + timedelta(hours=2)
    assert record(conn, world["message"], "reply", at) is True
    assert enrollment(conn, world["enrollment"]) == ("exited", "replied", at, None)
    assert one(conn, "SELECT next_email_scheduled_at FROM campaigns.campaign_contacts WHERE id = %s", world["enrollment"]) is None
    assert message(conn, mine_queued)["status"] == "cancelled"
    assert message(conn, others_queued)["status"] == "queued"
    assert enrollment(conn, other_enr)[0] == "active"
    assert message(conn, world["message"])["replied_at"] == at
    assert step_counters(conn, world["step"])["replies"] == 1
    # A second reply to the same message is not a second replier.
    record(conn, world["message"], "reply", at + timedelta(hours=1))
    assert step_counters(conn, world["step"])["replies"] == 1
    assert message(conn, world["message"])["replied_at"] == at


def test_reply_with_pause_pauses_and_campaign_resume_leaves_it_paused(conn, world):
    t, campaign = world["t"], world["campaign"]
    conn.execute("UPDATE campaigns.campaigns SET on_reply = 'pause' WHERE id = %s", (campaign,))
    step2 = make_step(conn, t, campaign)
    mine_queued = queued(conn, t, world["enrollment"], step2)
    bystander = enroll(conn, t, campaign, make_contact(conn, t))

    assert record(conn, world["message"], "reply") is True
    assert enrollment(conn, world["enrollment"]) == ("paused", None, None, "reply")
    assert message(conn, mine_queued)["status"] == "queued"
    assert step_counters(conn, world["step"])["replies"] == 1

    conn.execute("SELECT campaigns.pause_campaign(%s)", (campaign,))
    assert enrollment(conn, bystander) == ("paused", None, None, "campaign")
    conn.execute("SELECT campaigns.resume_campaign(%s, %s)", (campaign, T0 + timedelta(hours=1)))
    assert enrollment(conn, bystander)[0] == "active"
    assert enrollment(conn, world["enrollment"]) == ("paused", None, None, "reply")


def test_reply_while_the_campaign_is_paused_keeps_the_contact_paused_after_resume(conn, world):
    campaign = world["campaign"]
    conn.execute("UPDATE campaigns.campaigns SET on_reply = 'pause' WHERE id = %s", (campaign,))
    conn.execute("SELECT campaigns.pause_campaign(%s)", (campaign,))
    assert record(conn, world["message"], "reply") is True
    conn.execute("SELECT campaigns.resume_campaign(%s, %s)", (campaign, T0 + timedelta(hours=1)))
    assert enrollment(conn, world["enrollment"]) == ("paused", None, None, "reply")


def test_reply_with_continue_leaves_the_enrollment_alone(conn, world):
    conn.execute("UPDATE campaigns.campaigns SET on_reply = 'continue' WHERE id = %s", (world["campaign"],))
    step2 = make_step(conn, world["t"], world["campaign"])
    mine_queued = queued(conn, world["t"], world["enrollment"], step2)
    before = one(conn, "SELECT cc FROM campaigns.campaign_contacts cc WHERE id = %s", world["enrollment"])
    assert record(conn, world["message"], "reply") is True
    assert one(conn, "SELECT cc FROM campaigns.campaign_contacts cc WHERE id = %s", world["enrollment"]) == before
    assert message(conn, mine_queued)["status"] == "queued"
    assert step_counters(conn, world["step"])["replies"] == 1


# -- unsubscribe ----------------------------------------------------------------------------------


def test_unsubscribe_suppresses_and_exits_the_contact_from_every_campaign(conn, world):
    t, contact = world["t"], world["contact"]
    # The same contact in a second (paused) campaign, with mail still queued there.
    campaign_b, step_b = active_campaign(conn, t, status="paused")
    enr_b = enroll(conn, t, campaign_b, contact, status="paused")
    queued_b = queued(conn, t, enr_b, step_b)
    # A completed enrollment stays completed.
    campaign_c, _ = active_campaign(conn, t)
    enr_c = enroll(conn, t, campaign_c, contact, status="completed", completed_at=T0 - timedelta(hours=5))
    # Another contact's queued mail is not touched.
    other = enroll(conn, t, world["campaign"], make_contact(conn, t))
    others_queued = queued(conn, t, other, make_step(conn, t, world["campaign"]))

    at = T0 + timedelta(minutes=30)
    assert record(conn, world["message"], "unsubscribe", at) is True

    email = one(conn, "SELECT email FROM campaigns.contacts WHERE id = %s", contact)
    assert conn.execute("SELECT email, reason, added_at FROM campaigns.suppressions WHERE tenant_id = %s",
                        (t,)).fetchall() == [(email, "unsubscribe", at)]
    assert one(conn, "SELECT status FROM campaigns.contacts WHERE id = %s", contact) == "unsubscribed"
    assert enrollment(conn, world["enrollment"]) == ("exited", "unsubscribed", at, None)
    assert enrollment(conn, enr_b) == ("exited", "unsubscribed", at, None)
    assert enrollment(conn, enr_c)[0] == "completed"
    assert message(conn, queued_b)["status"] == "cancelled"
    assert message(conn, others_queued)["status"] == "queued"
    assert enrollment(conn, other)[0] == "active"
    assert message(conn, world["message"])["unsubscribed_at"] == at
    assert step_counters(conn, world["step"])["unsubscribes"] == 1
    assert step_counters(conn, step_b)["unsubscribes"] == 0

    # A later launch with that contact in the segment leaves it out.
    newcomer = make_contact(conn, t)
    launch_me = make_campaign(conn, t, segment_id=make_segment(conn, t, [contact, newcomer]))
    make_step(conn, t, launch_me)
    assert one(conn, "SELECT campaigns.launch_campaign(%s, %s)", launch_me, T0 + timedelta(hours=1)) == 1
    assert enrolled_contacts(conn, launch_me) == {newcomer}


def test_unsubscribe_suppression_alone_keeps_the_contact_out_of_a_launch(conn, world):
    t, contact = world["t"], world["contact"]
    record(conn, world["message"], "unsubscribe")
    # Even if the contact row were reactivated by hand, the suppression list still excludes it.
    conn.execute("UPDATE campaigns.contacts SET status = 'active' WHERE id = %s", (contact,))
    newcomer = make_contact(conn, t)
    launch_me = make_campaign(conn, t, segment_id=make_segment(conn, t, [contact, newcomer]))
    make_step(conn, t, launch_me)
    conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (launch_me, T0 + timedelta(hours=1)))
    assert enrolled_contacts(conn, launch_me) == {newcomer}


# -- bounces --------------------------------------------------------------------------------------


def test_hard_bounce_suppresses_and_exits(conn, world):
    t, contact = world["t"], world["contact"]
    campaign_b, step_b = active_campaign(conn, t)
    enr_b = enroll(conn, t, campaign_b, contact)
    queued_b = queued(conn, t, enr_b, step_b)
    at = T0 + timedelta(minutes=3)
    assert record(conn, world["message"], "bounce_hard", at) is True
    assert conn.execute("SELECT reason FROM campaigns.suppressions WHERE tenant_id = %s", (t,)).fetchall() == [("hard_bounce",)]
    assert one(conn, "SELECT status FROM campaigns.contacts WHERE id = %s", contact) == "bounced"
    assert enrollment(conn, world["enrollment"]) == ("exited", "bounced", at, None)
    assert enrollment(conn, enr_b) == ("exited", "bounced", at, None)
    assert message(conn, queued_b)["status"] == "cancelled"
    assert message(conn, world["message"])["bounced_at"] == at
    assert step_counters(conn, world["step"])["bounces"] == 1


def soft_bounce_state(conn, world) -> tuple:
    return (
        one(conn, "SELECT consecutive_soft_bounces FROM campaigns.contacts WHERE id = %s", world["contact"]),
        one(conn, "SELECT status FROM campaigns.contacts WHERE id = %s", world["contact"]),
        conn.execute("SELECT reason FROM campaigns.suppressions WHERE tenant_id = %s", (world["t"],)).fetchall(),
        enrollment(conn, world["enrollment"])[:2],
    )


def test_third_consecutive_soft_bounce_suppresses(conn, world):
    m = world["message"]
    assert record(conn, m, "bounce_soft", T0) is True
    assert soft_bounce_state(conn, world) == (1, "active", [], ("active", None))
    record(conn, m, "bounce_soft", T0 + timedelta(hours=1))
    assert soft_bounce_state(conn, world) == (2, "active", [], ("active", None))
    assert message(conn, m)["bounced_at"] is None
    assert step_counters(conn, world["step"])["bounces"] == 0

    third = T0 + timedelta(hours=2)
    record(conn, m, "bounce_soft", third)
    assert soft_bounce_state(conn, world) == (3, "bounced", [("soft_bounce",)], ("exited", "bounced"))
    assert message(conn, m)["bounced_at"] == third
    assert step_counters(conn, world["step"])["bounces"] == 1


def test_delivery_between_soft_bounces_resets_the_count(conn, world):
    t, m = world["t"], world["message"]
    record(conn, m, "bounce_soft", T0)
    record(conn, m, "bounce_soft", T0 + timedelta(hours=1))
    # A later message to the same contact is delivered: the bounces are no longer consecutive.
    m2 = sent(conn, t, world["enrollment"], make_step(conn, t, world["campaign"]))
    record(conn, m2, "delivered", T0 + timedelta(hours=2))
    assert soft_bounce_state(conn, world)[0] == 0
    record(conn, m2, "bounce_soft", T0 + timedelta(hours=3))
    record(conn, m2, "bounce_soft", T0 + timedelta(hours=4))
    assert soft_bounce_state(conn, world) == (2, "active", [], ("active", None))
    record(conn, m2, "bounce_soft", T0 + timedelta(hours=5))
    assert soft_bounce_state(conn, world) == (3, "bounced", [("soft_bounce",)], ("exited", "bounced"))


def test_soft_bounce_threshold_is_the_tenants_setting(conn, world):
    conn.execute("UPDATE campaigns.tenants SET soft_bounce_threshold = 2 WHERE id = %s", (world["t"],))
    record(conn, world["message"], "bounce_soft", T0)
    assert soft_bounce_state(conn, world) == (1, "active", [], ("active", None))
    record(conn, world["message"], "bounce_soft", T0 + timedelta(hours=1))
    assert soft_bounce_state(conn, world) == (2, "bounced", [("soft_bounce",)], ("exited", "bounced"))


# -- complaint ------------------------------------------------------------------------------------


@pytest.mark.commits
def test_complaint_suppresses_globally_exits_and_alerts(conn, db_url, world):
    t, contact = world["t"], world["contact"]
    email = one(conn, "SELECT email FROM campaigns.contacts WHERE id = %s", contact)
    campaign_b, step_b = active_campaign(conn, t)
    enr_b = enroll(conn, t, campaign_b, contact)
    queued_b = queued(conn, t, enr_b, step_b)

    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN campaigns_alerts")
        at = T0 + timedelta(minutes=7)
        assert record(conn, world["message"], "complaint", at) is True
        notes = list(listener.notifies(timeout=5, stop_after=1))
    assert len(notes) == 1 and notes[0].channel == "campaigns_alerts"
    payload = json.loads(notes[0].payload)
    assert payload["kind"] == "complaint"
    assert (payload["tenant_id"], payload["campaign_id"], payload["message_id"]) == (
        str(t), str(world["campaign"]), str(world["message"]))

    assert conn.execute("SELECT email, reason, source_tenant_id, added_at FROM campaigns.global_suppressions").fetchall() == [
        (email, "complaint", t, at)]
    assert enrollment(conn, world["enrollment"]) == ("exited", "complained", at, None)
    assert enrollment(conn, enr_b) == ("exited", "complained", at, None)
    assert message(conn, queued_b)["status"] == "cancelled"
    assert message(conn, world["message"])["complained_at"] == at

    # Another tenant with a contact at the same address (other case) does not enroll it.
    other_t = make_tenant(conn, "Other")["tenant_id"]
    twin = make_contact(conn, other_t, email=email.upper())
    stranger = make_contact(conn, other_t)
    launch_me = make_campaign(conn, other_t, segment_id=make_segment(conn, other_t, [twin, stranger]))
    make_step(conn, other_t, launch_me)
    assert one(conn, "SELECT campaigns.launch_campaign(%s, %s)", launch_me, T0 + timedelta(hours=1)) == 1
    assert enrolled_contacts(conn, launch_me) == {stranger}


# -- concurrency ----------------------------------------------------------------------------------


@pytest.mark.commits
def test_concurrent_first_opens_count_one_unique_open(conn, db_url, world):
    m = world["message"]
    results: list[bool] = []
    with psycopg.connect(db_url) as first, psycopg.connect(db_url) as second:
        second_pid = second.info.backend_pid
        record(first, m, "open", T0)  # first transaction open, holding the message row

        def run_second() -> None:
            results.append(record(second, m, "open", T0 + timedelta(seconds=1)))
            second.commit()

        thread = threading.Thread(target=run_second)
        thread.start()
        wait_until_blocked(conn, second_pid)  # on the first one's row lock
        first.commit()
        thread.join(10)
        assert not thread.is_alive()
    assert results == [True]
    row = message(conn, m)
    assert (row["first_opened_at"], row["open_count"]) == (T0, 2)
    assert step_counters(conn, world["step"])["opens"] == 1
