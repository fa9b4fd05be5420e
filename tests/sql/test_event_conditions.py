"""A condition on event.<name> reads the properties of the event that started the enrollment: an
event-triggered sequence branches on them in the same transaction as the event."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.support.factories import make_campaign, make_contact, make_step, make_tenant


def _branching_campaign(conn, t):
    campaign = make_campaign(conn, t, status="active", launched_at="2030-03-01 09:00+00", trigger_event="signed_up")
    pro = make_step(conn, t, campaign, step_order=2, subject_line="Pro onboarding")
    basic = make_step(conn, t, campaign, step_order=3, subject_line="Basic onboarding")
    make_step(conn, t, campaign, step_order=1, step_type="condition", true_next_step_id=pro, false_next_step_id=basic,
              condition_rules=Jsonb({"type": "contact_attribute", "field": "event.plan", "operator": "equals",
                                     "value": "pro"}))
    return campaign, pro, basic


def test_an_event_property_picks_the_branch(conn):
    t = make_tenant(conn)["tenant_id"]
    campaign, pro, basic = _branching_campaign(conn, t)
    ada, bob, eve = (make_contact(conn, t) for _ in range(3))
    conn.execute("SELECT * FROM campaigns.record_contact_events(%s, %s)", (Jsonb([
        {"contact_id": str(ada), "name": "signed_up", "properties": {"plan": "Pro"}},
        {"contact_id": str(bob), "name": "signed_up", "properties": {"plan": "basic"}},
        {"contact_id": str(eve), "name": "signed_up"}]), t))
    steps = dict(conn.execute("SELECT contact_id, step_id FROM campaigns.email_messages WHERE campaign_id = %s",
                              (campaign,)).fetchall())
    assert steps == {ada: pro, bob: basic, eve: basic}


def test_an_unknown_condition_field_is_refused(conn):
    t = make_tenant(conn)["tenant_id"]
    campaign = make_campaign(conn, t)
    email = make_step(conn, t, campaign)
    with pytest.raises(psycopg.Error) as err:
        make_step(conn, t, campaign, step_type="condition", true_next_step_id=email,
                  condition_rules=Jsonb({"type": "contact_attribute", "field": "events.plan", "operator": "equals",
                                         "value": "pro"}))
    assert err.value.sqlstate == "QC202"
