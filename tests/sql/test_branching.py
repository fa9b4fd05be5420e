"""Condition and action steps in process_due_steps: branch selection (events, lead score, contact
attributes), scoping, null targets, no fall-through between branches, actions and their effects,
inline chaining and the hop limit."""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.support.factories import make_campaign, make_step
from tests.support.processing import (
    DAY, MINUTE, action, add_steps, campaign, condition, contact, enrollment, launch, link, messages, new_campaign,
    process, sent_steps, ts, wait,
)

T0 = ts("2026-03-02 14:00Z")
AFTER_WAIT = T0 + DAY + 2 * MINUTE


def _event_branch(conn, rules, contacts=2, scope_to_first=False):
    """email1 -> wait 1 day -> condition -> true: email T (order 4) / false: email F (order 5)."""
    s = new_campaign(conn, contacts)
    email1, _, cond, t_email, f_email = add_steps(
        conn, s, "email", wait(1, "days"), condition(rules), "email", "email", chain=False)
    link(conn, email1, next_step_id=s.steps[1])
    link(conn, s.steps[1], next_step_id=cond)
    link(conn, cond, true_next_step_id=t_email, false_next_step_id=f_email)
    if scope_to_first:
        link(conn, cond, email_step_id=email1)
    launch(conn, s.campaign_id, T0)
    process(conn, T0)
    return s, email1, t_email, f_email


def _mark(conn, s, contact_id, column, step_id=None):
    """Record an event on the contact's message (of step_id, else any) by setting its column."""
    conn.execute(f"UPDATE campaigns.email_messages SET {column} = %s WHERE campaign_id = %s AND contact_id = %s"
                 + (" AND step_id = %s" if step_id else ""),
                 [T0 + MINUTE, s.campaign_id, contact_id] + ([step_id] if step_id else []))


@pytest.mark.parametrize(("kind", "column"), [
    ("email_opened", "first_opened_at"),
    ("email_clicked", "first_clicked_at"),
    ("email_replied", "replied_at"),
])
def test_event_condition_routes_to_true_or_false_branch(conn, kind, column):
    s, email1, t_email, f_email = _event_branch(conn, {"type": kind})
    yes, no = s.contacts
    _mark(conn, s, yes, column)

    process(conn, AFTER_WAIT)
    assert sent_steps(conn, s.campaign_id, yes) == [email1, t_email]
    assert sent_steps(conn, s.campaign_id, no) == [email1, f_email]


def test_condition_is_judged_when_reached_not_right_after_the_email(conn):
    # email -> condition with no wait: the open that arrives between passes still counts.
    s = new_campaign(conn, 1)
    email1, cond, t_email, f_email = add_steps(conn, s, "email", condition({"type": "email_opened"}), "email",
                                               "email", chain=False)
    link(conn, email1, next_step_id=cond)
    link(conn, cond, true_next_step_id=t_email, false_next_step_id=f_email)
    launch(conn, s.campaign_id, T0)
    process(conn, T0)
    assert enrollment(conn, s.campaign_id, s.contacts[0])["current_step_id"] == cond
    (m,) = messages(conn, s.campaign_id)
    conn.execute("SELECT campaigns.record_email_event(%s, 'open', %s)", (m["id"], T0 + MINUTE))

    process(conn, T0 + 5 * MINUTE)
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [email1, t_email]


def test_false_branch_is_never_reached_after_the_true_branch(conn):
    s, email1, t_email, f_email = _event_branch(conn, {"type": "email_opened"}, contacts=1)
    _mark(conn, s, s.contacts[0], "first_opened_at")
    process(conn, AFTER_WAIT)
    e = enrollment(conn, s.campaign_id, s.contacts[0])
    assert e["status"] == "completed" and e["current_step_id"] is None
    for later in [AFTER_WAIT + 5 * MINUTE, T0 + 30 * DAY]:
        process(conn, later)
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [email1, t_email]
    assert messages(conn, s.campaign_id, step_id=f_email) == []


@pytest.mark.parametrize(("scoped", "expected"), [(True, "false"), (False, "true")])
def test_event_condition_scoped_to_one_email_step(conn, scoped, expected):
    # email1 -> wait -> email2 -> wait -> condition(opened [email1]); only email2 was opened.
    s = new_campaign(conn, 1)
    email1, w1, email2, w2, cond, t_email, f_email = add_steps(
        conn, s, "email", wait(1, "days"), "email", wait(1, "days"), condition({"type": "email_opened"}),
        "email", "email", chain=False)
    for a, b in [(email1, w1), (w1, email2), (email2, w2), (w2, cond)]:
        link(conn, a, next_step_id=b)
    link(conn, cond, true_next_step_id=t_email, false_next_step_id=f_email,
         email_step_id=email1 if scoped else None)
    launch(conn, s.campaign_id, T0)
    process(conn, T0)
    process(conn, T0 + DAY)
    _mark(conn, s, s.contacts[0], "first_opened_at", step_id=email2)
    process(conn, T0 + 2 * DAY + MINUTE)
    branch = t_email if expected == "true" else f_email
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [email1, email2, branch]


