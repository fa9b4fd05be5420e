"""The outbox functions in SQL: claim_outbox_batch (leases, re-checks, holds, disjoint claims, stale
leases), record_send_result(s) (sent, retry with backoff, dead letter, hard bounce, rejected,
release, lost leases), find_message_for_reply, the dead_letters view and the hold notifications."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.support.factories import make_tenant
from tests.support.outbox import RECORD_MANY, claim, make_outbox, record, statuses


@pytest.fixture
def conn(tx_conn):
    """SQL-level tests: rolled back at the end on the shared database, unless marked commits."""
    return tx_conn

def message(conn, message_id):
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT * FROM campaigns.email_messages WHERE id = %s", (message_id,)).fetchone()


def events(conn, message_id):
    return [r[0] for r in conn.execute(
        "SELECT event_type FROM campaigns.email_events WHERE message_id = %s ORDER BY recorded_at", (message_id,))]


# -- claim ------------------------------------------------------------------------------------------


def test_claim_leases_due_messages_with_everything_to_render(conn):
    box = make_outbox(conn, 3, step={"subject_line": "S {{ first_name }}", "email_content": "<p>B</p>"})
    rows = claim(conn, limit=10)
    assert len(rows) == 3
    row = rows[0]
    assert row["attempt"] == 1 and row["reclaimed"] is False and row["lease_reclaims"] == 0
    assert row["relay_key"] == ""  # no sender account: the worker's default relay
    assert row["subject_template"] == "S {{ first_name }}" and row["html_template"] == "<p>B</p>"
    assert row["first_name"].startswith("Ann") and row["custom_fields"] == {"industry": "retail"}
    assert row["campaign_from_email"] == "news@example.com" and row["track_opens"] is True
    assert row["smtp_message_id"].startswith("<") and row["to_email"] == row["email"]
    m = message(conn, row["message_id"])
    assert m["status"] == "sending" and m["locked_by"] == "w1" and m["attempts"] == 0  # counted when recorded
    assert m["lease_expires_at"] > datetime.now(timezone.utc) + timedelta(minutes=4)
    assert claim(conn, worker="w2") == []  # nothing left for anyone else
    assert statuses(conn, box.campaign_id) == {"sending": 3}


def test_claim_respects_limit_and_due_time(conn):
    box = make_outbox(conn, 5)
    conn.execute("UPDATE campaigns.email_messages SET next_attempt_at = now() + interval '1 hour' "
                 "WHERE id IN (SELECT id FROM campaigns.email_messages WHERE campaign_id = %s LIMIT 2)", (box.campaign_id,))
    assert len(claim(conn, limit=2, lease="1 day")) == 2
    assert len(claim(conn, limit=10, lease="1 day")) == 1
    assert len(claim(conn, as_of=datetime.now(timezone.utc) + timedelta(hours=2))) == 2


def test_template_content_when_the_step_uses_a_template(conn):
    t = make_tenant(conn)
    template_id = conn.execute(
        "INSERT INTO campaigns.templates (tenant_id, name, subject, html_content, text_content) "
        "VALUES (%s, 'T', 'Tpl {{ first_name }}', '<p>html</p>', 'text') RETURNING id", (t["tenant_id"],)).fetchone()[0]
    make_outbox(conn, 1, tenant=t, step={"template_id": template_id, "subject_line": None, "email_content": None})
    row = claim(conn)[0]
    assert (row["template_id"], row["subject_template"], row["html_template"], row["text_template"]) == \
        (template_id, "Tpl {{ first_name }}", "<p>html</p>", "text")


@pytest.mark.commits
def test_concurrent_claims_get_disjoint_rows(db_url, conn):
    make_outbox(conn, 200)
    results: list[list] = []
    barrier = threading.Barrier(4)

    def worker(name):
        with psycopg.connect(db_url, autocommit=True) as c:
            barrier.wait()
            got = []
            while rows := claim(c, worker=name, limit=7):
                got += [r["message_id"] for r in rows]
            results.append(got)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [m for got in results for m in got]
    assert len(everything) == 200 and len(set(everything)) == 200


@pytest.mark.commits
def test_uncommitted_enqueue_is_invisible(db_url, conn):
    box = make_outbox(conn, 1)
    claim(conn)  # the existing one
    with psycopg.connect(db_url) as writer:  # a transaction left open
        writer.execute("UPDATE campaigns.email_messages SET status = 'queued', lease_expires_at = NULL "
                       "WHERE campaign_id = %s", (box.campaign_id,))
        assert claim(conn, worker="w2") == []
        writer.rollback()


def test_paused_campaign_mail_is_held_not_claimed(conn):
    box = make_outbox(conn, 3)
    conn.execute("SELECT campaigns.pause_campaign(%s)", (box.campaign_id,))
    assert claim(conn) == []
    assert statuses(conn, box.campaign_id) == {"queued": 3}
    conn.execute("SELECT campaigns.resume_campaign(%s)", (box.campaign_id,))
    assert len(claim(conn)) == 3


def test_individually_paused_enrollment_mail_is_held(conn):
    box = make_outbox(conn, 2)
    conn.execute("UPDATE campaigns.campaign_contacts SET status = 'paused', pause_reason = 'reply' WHERE id = "
                 "(SELECT enrollment_id FROM campaigns.email_messages WHERE campaign_id = %s LIMIT 1)", (box.campaign_id,))
    assert len(claim(conn)) == 1
    assert statuses(conn, box.campaign_id) == {"queued": 1, "sending": 1}


def test_suppressed_recipient_is_cancelled_and_exits(conn):
    # checked immediately before the send; the enrollment exits with reason suppressed
    box = make_outbox(conn, 3)
    victim, enrollment = conn.execute(
        "SELECT to_email, enrollment_id FROM campaigns.email_messages WHERE campaign_id = %s LIMIT 1",
        (box.campaign_id,)).fetchone()
    conn.execute("INSERT INTO campaigns.suppressions (tenant_id, email, reason) VALUES (%s, upper(%s), 'manual')",
                 (box.tenant_id, victim))
    assert len(claim(conn)) == 2
    row = conn.execute("SELECT status, last_error, attempts FROM campaigns.email_messages WHERE to_email = %s",
                       (victim,)).fetchone()
    assert row == ("cancelled", "cancelled at send time: suppressed", 0)
    assert conn.execute("SELECT status, exit_reason FROM campaigns.campaign_contacts WHERE id = %s",
                        (enrollment,)).fetchone() == ("exited", "suppressed")


def test_expired_suppression_does_not_cancel(conn):
    box = make_outbox(conn, 1)
    victim = conn.execute("SELECT to_email FROM campaigns.email_messages WHERE campaign_id = %s", (box.campaign_id,)).fetchone()[0]
    conn.execute("INSERT INTO campaigns.suppressions (tenant_id, email, reason, expires_at) "
                 "VALUES (%s, %s, 'manual', now() - interval '1 day')", (box.tenant_id, victim))
    assert len(claim(conn)) == 1


def test_globally_suppressed_recipient_is_cancelled(conn):
    box = make_outbox(conn, 2)
    victim = conn.execute("SELECT to_email FROM campaigns.email_messages WHERE campaign_id = %s LIMIT 1",
                          (box.campaign_id,)).fetchone()[0]
    conn.execute("INSERT INTO campaigns.global_suppressions (email, reason) VALUES (%s, 'complaint')", (victim,))
    assert len(claim(conn)) == 1
    assert conn.execute("SELECT status FROM campaigns.email_messages WHERE to_email = %s", (victim,)).fetchone()[0] == "cancelled"


def test_unsubscribed_contact_and_exited_enrollment_are_cancelled(conn):
    box = make_outbox(conn, 3)
    (c1, e1), (c2, e2), _ = conn.execute(
        "SELECT contact_id, enrollment_id FROM campaigns.email_messages WHERE campaign_id = %s ORDER BY id",
        (box.campaign_id,)).fetchall()
    conn.execute("UPDATE campaigns.contacts SET status = 'unsubscribed' WHERE id = %s", (c1,))
    conn.execute("UPDATE campaigns.campaign_contacts SET status = 'exited', exit_reason = 'replied', exited_at = now() "
                 "WHERE id = %s", (e2,))
    assert len(claim(conn)) == 1
    reasons = dict(conn.execute("SELECT contact_id, last_error FROM campaigns.email_messages WHERE status = 'cancelled'"))
    assert reasons == {c1: "cancelled at send time: unsubscribed", c2: "cancelled at send time: enrollment exited: replied"}
    assert conn.execute("SELECT status, exit_reason FROM campaigns.campaign_contacts WHERE id = %s", (e1,)).fetchone() == \
        ("exited", "unsubscribed")


def test_stale_lease_is_reclaimed_and_live_one_is_not(conn):
    make_outbox(conn, 2)
    first = claim(conn, worker="dead", lease="1 second")
    assert len(first) == 2
    assert claim(conn, worker="w2") == []  # leases still running
    later = datetime.now(timezone.utc) + timedelta(seconds=5)
    again = claim(conn, worker="w2", as_of=later)
    assert {r["message_id"] for r in again} == {r["message_id"] for r in first}
    assert {(r["attempt"], r["reclaimed"], r["lease_reclaims"]) for r in again} == {(1, True, 1)}
    assert record(conn, first[0]["message_id"], "sent", worker="dead") is None  # the dead worker's result is refused
    assert record(conn, first[0]["message_id"], "sent", worker="w2") == "sent"


def test_claim_rejects_bad_arguments(conn):
    for args in (("", 10, "1 minute"), ("w", 0, "1 minute"), ("w", 10, "0 seconds")):
        with pytest.raises(psycopg.Error) as e:
            claim(conn, *args)
        assert e.value.sqlstate == "QC422"


# -- record ----------------------------------------------------------------------------------------


def test_sent_records_counters_and_a_delivered_event(conn):
    box = make_outbox(conn, 2)
    rows = claim(conn)
    assert record(conn, rows[0]["message_id"], "sent", response="250 ok", subject="Hello Ann") == "sent"
    m = message(conn, rows[0]["message_id"])
    assert m["attempts"] == 1
    assert (m["status"], m["smtp_response"], m["subject"], m["lease_expires_at"]) == ("sent", "250 ok", "Hello Ann", None)
    assert m["sent_at"] is not None and m["delivered_at"] == m["sent_at"]
    assert events(conn, rows[0]["message_id"]) == ["delivered"]
    assert conn.execute("SELECT emails_sent, emails_delivered FROM campaigns.campaign_steps WHERE id = %s",
                        (box.step_id,)).fetchone() == (1, 1)
    assert record(conn, rows[0]["message_id"], "sent") is None  # recorded once; the repeat changes nothing
    assert conn.execute("SELECT emails_sent FROM campaigns.campaign_steps WHERE id = %s", (box.step_id,)).fetchone()[0] == 1


def test_provider_delivery_mode_records_no_delivered_event(conn):
    t = make_tenant(conn)
    conn.execute("UPDATE campaigns.tenants SET settings = '{\"delivery_events\": \"provider\"}' WHERE id = %s", (t["tenant_id"],))
    make_outbox(conn, 1, tenant=t)
    row = claim(conn)[0]
    assert record(conn, row["message_id"], "sent") == "sent"
    assert events(conn, row["message_id"]) == []
    assert message(conn, row["message_id"])["delivered_at"] is None


def test_retry_requeues_with_backoff_computed_in_sql(conn):
    make_outbox(conn, 1)
    row = claim(conn)[0]
    before = datetime.now(timezone.utc)
    assert record(conn, row["message_id"], "retry", error="451 4.3.0 try later") == "queued"
    m = message(conn, row["message_id"])
    assert m["status"] == "queued" and m["last_error"] == "451 4.3.0 try later" and m["attempts"] == 1
    delay = (m["next_attempt_at"] - before).total_seconds()
    assert 0.75 * 60 - 1 <= delay <= 1.25 * 60 + 1  # base 1 minute ± 25% jitter
    # second attempt: twice the base
    row = claim(conn, as_of=datetime.now(timezone.utc) + timedelta(minutes=2))[0]
    assert row["attempt"] == 2
    before = datetime.now(timezone.utc)
    record(conn, row["message_id"], "retry", error="timeout")
    delay = (message(conn, row["message_id"])["next_attempt_at"] - before).total_seconds()
    assert 0.75 * 120 - 1 <= delay <= 1.25 * 120 + 1


def test_backoff_is_capped_at_one_hour(conn):
    delays = [conn.execute("SELECT extract(epoch FROM campaigns._retry_delay(%s, interval '1 minute'))", (n,)).fetchone()[0]
              for n in (1, 3, 7, 12, 30, 1000)]
    assert float(delays[0]) <= 75 and 180 <= float(delays[1]) <= 300
    assert all(3600 * 0.75 <= float(d) <= 3600 * 1.25 for d in delays[3:])
    capped = conn.execute("SELECT extract(epoch FROM campaigns._retry_delay(20, interval '1 second', interval '10 seconds'))").fetchone()[0]
    assert 7.5 <= float(capped) <= 12.5


def test_failed_is_a_hard_bounce(conn):
    box = make_outbox(conn, 1)
    row = claim(conn)[0]
    assert record(conn, row["message_id"], "failed", response="550 5.1.1 no such user") == "failed"
    m = message(conn, row["message_id"])
    assert m["status"] == "failed" and m["bounced_at"] is not None and m["sent_at"] is not None
    assert events(conn, row["message_id"]) == ["bounce_hard"]
    assert conn.execute("SELECT status FROM campaigns.contacts WHERE id = %s", (row["contact_id"],)).fetchone()[0] == "bounced"
    assert conn.execute("SELECT reason FROM campaigns.suppressions WHERE tenant_id = %s AND lower(email) = lower(%s)",
                        (box.tenant_id, row["to_email"])).fetchone()[0] == "hard_bounce"
    assert conn.execute("SELECT emails_sent, bounces FROM campaigns.campaign_steps WHERE id = %s",
                        (box.step_id,)).fetchone() == (1, 1)
    assert conn.execute("SELECT failure_kind FROM campaigns.dead_letters WHERE message_id = %s",
                        (row["message_id"],)).fetchone()[0] == "bounced"


def test_rejected_is_a_dead_letter_without_bounce(conn):
    make_outbox(conn, 1)
    row = claim(conn)[0]
    assert record(conn, row["message_id"], "rejected", response="554 5.7.1 spam") == "failed"
    assert events(conn, row["message_id"]) == []
    assert conn.execute("SELECT status FROM campaigns.contacts WHERE id = %s", (row["contact_id"],)).fetchone()[0] == "active"
    assert conn.execute("SELECT failure_kind FROM campaigns.dead_letters WHERE message_id = %s",
                        (row["message_id"],)).fetchone()[0] == "rejected"


def test_release_puts_back_without_spending_the_attempt(conn):
    make_outbox(conn, 1)
    row = claim(conn)[0]
    assert record(conn, row["message_id"], "release") == "queued"
    m = message(conn, row["message_id"])
    assert (m["status"], m["attempts"], m["lease_expires_at"]) == ("queued", 0, None)
    assert claim(conn)[0]["attempt"] == 1


def test_record_rejects_unknown_outcome_and_message(conn):
    make_outbox(conn, 1)
    row = claim(conn)[0]
    with pytest.raises(psycopg.Error) as e:
        record(conn, row["message_id"], "bogus")
    assert e.value.sqlstate == "QC422"
    with pytest.raises(psycopg.Error) as e:
        record(conn, "00000000-0000-0000-0000-000000000000", "sent")
    assert e.value.sqlstate == "QC404"


def test_retry_keeps_the_senders_minimum_gap(conn):
    make_outbox(conn, 1, sender={"min_gap_seconds": 600})
    row = claim(conn, as_of=datetime.now(timezone.utc) + timedelta(hours=1))[0]
    slot = conn.execute("SELECT last_slot_at FROM campaigns.sender_accounts WHERE id = %s",
                        (row["sender_account_id"],)).fetchone()[0]
    record(conn, row["message_id"], "retry", error="451")
    m = message(conn, row["message_id"])
    assert m["next_attempt_at"] >= slot + timedelta(seconds=600)


def test_batch_recording_matches_single_recording(conn):
    box = make_outbox(conn, 6)
    rows = claim(conn)
    ids = [r["message_id"] for r in rows]
    out = conn.execute(
        "SELECT message_id, status FROM campaigns.record_send_results('w1', %s::uuid[], %s::text[], %s::text[], "
        "%s::text[], %s::text[], now(), '1 minute')",
        (ids + [ids[0]], ["sent", "sent", "retry", "failed", "rejected", "release", "sent"],
         ["250 ok"] * 7, [None, None, "451", "550", "554", None, None], ["S"] * 7)).fetchall()
    assert [s for _, s in out] == ["sent", "sent", "queued", "failed", "failed", "queued", None]
    assert statuses(conn, box.campaign_id) == {"sent": 2, "queued": 2, "failed": 2}
    assert conn.execute("SELECT emails_sent, emails_delivered, bounces FROM campaigns.campaign_steps WHERE id = %s",
                        (box.step_id,)).fetchone() == (3, 2, 1)
    with pytest.raises(psycopg.Error) as e:
        conn.execute("SELECT * FROM campaigns.record_send_results('w1', %s::uuid[], %s::text[])", (ids[:2], ["sent"]))
    assert e.value.sqlstate == "QC422"


def test_batch_sent_records_one_delivered_event_and_counts_per_tenant_setting(conn):
    smtp_box = make_outbox(conn, 3)
    provider = make_tenant(conn)
    conn.execute("UPDATE campaigns.tenants SET settings = '{\"delivery_events\": \"provider\"}' WHERE id = %s",
                 (provider["tenant_id"],))
    provider_box = make_outbox(conn, 2, tenant=provider)
    ids = [r["message_id"] for r in claim(conn)]
    assert len(ids) == 5
    out = conn.execute(RECORD_MANY, ("w1", ids, ["sent"] * 5)).fetchall()
    assert sorted(s for _, s in out) == ["sent"] * 5
    rows = conn.execute(
        "SELECT campaign_id, count(*) FILTER (WHERE delivered_at = sent_at), count(*) FILTER (WHERE delivered_at IS NULL) "
        "FROM campaigns.email_messages WHERE id = ANY (%s) GROUP BY 1", (ids,)).fetchall()
    assert dict((c, (d, n)) for c, d, n in rows) == {smtp_box.campaign_id: (3, 0), provider_box.campaign_id: (0, 2)}
    assert conn.execute(
        "SELECT campaign_id, count(*) FROM campaigns.email_events WHERE message_id = ANY (%s) AND event_type = 'delivered' "
        "AND provider_event_id = 'smtp-accepted' GROUP BY 1", (ids,)).fetchall() == [(smtp_box.campaign_id, 3)]
    counters = {i: (sent, delivered) for i, sent, delivered in conn.execute(
        "SELECT id, emails_sent, emails_delivered FROM campaigns.campaign_steps WHERE id IN (%s, %s)",
        (smtp_box.step_id, provider_box.step_id))}
    assert counters == {smtp_box.step_id: (3, 3), provider_box.step_id: (2, 0)}


def test_batch_resend_after_a_lost_lease_counts_delivery_once(conn):
    box = make_outbox(conn, 1)
    first = claim(conn, worker="w1")[0]["message_id"]
    assert conn.execute(RECORD_MANY, ("w1", [first], ["sent"])).fetchall() == [(first, "sent")]
    delivered_at = message(conn, first)["delivered_at"]
    # The same message leased again (a worker died after SMTP accepted it) and accepted again.
    conn.execute("UPDATE campaigns.email_messages SET status = 'sending', locked_by = 'w2', "
                 "lease_expires_at = now() + interval '5 minutes' WHERE id = %s", (first,))
    assert conn.execute(RECORD_MANY, ("w2", [first], ["sent"])).fetchall() == [(first, "sent")]
    assert events(conn, first) == ["delivered"]
    assert message(conn, first)["delivered_at"] == delivered_at
    assert conn.execute("SELECT emails_sent, emails_delivered FROM campaigns.campaign_steps WHERE id = %s",
                        (box.step_id,)).fetchone() == (2, 1)
    # A lease the worker no longer holds changes nothing.
    assert conn.execute(RECORD_MANY, ("w1", [first], ["sent"])).fetchall() == [(first, None)]


def test_batch_delivery_ends_a_run_of_soft_bounces(conn):
    box = make_outbox(conn, 2)
    conn.execute("UPDATE campaigns.contacts SET consecutive_soft_bounces = 2 WHERE id IN "
                 "(SELECT contact_id FROM campaigns.email_messages WHERE campaign_id = %s)", (box.campaign_id,))
    ids = [r["message_id"] for r in claim(conn)]
    conn.execute(RECORD_MANY, ("w1", ids[:1], ["sent"]))
    assert conn.execute(
        "SELECT m.id = %s, c.consecutive_soft_bounces FROM campaigns.email_messages m "
        "JOIN campaigns.contacts c ON c.id = m.contact_id WHERE m.id = ANY (%s) ORDER BY 1",
        (ids[0], ids)).fetchall() == [(False, 2), (True, 0)]


# -- reply lookup, dead letters under RLS, notifications ----------------------------------------------


def test_find_message_for_reply(conn):
    box = make_outbox(conn, 2)
    rows = claim(conn)
    for r in rows:
        record(conn, r["message_id"], "sent", subject="Hello " + r["first_name"])
    a, b = rows
    find = "SELECT campaigns.find_message_for_reply(%s, %s, %s, %s)"
    assert conn.execute(find, (box.tenant_id, [a["smtp_message_id"]], None, None)).fetchone()[0] == a["message_id"]
    assert conn.execute(find, (box.tenant_id, [b["smtp_message_id"].strip("<>")], None, None)).fetchone()[0] == b["message_id"]
    assert conn.execute(find, (box.tenant_id, ["<unknown@x>", b["smtp_message_id"]], None, None)).fetchone()[0] == b["message_id"]
    # subject fallback: Re:/Fwd: prefixes, case-insensitive address
    assert conn.execute(find, (box.tenant_id, [], a["to_email"].upper(), "RE: Fwd: hello " + a["first_name"])).fetchone()[0] \
        == a["message_id"]
    assert conn.execute(find, (box.tenant_id, [], a["to_email"], "Something else")).fetchone()[0] is None
    other = make_tenant(conn)["tenant_id"]
    assert conn.execute(find, (other, [a["smtp_message_id"]], None, None)).fetchone()[0] is None


@pytest.mark.commits  # runs its own BEGIN … ROLLBACK
def test_dead_letters_view_is_tenant_scoped(conn):
    box = make_outbox(conn, 1)
    other = make_outbox(conn, 1)
    for row in claim(conn):
        record(conn, row["message_id"], "rejected", response="554 no")
    conn.execute("BEGIN")
    conn.execute("SET LOCAL ROLE campaigns_app")
    conn.execute("SELECT set_config('campaigns.tenant_id', %s, true)", (str(box.tenant_id),))
    seen = [r[0] for r in conn.execute("SELECT tenant_id FROM campaigns.dead_letters")]
    conn.execute("ROLLBACK")
    assert seen == [box.tenant_id]
    assert other.tenant_id not in seen


@pytest.mark.commits
def test_hold_and_resume_notifications(db_url, conn):
    box = make_outbox(conn, 1)
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN campaigns_outbox")
        conn.execute("SELECT campaigns.pause_campaign(%s)", (box.campaign_id,))
        conn.execute("SELECT campaigns.resume_campaign(%s)", (box.campaign_id,))
        contact = conn.execute("SELECT contact_id FROM campaigns.email_messages WHERE campaign_id = %s",
                               (box.campaign_id,)).fetchone()[0]
        conn.execute("UPDATE campaigns.contacts SET status = 'unsubscribed' WHERE id = %s", (contact,))
        payloads = [n.payload for n in listener.notifies(timeout=2, stop_after=3)]
    assert payloads == [
        f'{{"hold" : "campaign", "id" : "{box.campaign_id}"}}',
        f'{{"resume" : "campaign", "id" : "{box.campaign_id}"}}',
        f'{{"hold" : "contact", "id" : "{contact}"}}',
    ]


@pytest.mark.commits  # runs its own BEGIN … ROLLBACK
def test_worker_role_may_claim_and_record(conn):
    make_outbox(conn, 1)
    conn.execute("BEGIN")
    conn.execute("SET LOCAL ROLE campaigns_worker")
    row = claim(conn)[0]
    assert record(conn, row["message_id"], "sent") == "sent"
    conn.execute("COMMIT")


def test_an_ab_variants_content_and_sender_are_claimed(conn):
    box = make_outbox(conn, 1)
    test_id = conn.execute("INSERT INTO campaigns.ab_tests (tenant_id, campaign_id, step_id) VALUES (%s, %s, %s) RETURNING id",
                           (box.tenant_id, box.campaign_id, box.step_id)).fetchone()[0]
    variant = conn.execute(
        "INSERT INTO campaigns.ab_test_variants (tenant_id, ab_test_id, variant_name, subject_line, email_content, "
        "sender_name, sender_email) VALUES (%s, %s, 'B', 'Variant subject', '<p>variant</p>', 'Bee', 'bee@example.com') "
        "RETURNING id", (box.tenant_id, test_id)).fetchone()[0]
    conn.execute("UPDATE campaigns.email_messages SET ab_variant_id = %s WHERE campaign_id = %s", (variant, box.campaign_id))
    row = claim(conn)[0]
    assert (row["ab_variant_id"], row["subject_template"], row["html_template"], row["text_template"]) == \
        (variant, "Variant subject", "<p>variant</p>", None)
    assert (row["variant_sender_email"], row["variant_sender_name"]) == ("bee@example.com", "Bee")


def test_mail_of_a_campaign_that_ended_while_in_flight_is_cancelled(conn):
    # end_date: the engine completes the campaign and cancels queued mail; a message a worker held
    # at that moment and released afterwards must not wait forever
    box = make_outbox(conn, 2)
    rows = claim(conn)
    conn.execute("UPDATE campaigns.campaigns SET status = 'completed', completed_at = now() WHERE id = %s", (box.campaign_id,))
    record(conn, rows[0]["message_id"], "release")
    assert claim(conn) == []
    assert conn.execute("SELECT status, last_error FROM campaigns.email_messages WHERE id = %s",
                        (rows[0]["message_id"],)).fetchone() == ("cancelled", "cancelled at send time: campaign completed")


@pytest.mark.commits  # runs its own BEGIN … ROLLBACK
def test_the_api_role_cannot_claim_outbox_mail(conn):
    make_outbox(conn, 1)
    other = make_tenant(conn)
    conn.execute("BEGIN")
    conn.execute("SET LOCAL ROLE campaigns_app")
    conn.execute("SELECT set_config('campaigns.tenant_id', %s, true)", (str(other["tenant_id"]),))
    try:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            claim(conn)
    finally:
        conn.execute("ROLLBACK")
