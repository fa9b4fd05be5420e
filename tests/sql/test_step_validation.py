"""Step validation when a step is saved (db/functions/30_step_rules.sql and the campaign_steps constraints):
the 20-step limit, unique step_order, wait values, condition rules, action configurations,
same-campaign targets, cycles through an email step, and updated_at maintenance."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.support.factories import make_campaign, make_step, make_tenant
from tests.support.waits import wait_until_blocked

LONG_AGO = datetime(2000, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def t(conn):
    """One tenant with an empty draft campaign."""
    tenant = make_tenant(conn, "A")
    return {**tenant, "campaign": make_campaign(conn, tenant["tenant_id"])}


def refused(conn: psycopg.Connection, fn, *args, **kwargs) -> psycopg.Error:
    """The error fn raises; its transaction is rolled back so nothing it did remains."""
    with pytest.raises(psycopg.Error) as e, conn.transaction():
        fn(*args, **kwargs)
    return e.value


def step_count(conn, campaign_id) -> int:
    return conn.execute("SELECT count(*) FROM campaigns.campaign_steps WHERE campaign_id = %s", (campaign_id,)).fetchone()[0]


def condition(conn, tid, campaign, rules, **cols):
    return make_step(conn, tid, campaign, step_type="condition", condition_rules=Jsonb(rules), **cols)


def action(conn, tid, campaign, action_type, config, **cols):
    return make_step(conn, tid, campaign, step_type="action", action_type=action_type, action_config=Jsonb(config), **cols)


def set_target(conn, step_id, column, target):
    conn.execute(f"UPDATE campaigns.campaign_steps SET {column} = %s WHERE id = %s", (target, step_id))


def target_of(conn, step_id, column):
    return conn.execute(f"SELECT {column} FROM campaigns.campaign_steps WHERE id = %s", (step_id,)).fetchone()[0]


# -- Limits and constraints ----------------------------------------------------------


def test_twenty_steps_accepted_twenty_first_refused(conn, t):
    tid, campaign = t["tenant_id"], t["campaign"]
    for _ in range(20):
        make_step(conn, tid, campaign)
    assert step_count(conn, campaign) == 20
    err = refused(conn, make_step, conn, tid, campaign)
    assert err.sqlstate == "QC201"
    assert step_count(conn, campaign) == 20


def race(db_url, conn, first, second) -> object:
    """first(a) runs in an open transaction on connection a; second(b) then runs on b in a thread and must
    block on a's lock; a commits; returns what second returned or the SQLSTATE it raised."""
    result: dict[str, object] = {}
    with psycopg.connect(db_url) as a, psycopg.connect(db_url, autocommit=True) as b:
        first(a)

        def run():
            try:
                result["b"] = second(b)
            except psycopg.Error as e:
                result["b"] = e.sqlstate

        thread = threading.Thread(target=run)
        thread.start()
        wait_until_blocked(conn, b.info.backend_pid)
        a.commit()
        thread.join(10)
        assert not thread.is_alive()
    return result["b"]


@pytest.mark.commits
def test_twenty_step_limit_holds_under_concurrent_inserts(db_url, conn, t):
    tid, campaign = t["tenant_id"], t["campaign"]
    for _ in range(19):
        make_step(conn, tid, campaign)
    outcome = race(db_url, conn,
                   lambda a: make_step(a, tid, campaign, step_order=20),
                   lambda b: make_step(b, tid, campaign, step_order=21))
    assert outcome == "QC201"
    assert step_count(conn, campaign) == 20


def test_duplicate_step_order_refused(conn, t):
    tid, campaign = t["tenant_id"], t["campaign"]
    make_step(conn, tid, campaign, step_order=3)
    err = refused(conn, make_step, conn, tid, campaign, step_order=3)
    assert (err.sqlstate, err.diag.constraint_name) == ("23505", "uq_campaign_steps_order")
    # The same order in another campaign is fine.
    make_step(conn, tid, make_campaign(conn, tid), step_order=3)