def test_scoped_condition_true_when_that_step_was_opened(conn):
    s, email1, t_email, f_email = _event_branch(conn, {"type": "email_clicked"}, contacts=1, scope_to_first=True)
    _mark(conn, s, s.contacts[0], "first_clicked_at", step_id=email1)
    process(conn, AFTER_WAIT)
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [email1, t_email]


def _attribute_branch(conn, rules, contact_cols):
    """condition (first step) -> true: email T / false: email F, one contact; processed once."""
    s = new_campaign(conn, [contact_cols])
    cond, t_email, f_email = add_steps(conn, s, condition(rules), "email", "email", chain=False)
    link(conn, cond, true_next_step_id=t_email, false_next_step_id=f_email)
    launch(conn, s.campaign_id, T0)
    process(conn, T0)
    (step,) = sent_steps(conn, s.campaign_id, s.contacts[0])  # decided and sent in the same pass
    assert step in (t_email, f_email)
    return step == t_email


@pytest.mark.parametrize(("score", "expected"), [(50, True), (51, True), (49, False)])
def test_lead_score_condition(conn, score, expected):
    assert _attribute_branch(conn, {"type": "lead_score", "threshold": 50}, {"score": score}) is expected


def _attr(field, operator, value):
    return {"type": "contact_attribute", "field": field, "operator": operator, "value": value}


@pytest.mark.parametrize(("rules", "cols", "expected"), [
    (_attr("company", "equals", "Acme"), {"company": "ACME"}, True),
    (_attr("company", "equals", "Acme"), {"company": "Beta"}, False),
    (_attr("company", "not_equals", "Acme"), {"company": "Beta"}, True),
    (_attr("company", "not_equals", "Acme"), {"company": "acme"}, False),
    (_attr("job_title", "contains", "engineer"), {"job_title": "Senior Engineer"}, True),
    (_attr("job_title", "contains", "engineer"), {"job_title": "Sales"}, False),
    (_attr("score", "greater_than", 10), {"score": 11}, True),
    (_attr("score", "greater_than", 10), {"score": 10}, False),
    (_attr("score", "less_than", 10), {"score": 9}, True),
    (_attr("country", "in", ["US", "CA"]), {"country": "ca"}, True),
    (_attr("country", "in", ["US", "CA"]), {"country": "FR"}, False),
    (_attr("country", "not_in", ["US", "CA"]), {"country": "FR"}, True),
    (_attr("country", "not_in", ["US", "CA"]), {"country": "US"}, False),
    (_attr("custom.plan", "equals", "pro"), {"custom_fields": {"plan": "Pro"}}, True),
    (_attr("custom.plan", "equals", "pro"), {"custom_fields": {}}, False),
    (_attr("custom.plan", "not_equals", "pro"), {"custom_fields": {"plan": "free"}}, True),
    (_attr("custom.plan", "contains", "enter"), {"custom_fields": {"plan": "enterprise"}}, True),
    (_attr("custom.employees", "greater_than", 10), {"custom_fields": {"employees": 9}}, False),  # 9 < 10 as numbers
    (_attr("custom.employees", "greater_than", 10), {"custom_fields": {"employees": 100}}, True),
    (_attr("custom.employees", "less_than", 100), {"custom_fields": {"employees": 42}}, True),
    (_attr("custom.employees", "less_than", 100), {"custom_fields": {"employees": 100}}, False),
    (_attr("custom.plan", "in", ["pro", "team"]), {"custom_fields": {"plan": "team"}}, True),
    (_attr("custom.plan", "not_in", ["free", "trial"]), {"custom_fields": {"plan": "pro"}}, True),
    (_attr("custom.plan", "not_in", ["free", "trial"]), {"custom_fields": {"plan": "free"}}, False),
    (_attr("customField.plan", "equals", "pro"), {"custom_fields": {"plan": "pro"}}, True),
])
def test_contact_attribute_condition(conn, rules, cols, expected):
    if "custom_fields" in cols:
        cols = {**cols, "custom_fields": Jsonb(cols["custom_fields"])}
    assert _attribute_branch(conn, rules, cols) is expected


