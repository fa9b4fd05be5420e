"""A/B tests on email steps: split, hold-back, decision, deployment."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from tests.support.ab import build, held, per_variant
from tests.support.factories import insert, make_step
from tests.support.waits import wait_until_blocked

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)


def _error(conn, sql, args=()) -> str:
    with pytest.raises(psycopg.Error) as e:
        conn.execute(sql, args)
    return e.value.sqlstate


def launch_and_process(conn, w, at=T0):
    conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (w["campaign"], at))
    conn.execute("SELECT campaigns.process_due_steps(%s)", (at,))


def engage(conn, w, variant: str, delivered: int, opened: int, clicked: int = 0) -> None:
    """Mark the first `delivered` sample messages of a variant delivered, `opened` of them opened, `clicked` clicked."""
    conn.execute(
        """
        WITH m AS (SELECT id, row_number() OVER (ORDER BY id) AS i FROM campaigns.email_messages
                   WHERE ab_variant_id = %(v)s)
        UPDATE campaigns.email_messages e
        SET status = 'sent', sent_at = %(t)s, delivered_at = %(t)s,
            first_opened_at = CASE WHEN m.i <= %(o)s THEN %(t)s END,
            first_clicked_at = CASE WHEN m.i <= %(c)s THEN %(t)s END
        FROM m WHERE e.id = m.id AND m.i <= %(d)s
        """, {"v": w["variants"][variant], "t": T0 + timedelta(minutes=30), "o": opened, "c": clicked, "d": delivered})


def test_split_sizes_formula(conn):
    cases = [((1000, 20, 2), 100), ((10000, 30, 3), 1000), ((10000, 50, 5), 1000), ((7, 50, 2), 1), ((3, 10, 2), 0)]
    for args, expected in cases:
        assert conn.execute("SELECT campaigns.ab_split_sizes(%s, %s, %s)", args).fetchone()[0] == expected


def test_sample_is_split_evenly_and_the_rest_is_held(conn):
    w = build(conn, 23, 50, [{"is_control": True}, {}])          # floor(23 * 50 / 100 / 2) = 5 each
    launch_and_process(conn, w)
    assert per_variant(conn, w) == {"A": 5, "B": 5}
    assert held(conn, w) == 13
    assert conn.execute("SELECT count(*) FROM campaigns.email_messages WHERE campaign_id = %s",
                        (w["campaign"],)).fetchone()[0] == 10
    status, started = conn.execute("SELECT status, started_at FROM campaigns.ab_tests WHERE id = %s", (w["test"],)).fetchone()
    assert (status, started) == ("running", T0)
    # Held rows are not due: another pass sends nothing more.
    conn.execute("SELECT campaigns.process_due_steps(%s)", (T0 + timedelta(hours=1),))
    assert per_variant(conn, w) == {"A": 5, "B": 5}


def test_split_is_reproducible_from_test_and_contact_ids(conn):
    w = build(conn, 12, 50, [{}, {}, {}])                         # floor(12 * 50 / 100 / 3) = 2 each
    launch_and_process(conn, w)
    contacts = [r[0] for r in conn.execute(
        "SELECT contact_id FROM campaigns.campaign_contacts WHERE campaign_id = %s", (w["campaign"],))]
    order = sorted(contacts, key=lambda c: hashlib.md5(f"{w['test']}{c}".encode()).hexdigest())
    expected = {c: "ABC"[i // 2] for i, c in enumerate(order[:6])}
    actual = dict(conn.execute(
        "SELECT a.contact_id, v.variant_name FROM campaigns.ab_test_assignments a "
        "JOIN campaigns.ab_test_variants v ON v.id = a.variant_id WHERE a.ab_test_id = %s", (w["test"],)).fetchall())
    assert actual == expected


@pytest.mark.commits
def test_two_concurrent_passes_assign_the_sample_once(db_url):
    with psycopg.connect(db_url, autocommit=True) as setup:
        w = build(setup, 40, 50, [{}, {}])
        setup.execute("SELECT campaigns.launch_campaign(%s, %s)", (w["campaign"], T0))
    a, b = psycopg.connect(db_url), psycopg.connect(db_url)
    try:
        a.execute("SELECT campaigns.process_due_steps(%s, 20)", (T0,))
        # b claims the other 20 (a's assignments hold foreign-key locks on them, which the claim must not
        # skip), waits on the test row a locked, then finds it running and uses a's assignment.
        with ThreadPoolExecutor(1) as pool, psycopg.connect(db_url, autocommit=True) as monitor:
            done = pool.submit(lambda: (b.execute("SELECT campaigns.process_due_steps(%s, 20)", (T0,)).fetchone()[0],
                                        b.commit())[0])
            wait_until_blocked(monitor, b.info.backend_pid, done)
            assert not done.done(), "the second pass must overlap the first"
            a.commit()
            assert done.result(timeout=30) == 20
        with psycopg.connect(db_url) as check:
            assert check.execute("SELECT count(*) FROM campaigns.ab_test_assignments").fetchone()[0] == 20
            assert per_variant(check, w) == {"A": 10, "B": 10}
    finally:
        a.close()
        b.close()


def test_no_decision_before_the_duration(conn):
    w = build(conn, 20, 100, [{"is_control": True}, {}], duration_hours=4)
    launch_and_process(conn, w)
    assert conn.execute("SELECT campaigns.evaluate_ab_tests(%s)", (T0 + timedelta(hours=3, minutes=59),)).fetchone()[0] == 0
    assert conn.execute("SELECT status FROM campaigns.ab_tests WHERE id = %s", (w["test"],)).fetchone()[0] == "running"
    assert conn.execute("SELECT campaigns.evaluate_ab_tests(%s)", (T0 + timedelta(hours=4),)).fetchone()[0] == 1


def _decide(conn, w, hours=4):
    conn.execute("SELECT campaigns.evaluate_ab_tests(%s)", (T0 + timedelta(hours=hours),))
    return conn.execute("SELECT status, decision, winner_variant_id FROM campaigns.ab_tests WHERE id = %s",
                        (w["test"],)).fetchone()


def test_significant_winner_is_deployed_to_the_held_back_contacts(conn):
    w = build(conn, 400, 50, [{"is_control": True}, {}])          # 100 each, 200 held
    launch_and_process(conn, w)
    engage(conn, w, "A", delivered=100, opened=40)
    engage(conn, w, "B", delivered=100, opened=60)                # z = 2.83: 99.5% confidence
    status, decision, winner = _decide(conn, w)
    assert (status, decision, winner) == ("winner_deployed", "significant", w["variants"]["B"])
    assert held(conn, w) == 0
    conn.execute("SELECT campaigns.process_due_steps(%s)", (T0 + timedelta(hours=4),))
    assert per_variant(conn, w) == {"A": 100, "B": 300}
    # Nobody got two variants or the email twice.
    assert conn.execute(
        "SELECT count(*) FROM (SELECT contact_id FROM campaigns.email_messages WHERE step_id = %s "
        "GROUP BY contact_id HAVING count(*) > 1) x", (w["step"],)).fetchone()[0] == 0
    results = {r[0]: r[1:] for r in conn.execute(
        "SELECT variant_name, open_rate, confidence, lift, is_winner FROM campaigns.ab_test_results(%s)", (w["test"],))}
    assert results["B"][0] == 60 and results["B"][2] == 50 and results["B"][3] is True
    assert float(results["B"][1]) == pytest.approx(99.53, abs=0.02)


@pytest.mark.parametrize("a, b, minimum, expected", [
    ((100, 45), (100, 55), 100, "no_winner"),    # z = 1.41: 84% confidence, under 95
    ((100, 40), (99, 60), 100, "no_winner"),     # clear, but B has 99 delivered < minimum 100
    ((100, 40), (100, 60), 100, "significant"),  # the same gap with the minimum met
    ((100, 0), (100, 0), 1, "no_winner"),        # both 0%: se = 0, no crash
    ((100, 100), (100, 100), 1, "no_winner"),    # both 100%
])
def test_significance_boundaries(conn, a, b, minimum, expected):
    w = build(conn, 400, 50, [{"is_control": True}, {}], minimum_sample_size=minimum)
    launch_and_process(conn, w)
    engage(conn, w, "A", *a)
    engage(conn, w, "B", *b)
    status, decision, winner = _decide(conn, w)
    assert (status, decision) == ("winner_deployed", expected)
    assert winner == (w["variants"]["B"] if expected == "significant" else w["variants"]["A"])


def test_click_rate_metric_and_lift(conn):
    w = build(conn, 400, 50, [{"is_control": True}, {}], win_metric="click_rate", confidence_threshold=45)  # z = 0.645: 48% two-sided
    launch_and_process(conn, w)
    engage(conn, w, "A", delivered=100, opened=90, clicked=24)
    engage(conn, w, "B", delivered=100, opened=10, clicked=28)    # worse opens, better clicks
    status, decision, winner = _decide(conn, w)
    assert winner == w["variants"]["B"]
    lift = conn.execute("SELECT lift FROM campaigns.ab_test_results(%s) WHERE variant_name = 'B'", (w["test"],)).fetchone()[0]
    assert float(lift) == pytest.approx(16.67, abs=0.01)          # (28 - 24) / 24


def test_single_variant_does_not_crash_and_sends_it(conn):
    w = build(conn, 10, 50, [{"is_control": True}])
    # Launch refuses a test with fewer than 2 variants; a running one-variant test can still exist
    # if a DBA forces it, and the decision must cope.
    assert _error(conn, "SELECT campaigns.launch_campaign(%s, %s)", (w["campaign"], T0)) == "QC601"
    conn.execute("UPDATE campaigns.ab_tests SET status = 'running', started_at = %s WHERE id = %s", (T0, w["test"]))
    status, decision, winner = _decide(conn, w)
    assert (status, decision, winner) == ("winner_deployed", "no_winner", w["variants"]["A"])


def test_a_crash_between_deciding_and_deploying_deploys_once(conn):
    w = build(conn, 40, 50, [{"is_control": True}, {}])
    launch_and_process(conn, w)
    with pytest.raises(RuntimeError), conn.transaction():
        conn.execute("SELECT campaigns.evaluate_ab_tests(%s)", (T0 + timedelta(hours=5),))
        raise RuntimeError("the run dies before commit")
    assert conn.execute("SELECT status FROM campaigns.ab_tests WHERE id = %s", (w["test"],)).fetchone()[0] == "running"
    assert held(conn, w) == 20
    assert conn.execute("SELECT campaigns.evaluate_ab_tests(%s)", (T0 + timedelta(hours=5),)).fetchone()[0] == 1
    assert conn.execute("SELECT campaigns.evaluate_ab_tests(%s)", (T0 + timedelta(hours=6),)).fetchone()[0] == 0
    conn.execute("SELECT campaigns.process_due_steps(%s)", (T0 + timedelta(hours=6),))
    assert per_variant(conn, w) == {"A": 30, "B": 10}


def test_manual_winner(conn):
    w = build(conn, 40, 50, [{"is_control": True}, {}])
    launch_and_process(conn, w)
    other = build(conn, 4, 50, [{}, {}])
    assert _error(conn, "SELECT campaigns.choose_ab_winner(%s, %s)", (w["test"], other["variants"]["A"])) == "QC404"
    released = conn.execute("SELECT campaigns.choose_ab_winner(%s, %s, %s)",
                            (w["test"], w["variants"]["B"], T0 + timedelta(hours=1))).fetchone()[0]
    assert released == 20
    assert _decide(conn, w)[1] == "manual"
    assert _error(conn, "SELECT campaigns.choose_ab_winner(%s, %s)", (w["test"], w["variants"]["A"])) == "QC602"


def test_validation(conn):
    w = build(conn, 4, 50, [{}, {}])
    wait = make_step(conn, w["tenant"], w["campaign"], step_type="wait")
    assert _error(conn, "INSERT INTO campaigns.ab_tests (tenant_id, campaign_id, step_id) VALUES (%s, %s, %s)",
                  (w["tenant"], w["campaign"], wait)) == "QC601"
    for name in "CDE":
        insert(conn, "ab_test_variants", tenant_id=w["tenant"], ab_test_id=w["test"], variant_name=name)
    assert _error(conn, "INSERT INTO campaigns.ab_test_variants (tenant_id, ab_test_id, variant_name) VALUES (%s, %s, 'F')",
                  (w["tenant"], w["test"])) == "QC601"
    assert _error(conn, "UPDATE campaigns.ab_tests SET duration_hours = 1 WHERE id = %s", (w["test"],)) == "23514"
    conn.execute("DELETE FROM campaigns.ab_test_variants WHERE ab_test_id = %s AND variant_name IN ('D', 'E')", (w["test"],))
    launch_and_process(conn, w)
    assert _error(conn, "UPDATE campaigns.ab_test_variants SET subject_line = 'x' WHERE ab_test_id = %s", (w["test"],)) == "QC602"
    assert _error(conn, "UPDATE campaigns.ab_tests SET sample_percent = 90 WHERE id = %s", (w["test"],)) == "QC602"