@pytest.mark.parametrize("value, unit", [
    (0, "days"), (-1, "hours"), (1, "months"),
    (None, "days"), (1, None),
])
def test_bad_wait_refused(conn, t, value, unit):
    err = refused(conn, make_step, conn, t["tenant_id"], t["campaign"], step_type="wait",
                  wait_duration_value=value, wait_duration_unit=unit)
    assert err.sqlstate == "23514"
    assert err.diag.constraint_name in ("ck_campaign_steps_wait", "ck_campaign_steps_wait_unit")
    assert step_count(conn, t["campaign"]) == 0


@pytest.mark.parametrize("unit", ["minutes", "hours", "days", "weeks"])
def test_valid_wait_units_accepted(conn, t, unit):
    make_step(conn, t["tenant_id"], t["campaign"], step_type="wait", wait_duration_value=1, wait_duration_unit=unit)
    assert step_count(conn, t["campaign"]) == 1


# -- Targets -------------------------------------------------------------------------------

@pytest.mark.parametrize("column", ["true_next_step_id", "false_next_step_id"])
def test_condition_target_in_another_campaign_refused(conn, t, column):
    tid = t["tenant_id"]
    foreign = make_step(conn, tid, make_campaign(conn, tid))
    err = refused(conn, condition, conn, tid, t["campaign"], {"type": "email_opened"}, **{column: foreign})
    assert err.sqlstate == "QC203"
    assert step_count(conn, t["campaign"]) == 0


def test_next_step_in_another_campaign_refused_on_update(conn, t):
    tid = t["tenant_id"]
    own = make_step(conn, tid, t["campaign"])
    foreign = make_step(conn, tid, make_campaign(conn, tid))
    err = refused(conn, set_target, conn, own, "next_step_id", foreign)
    assert err.sqlstate == "QC203"
    assert target_of(conn, own, "next_step_id") is None


def test_condition_targets_in_same_campaign_accepted(conn, t):
    tid, campaign = t["tenant_id"], t["campaign"]
    yes, no = make_step(conn, tid, campaign), make_step(conn, tid, campaign)
    c = condition(conn, tid, campaign, {"type": "email_opened"}, true_next_step_id=yes, false_next_step_id=no)
    assert (target_of(conn, c, "true_next_step_id"), target_of(conn, c, "false_next_step_id")) == (yes, no)


def test_email_step_id_pointing_to_wait_step_refused(conn, t):
    tid, campaign = t["tenant_id"], t["campaign"]
    wait = make_step(conn, tid, campaign, step_type="wait")
    err = refused(conn, condition, conn, tid, campaign, {"type": "email_opened"}, email_step_id=wait)
    assert err.sqlstate == "QC203"
    email = make_step(conn, tid, campaign)
    c = condition(conn, tid, campaign, {"type": "email_opened"}, email_step_id=email)
    assert target_of(conn, c, "email_step_id") == email


def test_retyping_a_scoped_email_step_refused(conn, t):
    tid, campaign = t["tenant_id"], t["campaign"]
    email = make_step(conn, tid, campaign)
    condition(conn, tid, campaign, {"type": "email_opened"}, email_step_id=email)
    err = refused(conn, conn.execute,
                  "UPDATE campaigns.campaign_steps SET step_type = 'wait', wait_duration_value = 1, "
                  "wait_duration_unit = 'days' WHERE id = %s", (email,))
    assert err.sqlstate == "QC203"


# -- Condition rules -------------------------------------------------------------------


@pytest.mark.parametrize("rules", [
    {"type": "email_opened"},
    {"type": "email_clicked"},
    {"type": "email_replied"},
    {"type": "lead_score", "threshold": 50},
    {"type": "contact_attribute", "field": "company", "operator": "contains", "value": "acme"},
    {"type": "contact_attribute", "field": "custom.industry", "operator": "in", "value": ["saas", "retail"]},
], ids=lambda r: r["type"] + ("/" + r["operator"] if "operator" in r else ""))
def test_valid_condition_rules_accepted(conn, t, rules):
    condition(conn, t["tenant_id"], t["campaign"], rules)
    assert step_count(conn, t["campaign"]) == 1