def test_null_branch_target_completes_the_enrollment(conn):
    s = new_campaign(conn, [{"score": 80}])
    cond, f_email = add_steps(conn, s, condition({"type": "lead_score", "threshold": 50}), "email", chain=False)
    link(conn, cond, false_next_step_id=f_email)  # true target left NULL
    launch(conn, s.campaign_id, T0)
    process(conn, T0 + MINUTE)
    e = enrollment(conn, s.campaign_id, s.contacts[0])
    assert e["status"] == "completed"
    assert e["completed_at"] is not None
    assert e["current_step_id"] is None and e["next_email_scheduled_at"] is None
    assert messages(conn, s.campaign_id) == []


def test_wait_condition_action_chain_runs_in_one_call(conn):
    s = new_campaign(conn, 1)
    email1, _, cond, act, email2 = add_steps(
        conn, s, "email", wait(1, "days"), condition({"type": "lead_score", "threshold": 0}),
        action("add_tag", {"tag": "warm"}), "email", chain=False)
    link(conn, email1, next_step_id=s.steps[1])
    link(conn, s.steps[1], next_step_id=cond)
    link(conn, cond, true_next_step_id=act, false_next_step_id=None)
    link(conn, act, next_step_id=email2)
    launch(conn, s.campaign_id, T0)
    process(conn, T0)
    assert contact(conn, s.contacts[0])["tags"] == []

    assert process(conn, AFTER_WAIT) == 1  # one call: condition, action and email
    assert contact(conn, s.contacts[0])["tags"] == ["warm"]
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [email1, email2]
    assert enrollment(conn, s.campaign_id, s.contacts[0])["status"] == "completed"


def test_cycle_of_instant_steps_stops_at_the_hop_limit(conn):
    s = new_campaign(conn, 1)
    email1, cond, act = add_steps(conn, s, "email", condition({"type": "lead_score", "threshold": 0}),
                                  action("add_tag", {"tag": "looped"}), chain=False)
    link(conn, email1, next_step_id=cond)
    link(conn, act, next_step_id=cond)
    link(conn, cond, true_next_step_id=act, false_next_step_id=act)
    launch(conn, s.campaign_id, T0)
    process(conn, T0)
    process(conn, T0 + 5 * MINUTE)  # returns: no endless loop
    e = enrollment(conn, s.campaign_id, s.contacts[0])
    assert (e["status"], e["exit_reason"]) == ("exited", "hop_limit")
    assert e["exited_at"] == T0 + 5 * MINUTE
    assert e["next_email_scheduled_at"] is None
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [email1]
    assert process(conn, T0 + DAY) == 0


def test_long_acyclic_chain_of_instant_steps_is_not_cut_by_the_hop_limit(conn):
    s = new_campaign(conn, 1)
    tags = [f"t{i:02d}" for i in range(12)]
    *_, email1 = add_steps(conn, s, *[action("add_tag", {"tag": t}) for t in tags], "email")
    launch(conn, s.campaign_id, T0)
    process(conn, T0)
    e = enrollment(conn, s.campaign_id, s.contacts[0])
    assert (e["status"], e["exit_reason"]) == ("completed", None)
    assert contact(conn, s.contacts[0])["tags"] == tags
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [email1]


def test_chain_of_nine_actions_runs_in_one_pass(conn):
    s = new_campaign(conn, 1)
    tags = [f"t{i}" for i in range(9)]
    *_, email1 = add_steps(conn, s, *[action("add_tag", {"tag": t}) for t in tags], "email")
    launch(conn, s.campaign_id, T0)
    assert process(conn, T0) == 1
    assert contact(conn, s.contacts[0])["tags"] == tags
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [email1]
    assert enrollment(conn, s.campaign_id, s.contacts[0])["status"] == "completed"


# -- actions (36, 37) ------------------------------------------------------------------------------


def _action_first(conn, act, contact_cols=None):
    """action (first step) -> email; launched and processed once."""
    s = new_campaign(conn, [contact_cols or {}])
    act_id, email1 = add_steps(conn, s, act, "email")
    launch(conn, s.campaign_id, T0)
    process(conn, T0 + MINUTE)
    return s, act_id, email1


def _advanced(conn, s, email1):
    e = enrollment(conn, s.campaign_id, s.contacts[0])
    assert e["status"] == "completed" and e["steps_completed"] == 1
    assert sent_steps(conn, s.campaign_id, s.contacts[0]) == [email1]


