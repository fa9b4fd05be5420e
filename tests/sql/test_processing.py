"""campaigns.process_due_steps: what one processing pass does to due enrollments — queue exactly one
message per (enrollment, step), advance, complete — and what it must leave alone (future, paused,
ended, suppressed)."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.factories import make_enrollment, make_sender
from tests.support.processing import (
    DAY, MESSAGE_ID, MINUTE, add_steps, campaign, enrollment, enrollments, launch, messages, new_campaign, process, ts,
    wait,
)

T0 = ts("2026-03-02 14:00Z")  # a Monday


def test_first_processing_queues_one_message_per_enrollment_and_advances(conn):
    s = new_campaign(conn, 3)
    sender = make_sender(conn, s.tenant_id, from_email="news@mail.example.org")
    conn.execute("UPDATE campaigns.campaigns SET sender_account_id = %s WHERE id = %s", (sender, s.campaign_id))
    email1, _, email2 = add_steps(conn, s, "email", wait(2, "days"), "email")
    assert launch(conn, s.campaign_id, T0) == 3
    before = enrollments(conn, s.campaign_id)
    assert {e["status"] for e in before} == {"enrolled"}
    assert {e["started_at"] for e in before} == {None}

    run_at = T0 + 4 * MINUTE
    assert process(conn, run_at) == 3

    rows = enrollments(conn, s.campaign_id)
    for e in rows:
        assert e["status"] == "active"
        assert e["started_at"] == run_at
        assert e["current_step_id"] == email2  # past the wait, which was set up in the same pass
        assert e["steps_completed"] == 1
        assert e["last_email_sent_at"] == run_at
        assert e["next_email_scheduled_at"] == T0 + 2 * DAY
    msgs = messages(conn, s.campaign_id)
    assert len(msgs) == 3
    assert sorted((m["enrollment_id"], m["step_id"]) for m in msgs) == sorted((e["id"], email1) for e in rows)
    emails = dict(conn.execute("SELECT id, email FROM campaigns.contacts WHERE id = ANY(%s)", (s.contacts,)).fetchall())
    for m in msgs:
        assert m["status"] == "queued"
        assert m["queued_at"] == run_at
        assert m["next_attempt_at"] == run_at
        assert m["sender_account_id"] == sender
        assert m["to_email"] == emails[m["contact_id"]]
        match = MESSAGE_ID.match(m["smtp_message_id"])
        assert match, m["smtp_message_id"]
        assert match.group(2) == "mail.example.org"
    assert len({m["smtp_message_id"] for m in msgs}) == 3


@pytest.mark.parametrize(("campaign_from", "expected_domain"), [
    ("hello@campaign.example.net", "campaign.example.net"),
    (None, "campaigns.invalid"),
])
def test_message_id_domain_without_sender_account(conn, campaign_from, expected_domain):
    s = new_campaign(conn, 1, from_email=campaign_from)
    add_steps(conn, s, "email")
    launch(conn, s.campaign_id, T0)
    process(conn, T0)
    (m,) = messages(conn, s.campaign_id)
    match = MESSAGE_ID.match(m["smtp_message_id"])
    assert match and match.group(2) == expected_domain


def test_processing_the_last_email_completes_the_enrollment(conn):
    s = new_campaign(conn, 2)
    add_steps(conn, s, "email", wait(1, "days"), "email")
    launch(conn, s.campaign_id, T0)
    process(conn, T0 + MINUTE)
    assert {e["status"] for e in enrollments(conn, s.campaign_id)} == {"active"}

    run_at = T0 + DAY + 2 * MINUTE
    assert process(conn, run_at) == 2
    for e in enrollments(conn, s.campaign_id):
        assert e["status"] == "completed"
        assert e["completed_at"] is not None and T0 + DAY <= e["completed_at"] <= run_at
        assert e["current_step_id"] is None
        assert e["next_email_scheduled_at"] is None
        assert e["steps_completed"] == 2
        assert e["last_email_sent_at"] == run_at
        assert e["exited_at"] is None and e["exit_reason"] is None
    assert len(messages(conn, s.campaign_id)) == 4
    # Nothing left to do: later runs neither claim nor queue anything.
    assert process(conn, run_at + 30 * DAY) == 0
    assert len(messages(conn, s.campaign_id)) == 4


def test_completed_at_is_not_before_the_last_email(conn):
    s = new_campaign(conn, 1)
    add_steps(conn, s, "email")
    launch(conn, s.campaign_id, T0)
    conn.execute("SELECT campaigns.pause_campaign(%s)", (s.campaign_id,))
    conn.execute("SELECT campaigns.resume_campaign(%s, %s)", (s.campaign_id, T0 + 7 * DAY))
    process(conn, T0 + 7 * DAY)
    e = enrollment(conn, s.campaign_id, s.contacts[0])
    assert e["status"] == "completed"
    assert e["last_email_sent_at"] == T0 + 7 * DAY
    assert e["completed_at"] >= e["last_email_sent_at"]


def test_back_to_back_emails_queue_one_email_per_pass(conn):
    s = new_campaign(conn, 1)
    email1, email2 = add_steps(conn, s, "email", "email")
    launch(conn, s.campaign_id, T0)
    process(conn, T0)
    (e,) = enrollments(conn, s.campaign_id)
    assert [m["step_id"] for m in messages(conn, s.campaign_id)] == [email1]
    assert e["current_step_id"] == email2 and e["status"] == "active"
    assert e["next_email_scheduled_at"] <= T0  # due again at once, on the next pass

    process(conn, T0 + 5 * MINUTE)
    assert [m["step_id"] for m in messages(conn, s.campaign_id)] == [email1, email2]
    assert enrollments(conn, s.campaign_id)[0]["status"] == "completed"


def test_rerun_at_the_same_instant_queues_nothing_more(conn):
    s = new_campaign(conn, 3)
    add_steps(conn, s, "email", wait(1, "hours"), "email")
    launch(conn, s.campaign_id, T0)
    assert process(conn, T0) == 3
    assert process(conn, T0) == 0
    assert process(conn, T0 + 59 * MINUTE) == 0
    assert len(messages(conn, s.campaign_id)) == 3


def test_enrollments_due_in_the_future_are_not_processed(conn):
    s = new_campaign(conn, 2, send_strategy="scheduled", start_date=T0 + DAY)
    add_steps(conn, s, "email")
    launch(conn, s.campaign_id, T0)
    before = enrollments(conn, s.campaign_id)
    assert {e["next_email_scheduled_at"] for e in before} == {T0 + DAY}

    assert process(conn, T0 + DAY - MINUTE) == 0
    assert messages(conn, s.campaign_id) == []
    assert enrollments(conn, s.campaign_id) == before

    assert process(conn, T0 + DAY) == 2
    assert len(messages(conn, s.campaign_id)) == 2


def test_enrollments_of_a_paused_campaign_are_not_processed(conn):
    s = new_campaign(conn, 3)
    add_steps(conn, s, "email")
    launch(conn, s.campaign_id, T0)
    assert conn.execute("SELECT campaigns.pause_campaign(%s)", (s.campaign_id,)).fetchone()[0] == 3

    assert process(conn, T0 + DAY) == 0
    assert messages(conn, s.campaign_id) == []
    assert {e["status"] for e in enrollments(conn, s.campaign_id)} == {"paused"}


def test_due_enrollment_left_active_under_a_paused_campaign_is_not_processed(conn):
    # Even a row the pause did not touch (written around the API) waits while its campaign is paused.
    s = new_campaign(conn, 1, status="paused")
    (email1,) = add_steps(conn, s, "email")
    make_enrollment(conn, s.tenant_id, s.campaign_id, s.contacts[0], status="active",
                    current_step_id=email1, next_email_scheduled_at=T0)
    assert process(conn, T0 + DAY) == 0
    assert messages(conn, s.campaign_id) == []


def test_individually_paused_enrollment_in_an_active_campaign_is_not_processed(conn):
    s = new_campaign(conn, 2, status="active")
    (email1,) = add_steps(conn, s, "email")
    held = make_enrollment(conn, s.tenant_id, s.campaign_id, s.contacts[0], status="paused", pause_reason="reply",
                           current_step_id=email1, next_email_scheduled_at=T0)
    make_enrollment(conn, s.tenant_id, s.campaign_id, s.contacts[1], current_step_id=email1,
                    next_email_scheduled_at=T0)
    assert process(conn, T0 + MINUTE) == 1
    assert [m["contact_id"] for m in messages(conn, s.campaign_id)] == [s.contacts[1]]
    assert enrollment(conn, s.campaign_id, s.contacts[0])["status"] == "paused"
    assert enrollment(conn, s.campaign_id, s.contacts[0])["id"] == held


def test_processing_is_batched(conn):
    s = new_campaign(conn, 25)
    add_steps(conn, s, "email")
    launch(conn, s.campaign_id, T0)
    assert [process(conn, T0 + MINUTE, 10) for _ in range(4)] == [10, 10, 5, 0]
    msgs = messages(conn, s.campaign_id)
    assert len(msgs) == 25
    assert len({m["enrollment_id"] for m in msgs}) == 25
    assert {e["status"] for e in enrollments(conn, s.campaign_id)} == {"completed"}


def test_batches_take_the_oldest_due_first(conn):
    s = new_campaign(conn, 3, status="active")
    (email1,) = add_steps(conn, s, "email")
    due = [T0 - 2 * MINUTE, T0 - 3 * MINUTE, T0 - MINUTE]
    for contact_id, at in zip(s.contacts, due):
        make_enrollment(conn, s.tenant_id, s.campaign_id, contact_id, current_step_id=email1,
                        next_email_scheduled_at=at)
    assert process(conn, T0, 1) == 1
    assert [m["contact_id"] for m in messages(conn, s.campaign_id)] == [s.contacts[1]]
    assert process(conn, T0 + MINUTE, 1) == 1  # a later run, so the queue order shows the claim order
    assert [m["contact_id"] for m in messages(conn, s.campaign_id)] == [s.contacts[1], s.contacts[0]]


@pytest.mark.parametrize("batch", [0, -1])
def test_non_positive_batch_size_is_rejected(conn, batch):
    with pytest.raises(psycopg.Error) as exc:
        process(conn, T0, batch)
    assert exc.value.sqlstate == "QC422"


def test_null_arguments_are_rejected(conn):
    for args in [(T0, None), (None, 10)]:
        with pytest.raises(psycopg.Error) as exc:
            conn.execute("SELECT campaigns.process_due_steps(%s::timestamptz, %s::integer)", args)
        assert exc.value.sqlstate == "QC422"


def test_two_calls_in_one_transaction(conn):
    s = new_campaign(conn, 3)
    add_steps(conn, s, "email")
    launch(conn, s.campaign_id, T0)
    with conn.transaction():
        assert process(conn, T0, 2) == 2
        assert process(conn, T0, 2) == 1
    assert len(messages(conn, s.campaign_id)) == 3
    # The working tables are transaction-local: the next transaction starts clean.
    assert process(conn, T0) == 0


def test_passed_end_date_exits_enrollments_cancels_mail_and_completes(conn):
    s = new_campaign(conn, 2, end_date=T0 + DAY)
    add_steps(conn, s, "email", wait(2, "days"), "email")
    launch(conn, s.campaign_id, T0)
    process(conn, T0)
    assert {m["status"] for m in messages(conn, s.campaign_id)} == {"queued"}

    run_at = T0 + DAY + 3 * MINUTE
    process(conn, run_at)
    for e in enrollments(conn, s.campaign_id):
        assert e["status"] == "exited"
        assert e["exit_reason"] == "campaign_ended"
        assert e["exited_at"] == run_at
        assert e["next_email_scheduled_at"] is None
    assert {m["status"] for m in messages(conn, s.campaign_id)} == {"cancelled"}
    c = campaign(conn, s.campaign_id)
    assert c["status"] == "completed" and c["completed_at"] is not None
    # Nothing is sent after the end, however late processing runs.
    process(conn, T0 + 10 * DAY)
    assert len(messages(conn, s.campaign_id)) == 2


def test_end_date_in_the_future_changes_nothing(conn):
    s = new_campaign(conn, 1, end_date=T0 + DAY)
    add_steps(conn, s, "email")
    launch(conn, s.campaign_id, T0)
    process(conn, T0 + DAY - MINUTE)
    assert campaign(conn, s.campaign_id)["status"] == "active"
    assert [m["status"] for m in messages(conn, s.campaign_id)] == ["queued"]


# -- suppression and contact status at processing time (69) --------------------------------------


def _suppress_tenant(conn, s, email):
    conn.execute("INSERT INTO campaigns.suppressions (tenant_id, email, reason) VALUES (%s, %s, 'manual')",
                 (s.tenant_id, email))


def _suppress_global(conn, s, email):
    conn.execute("INSERT INTO campaigns.global_suppressions (email, reason) VALUES (%s, 'complaint')", (email,))


@pytest.mark.parametrize("suppress", [_suppress_tenant, _suppress_global])
def test_contact_suppressed_after_launch_exits_without_a_message(conn, suppress):
    s = new_campaign(conn, [{"email": "gone@example.com"}, {"email": "stays@example.com"}])
    add_steps(conn, s, "email")
    launch(conn, s.campaign_id, T0)
    suppress(conn, s, "GONE@Example.com")  # matched case-insensitively

    process(conn, T0 + MINUTE)
    gone = enrollment(conn, s.campaign_id, s.contacts[0])
    assert gone["status"] == "exited"
    assert gone["exit_reason"] == "suppressed"
    assert gone["exited_at"] == T0 + MINUTE
    assert [m["to_email"] for m in messages(conn, s.campaign_id)] == ["stays@example.com"]


def test_suppression_of_a_later_step_exits_before_that_send(conn):
    s = new_campaign(conn, [{"email": "later@example.com"}])
    email1, _, email2 = add_steps(conn, s, "email", wait(1, "days"), "email")
    launch(conn, s.campaign_id, T0)
    process(conn, T0)
    _suppress_tenant(conn, s, "later@example.com")
    process(conn, T0 + DAY)
    assert [m["step_id"] for m in messages(conn, s.campaign_id)] == [email1]
    assert enrollment(conn, s.campaign_id, s.contacts[0])["exit_reason"] == "suppressed"


def test_expired_suppression_does_not_stop_the_send(conn):
    s = new_campaign(conn, [{"email": "back@example.com"}])
    add_steps(conn, s, "email")
    launch(conn, s.campaign_id, T0)
    conn.execute("INSERT INTO campaigns.suppressions (tenant_id, email, reason, expires_at) "
                 "VALUES (%s, 'back@example.com', 'manual', %s)", (s.tenant_id, T0))
    process(conn, T0 + MINUTE)
    assert len(messages(conn, s.campaign_id)) == 1
    assert enrollment(conn, s.campaign_id, s.contacts[0])["status"] == "completed"


@pytest.mark.parametrize("status", ["unsubscribed", "bounced"])
def test_contact_no_longer_mailable_exits_with_its_status(conn, status):
    s = new_campaign(conn, 1)
    add_steps(conn, s, "email")
    launch(conn, s.campaign_id, T0)
    conn.execute("UPDATE campaigns.contacts SET status = %s WHERE id = %s", (status, s.contacts[0]))
    process(conn, T0 + MINUTE)
    e = enrollment(conn, s.campaign_id, s.contacts[0])
    assert (e["status"], e["exit_reason"]) == ("exited", status)
    assert e["exited_at"] == T0 + MINUTE
    assert messages(conn, s.campaign_id) == []