@pytest.mark.parametrize("rules", [
    pytest.param({"type": "email_forwarded"}, id="unknown-type"),
    pytest.param({}, id="no-type"),
    pytest.param({"type": "contact_attribute", "field": "company", "operator": "matches", "value": "x"}, id="unknown-operator"),
    pytest.param({"type": "contact_attribute", "field": "company", "value": "x"}, id="no-operator"),
    pytest.param({"type": "contact_attribute", "field": "password", "operator": "equals", "value": "x"}, id="unknown-field"),
    pytest.param({"type": "contact_attribute", "field": "company", "operator": "in", "value": "x"}, id="in-without-array"),
    pytest.param({"type": "lead_score"}, id="lead-score-no-threshold"),
    pytest.param({"type": "lead_score", "threshold": "50"}, id="lead-score-string-threshold"),
])
def test_invalid_condition_rules_refused(conn, t, rules):
    err = refused(conn, condition, conn, t["tenant_id"], t["campaign"], rules)
    assert err.sqlstate == "QC202"
    assert step_count(conn, t["campaign"]) == 0


# -- Action configurations ----------------------------------------------------------------


@pytest.mark.parametrize("action_type, config", [
    ("add_tag", {}),
    ("add_tag", {"tag": ""}),
    ("remove_tag", {}),
    ("update_field", {"field": "email", "value": "x@example.com"}),
    ("update_field", {"field": "company"}),
    ("adjust_score", {"delta": 1.5}),
    ("move_to_campaign", {"campaign_id": "not-a-uuid"}),
    ("move_to_campaign", {}),
    ("move_to_campaign", {"campaign_id": "-" * 36}),
])
def test_invalid_action_config_refused(conn, t, action_type, config):
    err = refused(conn, action, conn, t["tenant_id"], t["campaign"], action_type, config)
    assert err.sqlstate == "QC202"
    assert step_count(conn, t["campaign"]) == 0


def test_add_tag_with_tag_accepted(conn, t):
    a = action(conn, t["tenant_id"], t["campaign"], "add_tag", {"tag": "warm"})
    assert conn.execute("SELECT action_config->>'tag' FROM campaigns.campaign_steps WHERE id = %s", (a,)).fetchone()[0] == "warm"


def test_move_to_own_campaign_refused(conn, t):
    err = refused(conn, action, conn, t["tenant_id"], t["campaign"], "move_to_campaign", {"campaign_id": str(t["campaign"])})
    assert err.sqlstate == "QC202"


def test_move_to_another_tenants_campaign_refused(conn, t):
    other = make_tenant(conn, "B")
    foreign = make_campaign(conn, other["tenant_id"])
    err = refused(conn, action, conn, t["tenant_id"], t["campaign"], "move_to_campaign", {"campaign_id": str(foreign)})
    assert err.sqlstate == "QC203"
    assert step_count(conn, t["campaign"]) == 0


def test_move_to_same_tenant_campaign_accepted(conn, t):
    target = make_campaign(conn, t["tenant_id"])
    action(conn, t["tenant_id"], t["campaign"], "move_to_campaign", {"campaign_id": str(target)})
    assert step_count(conn, t["campaign"]) == 1


# -- Cycles -------------------------------------------------------------------------------


def test_cycle_back_to_an_email_step_refused(conn, t):
    tid, campaign = t["tenant_id"], t["campaign"]
    email1 = make_step(conn, tid, campaign)
    wait = make_step(conn, tid, campaign, step_type="wait")
    set_target(conn, email1, "next_step_id", wait)
    err = refused(conn, set_target, conn, wait, "next_step_id", email1)
    assert err.sqlstate == "QC204"
    assert target_of(conn, wait, "next_step_id") is None


def test_cycle_through_a_condition_branch_refused(conn, t):
    tid, campaign = t["tenant_id"], t["campaign"]
    email1 = make_step(conn, tid, campaign)
    c = condition(conn, tid, campaign, {"type": "email_opened"})
    set_target(conn, email1, "next_step_id", c)
    err = refused(conn, set_target, conn, c, "false_next_step_id", email1)
    assert err.sqlstate == "QC204"