@pytest.mark.parametrize(("act", "before", "after"), [
    (action("add_tag", {"tag": "vip"}), ["lead"], ["lead", "vip"]),
    (action("add_tag", {"tag": "vip"}), ["vip"], ["vip"]),
    (action("remove_tag", {"tag": "cold"}), ["cold", "lead"], ["lead"]),
    (action("remove_tag", {"tag": "cold"}), ["lead"], ["lead"]),
])
def test_tag_actions(conn, act, before, after):
    s, _, email1 = _action_first(conn, act, {"tags": before})
    assert sorted(contact(conn, s.contacts[0])["tags"]) == after
    _advanced(conn, s, email1)


@pytest.mark.parametrize(("delta", "expected"), [(5, 15), (-3, 7)])
def test_adjust_score_action(conn, delta, expected):
    s, _, email1 = _action_first(conn, action("adjust_score", {"delta": delta}), {"score": 10})
    assert contact(conn, s.contacts[0])["score"] == expected
    _advanced(conn, s, email1)


def test_update_field_action_on_a_standard_field(conn):
    s, _, email1 = _action_first(conn, action("update_field", {"field": "company", "value": "NewCo"}),
                                 {"company": "OldCo", "city": "Lyon"})
    c = contact(conn, s.contacts[0])
    assert (c["company"], c["city"]) == ("NewCo", "Lyon")
    _advanced(conn, s, email1)


@pytest.mark.parametrize("value", ["pro", 5, True])
def test_update_field_action_on_a_custom_field(conn, value):
    s, _, email1 = _action_first(conn, action("update_field", {"field": "custom.plan", "value": value}),
                                 {"custom_fields": Jsonb({"plan": "free", "seats": 3})})
    assert contact(conn, s.contacts[0])["custom_fields"] == {"plan": value, "seats": 3}
    _advanced(conn, s, email1)


@pytest.mark.parametrize(("config", "reason"), [({"reason": "not_a_fit"}, "not_a_fit"), ({}, "exit_action")])
def test_exit_action(conn, config, reason):
    s, act_id, _ = _action_first(conn, action("exit", config))
    e = enrollment(conn, s.campaign_id, s.contacts[0])
    assert (e["status"], e["exit_reason"]) == ("exited", reason)
    assert e["exited_at"] == T0 + MINUTE
    assert e["next_email_scheduled_at"] is None
    assert messages(conn, s.campaign_id) == []
    process(conn, T0 + DAY)
    assert messages(conn, s.campaign_id) == []


def test_move_to_campaign_action(conn):
    s = new_campaign(conn, 1)
    target = make_campaign(conn, s.tenant_id, status="active", total_contacts=4)
    later = make_step(conn, s.tenant_id, target, step_order=2)
    first = make_step(conn, s.tenant_id, target, step_order=1)  # inserted second, ordered first
    link(conn, first, next_step_id=later)
    _, email1 = add_steps(conn, s, action("move_to_campaign", {"campaign_id": str(target)}), "email")
    launch(conn, s.campaign_id, T0)
    process(conn, T0 + MINUTE)

    src = enrollment(conn, s.campaign_id, s.contacts[0])
    assert (src["status"], src["exit_reason"]) == ("exited", "moved_to_campaign")
    assert messages(conn, s.campaign_id) == []
    moved = enrollment(conn, target, s.contacts[0])
    assert moved["current_step_id"] == first
    assert moved["status"] in ("enrolled", "active")
    assert moved["next_email_scheduled_at"] <= T0 + MINUTE
    assert campaign(conn, target)["total_contacts"] == 5

    process(conn, T0 + 2 * MINUTE)
    assert sent_steps(conn, target, s.contacts[0]) == [first]


@pytest.mark.commits
def test_notify_action_sends_a_payload_and_advances(conn, db_url):
    s = new_campaign(conn, 1)
    act_id, email1 = add_steps(conn, s, action("notify", {"channel": "sales", "note": "hot lead"}), "email")
    launch(conn, s.campaign_id, T0)
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN campaigns_actions")
        process(conn, T0 + MINUTE)
        received = list(listener.notifies(timeout=5, stop_after=1))
    assert len(received) == 1
    payload = json.loads(received[0].payload)
    e = enrollment(conn, s.campaign_id, s.contacts[0])
    assert payload["enrollment_id"] == str(e["id"])
    assert payload["contact_id"] == str(s.contacts[0])
    assert payload["campaign_id"] == str(s.campaign_id)
    assert payload["config"] == {"channel": "sales", "note": "hot lead"}
    _advanced(conn, s, email1)
