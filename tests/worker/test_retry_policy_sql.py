"""The outbox retry policy in SQL: transient failures retried with backoff until the retry lifetime
(sender account, else tenant, else two days) ends, the last try at its very end; lease reclaims
counted apart from attempts and capped (worker_crashed); a claim that skips relays reported down;
and requeue_dead_letters."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.support.factories import make_tenant
from tests.support.outbox import claim, make_outbox, record, statuses


@pytest.fixture
def conn(tx_conn):
    """SQL-level tests: rolled back at the end on the shared database, unless marked commits."""
    return tx_conn


def message(conn, message_id):
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT * FROM campaigns.email_messages WHERE id = %s", (message_id,)).fetchone()


def dead_letter(conn, message_id):
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT * FROM campaigns.dead_letters WHERE message_id = %s", (message_id,)).fetchone()


def lifetime(conn, tenant_id, sender_id=None, default=None) -> timedelta:
    return conn.execute("SELECT campaigns._retry_lifetime(%s, %s, %s::interval)",
                        (tenant_id, sender_id, default)).fetchone()[0]


def fail_now(conn, box, outcome="rejected", response="554 5.7.1 no", error=None):
    """Every queued message of the box leased and recorded as failed; their ids."""
    ids = []
    for row in claim(conn, limit=1000):
        if row["campaign_id"] == box.campaign_id:
            assert record(conn, row["message_id"], outcome, response=response, error=error) == "failed"
            ids.append(row["message_id"])
        else:
            record(conn, row["message_id"], "release")
    return ids


REQUEUE = ("SELECT message_id, outcome FROM campaigns.requeue_dead_letters("
           "p_message_ids => %(ids)s::uuid[], p_campaign_id => %(campaign)s, p_failure_kind => %(kind)s, "
           "p_failed_after => %(after)s, p_failed_before => %(before)s, p_tenant_id => %(tenant)s)")


def requeue(conn, tenant, ids=None, campaign=None, kind=None, after=None, before=None) -> dict:
    rows = conn.execute(REQUEUE, {"ids": ids, "campaign": campaign, "kind": kind, "after": after,
                                  "before": before, "tenant": tenant}).fetchall()
    return dict(rows)


# -- retry lifetime ------------------------------------------------------------------------------------


def test_lifetime_comes_from_the_sender_account_then_the_tenant_then_two_days(conn):
    tenant = make_tenant(conn)
    t = tenant["tenant_id"]
    box = make_outbox(conn, 1, tenant=tenant, sender={})
    sender = conn.execute("SELECT sender_account_id FROM campaigns.campaigns WHERE id = %s", (box.campaign_id,)).fetchone()[0]
    assert lifetime(conn, t, sender) == timedelta(days=2)
    assert lifetime(conn, t, sender, "3 hours") == timedelta(hours=3)  # the worker's default, when nothing is set
    conn.execute("UPDATE campaigns.tenants SET retry_lifetime = '6 hours' WHERE id = %s", (t,))
    assert lifetime(conn, t, sender, "3 hours") == timedelta(hours=6)
    assert lifetime(conn, t, None) == timedelta(hours=6)
    conn.execute("UPDATE campaigns.sender_accounts SET retry_lifetime = '5 days' WHERE id = %s", (sender,))
    assert lifetime(conn, t, sender) == timedelta(days=5)


@pytest.mark.parametrize("table", ["tenants", "sender_accounts"])
@pytest.mark.parametrize("value", ["30 seconds", "31 days"])
def test_lifetime_is_between_a_minute_and_30_days(conn, table, value):
    tenant = make_tenant(conn)
    t = tenant["tenant_id"]
    make_outbox(conn, 1, tenant=tenant, sender={})
    with pytest.raises(psycopg.errors.CheckViolation) as e:
        conn.execute(f"UPDATE campaigns.{table} SET retry_lifetime = %s::interval WHERE {'id' if table == 'tenants' else 'tenant_id'} = %s",
                     (value, t))
    assert e.value.diag.constraint_name == f"ck_{table}_retry_lifetime"


def test_backoff_doubles_within_jitter_bounds_up_to_the_cap(conn):
    for tries, expected in ((1, 60), (2, 120), (3, 240), (6, 1920), (7, 3600), (40, 3600)):
        delays = [float(conn.execute("SELECT extract(epoch FROM campaigns._retry_delay(%s, interval '1 minute'))",
                                     (tries,)).fetchone()[0]) for _ in range(20)]
        assert all(0.75 * expected <= d <= 1.25 * expected for d in delays), (tries, delays)
        assert len(set(delays)) > 1  # jittered


def test_first_transient_failure_fixes_the_lifetime_and_counts_an_attempt(conn):
    tenant = make_tenant(conn)
    t = tenant["tenant_id"]
    conn.execute("UPDATE campaigns.tenants SET retry_lifetime = '1 day' WHERE id = %s", (t,))
    make_outbox(conn, 1, tenant=tenant)
    first = datetime.now(timezone.utc)
    row = claim(conn, as_of=first)[0]
    assert record(conn, row["message_id"], "retry", error="451 4.7.1 greylisted", as_of=first) == "queued"
    m = message(conn, row["message_id"])
    assert (m["status"], m["attempts"], m["retry_expires_at"]) == ("queued", 1, first + timedelta(days=1))
    assert 45 <= (m["next_attempt_at"] - first).total_seconds() <= 75
    # A later change of the setting does not move a lifetime already running.
    conn.execute("UPDATE campaigns.tenants SET retry_lifetime = '1 hour' WHERE id = %s", (t,))
    second = m["next_attempt_at"]
    row = claim(conn, as_of=second)[0]
    assert row["attempt"] == 2 and row["retry_expires_at"] == first + timedelta(days=1)
    assert record(conn, row["message_id"], "retry", error="451", as_of=second) == "queued"
    m = message(conn, row["message_id"])
    assert m["attempts"] == 2 and m["retry_expires_at"] == first + timedelta(days=1)
    assert 90 <= (m["next_attempt_at"] - second).total_seconds() <= 150


def test_the_last_try_is_at_the_end_of_the_lifetime_then_the_message_expires(conn):
    box = make_outbox(conn, 1, sender={"retry_lifetime": "10 minutes"})
    first = datetime.now(timezone.utc)
    row = claim(conn, as_of=first)[0]
    # The backoff (an hour) would end past the lifetime: the next try is at its end instead.
    assert record(conn, row["message_id"], "retry", error="421 busy", as_of=first, retry_base="1 hour") == "queued"
    m = message(conn, row["message_id"])
    assert m["next_attempt_at"] == m["retry_expires_at"] == first + timedelta(minutes=10)
    assert claim(conn, as_of=first + timedelta(minutes=9)) == []
    end = m["retry_expires_at"]
    row = claim(conn, as_of=end)[0]
    assert record(conn, row["message_id"], "retry", response="451 4.3.0 still busy", error="451 still busy",
                  as_of=end) == "failed"
    m = message(conn, row["message_id"])
    assert (m["status"], m["failure_kind"], m["failed_at"], m["attempts"]) == ("failed", "retry_lifetime_expired", end, 2)
    dead = dead_letter(conn, row["message_id"])
    assert (dead["failure_kind"], dead["attempts"], dead["retry_expires_at"], dead["smtp_response"]) == \
        ("retry_lifetime_expired", 2, end, "451 4.3.0 still busy")
    assert dead["campaign_id"] == box.campaign_id and dead["lease_reclaims"] == 0


def test_a_relay_down_for_hours_is_retried_for_the_whole_default_lifetime(conn):
    # Retried at each due time: delays double to the one-hour cap and the tries span two days.
    make_outbox(conn, 1)
    first = as_of = datetime.now(timezone.utc)
    tries = []
    status = "queued"
    while status == "queued":
        rows = claim(conn, as_of=as_of)
        assert len(rows) == 1 and len(tries) < 200
        tries.append(as_of)
        status = record(conn, rows[0]["message_id"], "retry", error="421 4.4.2 connection refused", as_of=as_of)
        as_of = message(conn, rows[0]["message_id"])["next_attempt_at"]
    m = message(conn, rows[0]["message_id"])
    gaps = [(b - a).total_seconds() for a, b in zip(tries, tries[1:])]
    assert m["failure_kind"] == "retry_lifetime_expired" and m["attempts"] == len(tries)
    assert tries[-1] == first + timedelta(days=2) == m["retry_expires_at"]
    assert 40 <= len(tries) <= 75
    assert max(gaps) <= 3600 * 1.25 and gaps[0] <= 75


def test_a_retry_still_due_when_its_campaign_ends_or_its_enrollment_exits_is_cancelled(conn):
    box = make_outbox(conn, 2)
    a, b = claim(conn)
    for r in (a, b):
        assert record(conn, r["message_id"], "retry", error="451 greylisted") == "queued"
    conn.execute("UPDATE campaigns.campaign_contacts SET status = 'exited', exit_reason = 'replied', exited_at = now() "
                 "WHERE id = %s", (a["enrollment_id"],))
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    with conn.transaction(force_rollback=True):
        assert [r["message_id"] for r in claim(conn, as_of=later)] == [b["message_id"]]
    conn.execute("UPDATE campaigns.campaigns SET status = 'completed', completed_at = now() WHERE id = %s", (box.campaign_id,))
    assert claim(conn, as_of=later) == []
    assert statuses(conn, box.campaign_id) == {"cancelled": 2}
    assert message(conn, b["message_id"])["last_error"] == "cancelled at send time: campaign completed"


def test_permanent_failures_fail_at_once_with_their_kind(conn):
    box = make_outbox(conn, 3)
    a, b, c = claim(conn)
    assert record(conn, a["message_id"], "failed", response="550 5.1.1 unknown user") == "failed"
    assert record(conn, b["message_id"], "rejected", response="554 5.7.1 blocked") == "failed"
    assert record(conn, c["message_id"], "rejected", error="render_limit: the template rendered more than 1 MB") == "failed"
    kinds = dict(conn.execute("SELECT message_id, failure_kind FROM campaigns.dead_letters WHERE campaign_id = %s",
                              (box.campaign_id,)).fetchall())
    assert kinds == {a["message_id"]: "bounced", b["message_id"]: "rejected", c["message_id"]: "render_limit"}
    assert {message(conn, r["message_id"])["attempts"] for r in (a, b, c)} == {1}


def test_a_failure_kind_outside_the_list_is_refused(conn):
    make_outbox(conn, 1)
    row = claim(conn)[0]
    record(conn, row["message_id"], "rejected")
    with pytest.raises(psycopg.errors.CheckViolation) as e:
        conn.execute("UPDATE campaigns.email_messages SET failure_kind = 'gremlins' WHERE id = %s", (row["message_id"],))
    assert e.value.diag.constraint_name == "ck_email_messages_failure_kind"


# -- attempts and lease reclaims -------------------------------------------------------------------


def test_a_claim_counts_no_attempt_and_a_release_gives_nothing_back(conn):
    make_outbox(conn, 1)
    row = claim(conn)[0]
    assert message(conn, row["message_id"])["attempts"] == 0
    assert record(conn, row["message_id"], "release") == "queued"
    row = claim(conn)[0]
    assert row["attempt"] == 1 and message(conn, row["message_id"])["attempts"] == 0
    assert record(conn, row["message_id"], "sent") == "sent"
    assert message(conn, row["message_id"])["attempts"] == 1


def test_reclaims_are_counted_apart_and_capped_as_worker_crashed(conn):
    box = make_outbox(conn, 1)
    as_of = datetime.now(timezone.utc)
    for n in range(3):
        rows = claim(conn, worker=f"dying-{n}", lease="1 second", as_of=as_of, max_reclaims=2)
        assert [(r["reclaimed"], r["lease_reclaims"], r["attempt"]) for r in rows] == [(n > 0, n, 1)]
        as_of += timedelta(seconds=5)
    # The third worker died too: a third reclaim would exceed 2, so the message is a dead letter.
    assert claim(conn, worker="w4", as_of=as_of, max_reclaims=2) == []
    m = message(conn, rows[0]["message_id"])
    assert (m["status"], m["failure_kind"], m["lease_reclaims"], m["attempts"], m["lease_expires_at"]) == \
        ("failed", "worker_crashed", 2, 0, None)
    assert m["failed_at"] == as_of and m["last_error"].startswith("worker_crashed")
    dead = dead_letter(conn, rows[0]["message_id"])
    assert (dead["failure_kind"], dead["lease_reclaims"], dead["last_worker"]) == ("worker_crashed", 2, "dying-2")
    assert statuses(conn, box.campaign_id) == {"failed": 1}


def test_a_recorded_result_after_a_reclaim_is_one_attempt(conn):
    make_outbox(conn, 1)
    first = claim(conn, worker="dead", lease="1 second")[0]
    again = claim(conn, worker="w2", as_of=datetime.now(timezone.utc) + timedelta(seconds=5))[0]
    assert again["message_id"] == first["message_id"] and again["reclaimed"]
    assert record(conn, again["message_id"], "sent", worker="w2") == "sent"
    m = message(conn, again["message_id"])
    assert (m["attempts"], m["lease_reclaims"]) == (1, 1)


def test_claim_rejects_a_negative_reclaim_budget(conn):
    with pytest.raises(psycopg.Error) as e:
        claim(conn, max_reclaims=-1)
    assert e.value.sqlstate == "QC422"


# -- down relays -------------------------------------------------------------------------------------


def test_relay_key(conn):
    key = "SELECT campaigns._relay_key(%s, %s)"
    assert conn.execute(key, (None, None)).fetchone()[0] == ""
    assert conn.execute(key, ("Relay.Example.COM", 2525)).fetchone()[0] == "relay.example.com:2525"
    assert conn.execute(key, ("relay.example.com", None)).fetchone()[0] == "relay.example.com:"


def test_mail_for_a_down_relay_is_left_untouched(conn):
    t = make_tenant(conn)
    own = make_outbox(conn, 2, tenant=t, sender={"smtp_host": "Relay.Example.com", "smtp_port": 2525})
    default = make_outbox(conn, 2, tenant=t)
    before = {r[0]: r[1:] for r in conn.execute(
        "SELECT id, status, next_attempt_at, attempts, lease_reclaims FROM campaigns.email_messages WHERE campaign_id = %s",
        (own.campaign_id,))}
    rows = claim(conn, down_relays=["relay.example.com:2525"])
    assert {r["campaign_id"] for r in rows} == {default.campaign_id} and {r["relay_key"] for r in rows} == {""}
    after = {r[0]: r[1:] for r in conn.execute(
        "SELECT id, status, next_attempt_at, attempts, lease_reclaims FROM campaigns.email_messages WHERE campaign_id = %s",
        (own.campaign_id,))}
    assert after == before
    # The default relay down: the sender account's relay still gets its mail.
    rows = claim(conn, worker="w2", down_relays=[""])
    assert {r["campaign_id"] for r in rows} == {own.campaign_id}
    assert {r["relay_key"] for r in rows} == {"relay.example.com:2525"}


def test_an_expired_lease_for_a_down_relay_is_not_reclaimed(conn):
    make_outbox(conn, 1, sender={"smtp_host": "relay.example.com"})
    row = claim(conn, worker="dead", lease="1 second")[0]
    later = datetime.now(timezone.utc) + timedelta(seconds=5)
    assert claim(conn, worker="w2", as_of=later, down_relays=["relay.example.com:"]) == []
    assert message(conn, row["message_id"])["lease_reclaims"] == 0
    assert claim(conn, worker="w2", as_of=later)[0]["reclaimed"] is True


# -- requeue_dead_letters ------------------------------------------------------------------------------


def test_requeue_outcomes(conn):
    t = make_tenant(conn)
    box = make_outbox(conn, 5, tenant=t)
    ended = make_outbox(conn, 1, tenant=t)
    rows = {r["to_email"]: r for r in claim(conn)}
    ok, bounced, suppressed, exited, not_mailable = sorted(
        (r for r in rows.values() if r["campaign_id"] == box.campaign_id), key=lambda r: r["to_email"])
    for r in (ok, suppressed, exited, not_mailable):
        record(conn, r["message_id"], "retry")
        conn.execute("UPDATE campaigns.email_messages SET status = 'failed', failed_at = now(), "
                     "failure_kind = 'retry_lifetime_expired', lease_reclaims = 1 WHERE id = %s", (r["message_id"],))
    record(conn, bounced["message_id"], "failed", response="550 5.1.1 unknown")
    conn.execute("INSERT INTO campaigns.suppressions (tenant_id, email, reason) VALUES (%s, %s, 'manual')",
                 (box.tenant_id, suppressed["to_email"].upper()))
    conn.execute("UPDATE campaigns.campaign_contacts SET status = 'exited', exit_reason = 'replied', exited_at = now() "
                 "WHERE id = %s", (exited["enrollment_id"],))
    conn.execute("UPDATE campaigns.contacts SET status = 'unsubscribed' WHERE id = %s", (not_mailable["contact_id"],))
    (ended_row,) = [r for r in rows.values() if r["campaign_id"] == ended.campaign_id]
    record(conn, ended_row["message_id"], "rejected")
    conn.execute("UPDATE campaigns.campaigns SET status = 'completed', completed_at = now() WHERE id = %s", (ended.campaign_id,))
    unknown = UUID("00000000-0000-0000-0000-000000000001")
    ids = [r["message_id"] for r in (ok, bounced, suppressed, exited, not_mailable, ended_row)] + [unknown]

    as_of = datetime.now(timezone.utc) + timedelta(minutes=1)
    out = dict(conn.execute("SELECT * FROM campaigns.requeue_dead_letters(%s::uuid[], p_tenant_id => %s, p_as_of => %s)",
                            (ids, box.tenant_id, as_of)).fetchall())
    assert out == {
        ok["message_id"]: "requeued", bounced["message_id"]: "suppressed",
        suppressed["message_id"]: "suppressed", exited["message_id"]: "enrollment_exited",
        not_mailable["message_id"]: "suppressed", ended_row["message_id"]: "campaign_ended", unknown: "not_found"}
    m = message(conn, ok["message_id"])
    assert (m["status"], m["next_attempt_at"], m["failed_at"], m["failure_kind"], m["retry_expires_at"],
            m["lease_reclaims"], m["attempts"]) == ("queued", as_of, None, None, None, 0, 1)
    assert {message(conn, i)["status"] for i in ids[1:6]} == {"failed"}
    # Requeued mail is claimed again, with a fresh lifetime at its next transient failure.
    assert [r["message_id"] for r in claim(conn, as_of=as_of)] == [ok["message_id"]]
    # A second requeue finds it no longer failed.
    assert requeue(conn, box.tenant_id, ids=[ok["message_id"]]) == {ok["message_id"]: "not_found"}


def test_requeue_filters(conn):
    t = make_tenant(conn)
    a = make_outbox(conn, 3, tenant=t)
    b = make_outbox(conn, 2, tenant=t)
    # a's three first (failed 0, 1 and 2 days after base), then b's two (0 and 1 day)
    rows = sorted(claim(conn), key=lambda r: (r["campaign_id"] != a.campaign_id, str(r["message_id"])))
    base = datetime.now(timezone.utc) - timedelta(days=3)
    for i, r in enumerate(rows):
        record(conn, r["message_id"], "rejected")
        conn.execute("UPDATE campaigns.email_messages SET failed_at = %s, failure_kind = %s WHERE id = %s",
                     (base + timedelta(days=i % 3), "worker_crashed" if i % 2 else "rejected", r["message_id"]))
    failed = {r["message_id"]: message(conn, r["message_id"]) for r in rows}

    def expect(**filters):
        return {i for i, m in failed.items()
                if all(f(m) for key, f in (
                    ("campaign", lambda m: m["campaign_id"] == filters.get("campaign")),
                    ("kind", lambda m: m["failure_kind"] == filters.get("kind")),
                    ("after", lambda m: m["failed_at"] >= filters.get("after")),
                    ("before", lambda m: m["failed_at"] < filters.get("before"))) if key in filters)}

    cases = [dict(kind="worker_crashed"), dict(campaign=b.campaign_id),
             dict(after=base + timedelta(days=1)), dict(before=base + timedelta(days=1), kind="rejected"),
             dict(campaign=a.campaign_id, after=base + timedelta(hours=1), before=base + timedelta(days=2))]
    for filters in cases:
        with conn.transaction(force_rollback=True):
            got = requeue(conn, t["tenant_id"], **filters)
        assert set(got) == expect(**filters) and set(got.values()) <= {"requeued"}, filters
        assert got, filters  # each case matches something


@pytest.mark.parametrize("filters, sqlstate", [
    ({}, "QC422"),
    ({"kind": "cancelled"}, "QC422"),
    ({"ids": []}, "QC422"),
    ({"after": datetime(2026, 2, 1, tzinfo=timezone.utc), "before": datetime(2026, 1, 1, tzinfo=timezone.utc)}, "QC301"),
])
def test_requeue_refuses_bad_filters_and_changes_nothing(conn, filters, sqlstate):
    box = make_outbox(conn, 1)
    fail_now(conn, box)
    with pytest.raises(psycopg.Error) as e:
        requeue(conn, box.tenant_id, **filters)
    assert e.value.sqlstate == sqlstate
    assert statuses(conn, box.campaign_id) == {"failed": 1}


def test_requeue_needs_a_tenant(conn):
    with pytest.raises(psycopg.Error) as e:
        conn.execute("SELECT * FROM campaigns.requeue_dead_letters(p_failure_kind => 'rejected')")
    assert e.value.sqlstate == "QC422"


def test_requeue_touches_only_the_tenants_dead_letters(conn):
    mine = make_outbox(conn, 1)
    theirs = make_outbox(conn, 1)
    my_ids = fail_now(conn, mine)
    their_ids = fail_now(conn, theirs)
    assert requeue(conn, mine.tenant_id, ids=my_ids + their_ids) == {my_ids[0]: "requeued", their_ids[0]: "not_found"}
    assert requeue(conn, mine.tenant_id, campaign=theirs.campaign_id) == {}
    assert statuses(conn, theirs.campaign_id) == {"failed": 1}


@pytest.mark.commits  # runs its own BEGIN … ROLLBACK
def test_requeue_through_the_api_role_sees_its_tenant_only(conn):
    mine = make_outbox(conn, 1)
    theirs = make_outbox(conn, 1)
    my_ids, their_ids = fail_now(conn, mine), fail_now(conn, theirs)
    conn.execute("BEGIN")
    conn.execute("SET LOCAL ROLE campaigns_app")
    conn.execute("SELECT set_config('campaigns.tenant_id', %s, true)", (str(mine.tenant_id),))
    out = dict(conn.execute("SELECT * FROM campaigns.requeue_dead_letters(%s::uuid[])", (my_ids + their_ids,)).fetchall())
    forged = dict(conn.execute("SELECT * FROM campaigns.requeue_dead_letters(p_failure_kind => 'rejected', p_tenant_id => %s)",
                               (theirs.tenant_id,)).fetchall())
    conn.execute("COMMIT")
    assert out == {my_ids[0]: "requeued", their_ids[0]: "not_found"}
    assert forged == {}  # Row Level Security: another tenant's id shows nothing
    assert statuses(conn, theirs.campaign_id) == {"failed": 1}
    assert statuses(conn, mine.campaign_id) == {"queued": 1}


@pytest.mark.commits
def test_concurrent_requeues_requeue_each_message_once(db_url, conn):
    box = make_outbox(conn, 60)
    fail_now(conn, box)
    barrier = threading.Barrier(3)
    results: list[dict] = []

    def run():
        with psycopg.connect(db_url, autocommit=True) as c:
            barrier.wait()
            results.append(requeue(c, box.tenant_id, campaign=box.campaign_id))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    requeued = [i for r in results for i, outcome in r.items() if outcome == "requeued"]
    assert len(results) == 3
    assert len(requeued) == 60 and len(set(requeued)) == 60
    assert statuses(conn, box.campaign_id) == {"queued": 60}