@pytest.mark.commits
def test_cycle_closed_by_two_concurrent_updates_refused(db_url, conn, t):
    """Each half alone is acyclic; the campaign lock makes the second see the first and refuse."""
    tid, campaign = t["tenant_id"], t["campaign"]
    email1 = make_step(conn, tid, campaign)
    wait = make_step(conn, tid, campaign, step_type="wait")
    outcome = race(db_url, conn,
                   lambda a: set_target(a, email1, "next_step_id", wait),
                   lambda b: set_target(b, wait, "next_step_id", email1))
    assert outcome == "QC204"
    assert (target_of(conn, email1, "next_step_id"), target_of(conn, wait, "next_step_id")) == (wait, None)


def test_cycle_of_instant_steps_accepted_at_save_time(conn, t):
    """condition -> action -> condition sends no email twice; the processor's hop limit stops it."""
    tid, campaign = t["tenant_id"], t["campaign"]
    email1 = make_step(conn, tid, campaign)
    c = condition(conn, tid, campaign, {"type": "lead_score", "threshold": 10})
    a = action(conn, tid, campaign, "add_tag", {"tag": "loop"}, next_step_id=c)
    set_target(conn, email1, "next_step_id", c)
    set_target(conn, c, "true_next_step_id", a)
    assert target_of(conn, c, "true_next_step_id") == a
    assert target_of(conn, a, "next_step_id") == c
    assert target_of(conn, email1, "next_step_id") == c


# -- Reordering and updated_at ---------------------------------------------------------


def test_swap_step_order_with_deferred_constraint(conn, t):
    tid, campaign = t["tenant_id"], t["campaign"]
    s1 = make_step(conn, tid, campaign, step_order=1)
    s2 = make_step(conn, tid, campaign, step_order=2)
    # Without deferral the first half of the swap collides.
    err = refused(conn, conn.execute, "UPDATE campaigns.campaign_steps SET step_order = 2 WHERE id = %s", (s1,))
    assert (err.sqlstate, err.diag.constraint_name) == ("23505", "uq_campaign_steps_order")
    with conn.transaction():
        conn.execute("SET CONSTRAINTS campaigns.uq_campaign_steps_order DEFERRED")
        conn.execute("UPDATE campaigns.campaign_steps SET step_order = 2 WHERE id = %s", (s1,))
        conn.execute("UPDATE campaigns.campaign_steps SET step_order = 1 WHERE id = %s", (s2,))
    orders = dict(conn.execute("SELECT id, step_order FROM campaigns.campaign_steps WHERE campaign_id = %s", (campaign,)).fetchall())
    assert orders == {s1: 2, s2: 1}


@pytest.mark.commits  # a deferred constraint is checked at commit
def test_deferred_duplicate_order_still_refused_at_commit(conn, t):
    tid, campaign = t["tenant_id"], t["campaign"]
    s1 = make_step(conn, tid, campaign, step_order=1)
    make_step(conn, tid, campaign, step_order=2)
    with pytest.raises(psycopg.Error) as e, conn.transaction():
        conn.execute("SET CONSTRAINTS campaigns.uq_campaign_steps_order DEFERRED")
        conn.execute("UPDATE campaigns.campaign_steps SET step_order = 2 WHERE id = %s", (s1,))
    assert e.value.sqlstate == "23505"
    assert conn.execute("SELECT step_order FROM campaigns.campaign_steps WHERE id = %s", (s1,)).fetchone()[0] == 1


def test_campaign_update_touches_updated_at(conn, t):
    campaign = make_campaign(conn, t["tenant_id"], updated_at=LONG_AGO)
    with conn.transaction():
        touched, = conn.execute(
            "UPDATE campaigns.campaigns SET name = 'renamed' WHERE id = %s RETURNING updated_at = now()", (campaign,)
        ).fetchone()
    assert touched is True
    assert conn.execute("SELECT updated_at FROM campaigns.campaigns WHERE id = %s", (campaign,)).fetchone()[0] > LONG_AGO


def test_step_update_touches_updated_at(conn, t):
    step = make_step(conn, t["tenant_id"], t["campaign"], updated_at=LONG_AGO)
    with conn.transaction():
        touched, = conn.execute(
            "UPDATE campaigns.campaign_steps SET subject_line = 'New' WHERE id = %s RETURNING updated_at = now()", (step,)
        ).fetchone()
    assert touched is True
    assert conn.execute("SELECT updated_at FROM campaigns.campaign_steps WHERE id = %s", (step,)).fetchone()[0] > LONG_AGO
