"""refresh_campaign_audiences and check_deliverability."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.factories import (
    insert, make_campaign, make_contact, make_enrollment, make_message, make_segment, make_step, make_tenant,
)

T0 = "2026-03-02 14:00+00"


def _campaign(conn, tenant_id, contacts, **cols):
    segment = make_segment(conn, tenant_id, contacts)
    campaign = make_campaign(conn, tenant_id, segment_id=segment, **cols)
    step = make_step(conn, tenant_id, campaign)
    return segment, campaign, step


def _statuses(conn, campaign):
    return dict(conn.execute(
        "SELECT contact_id, status || coalesce(':' || exit_reason, '') FROM campaigns.campaign_contacts WHERE campaign_id = %s",
        (campaign,)).fetchall())


def test_refresh_enrolls_new_members_and_exits_leavers(conn: psycopg.Connection):
    t = make_tenant(conn)["tenant_id"]
    stay, leave, newcomer, not_in = (make_contact(conn, t) for _ in range(4))
    segment, campaign, step = _campaign(conn, t, [stay, leave], refresh_audience=True)
    assert conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (campaign, T0)).fetchone()[0] == 2
    conn.execute("SELECT campaigns.process_due_steps(%s)", (T0,))

    conn.execute("DELETE FROM campaigns.segment_contacts WHERE segment_id = %s AND contact_id = %s", (segment, leave))
    insert(conn, "segment_contacts", tenant_id=t, segment_id=segment, contact_id=newcomer)
    changed = conn.execute("SELECT campaigns.refresh_campaign_audiences(%s)", ("2026-03-03 03:00+00",)).fetchone()[0]

    assert changed == 1  # the newcomer; the leaver had already completed
    statuses = _statuses(conn, campaign)
    assert statuses[stay] == "completed"
    assert statuses[leave] == "completed"  # finished before leaving: a completed enrollment is history
    assert statuses[newcomer] == "enrolled"
    assert not_in not in statuses
    row = conn.execute("SELECT current_step_id, next_email_scheduled_at FROM campaigns.campaign_contacts "
                       "WHERE campaign_id = %s AND contact_id = %s", (campaign, newcomer)).fetchone()
    assert row[0] == step
    assert conn.execute("SELECT total_contacts FROM campaigns.campaigns WHERE id = %s", (campaign,)).fetchone()[0] == 3
    # Idempotent: a second run finds nothing to change.
    assert conn.execute("SELECT campaigns.refresh_campaign_audiences(%s)", ("2026-03-03 03:05+00",)).fetchone()[0] == 0


def test_refresh_exits_active_leavers_with_segment_exit_and_cancels_their_mail(conn: psycopg.Connection):
    t = make_tenant(conn)["tenant_id"]
    stay, leave = make_contact(conn, t), make_contact(conn, t)
    segment, campaign, step = _campaign(conn, t, [stay, leave], refresh_audience=True)
    conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (campaign, T0))
    enrollment = conn.execute("SELECT id FROM campaigns.campaign_contacts WHERE contact_id = %s", (leave,)).fetchone()[0]
    message = make_message(conn, t, enrollment, step)
    conn.execute("DELETE FROM campaigns.segment_contacts WHERE segment_id = %s AND contact_id = %s", (segment, leave))

    assert conn.execute("SELECT campaigns.refresh_campaign_audiences(%s)", (T0,)).fetchone()[0] == 1

    assert _statuses(conn, campaign) == {stay: "enrolled", leave: "exited:segment_exit"}
    assert conn.execute("SELECT status FROM campaigns.email_messages WHERE id = %s", (message,)).fetchone()[0] == "cancelled"


def test_refresh_skips_campaigns_without_refresh_and_suppressed_newcomers(conn: psycopg.Connection):
    t = make_tenant(conn)["tenant_id"]
    first = make_contact(conn, t)
    suppressed = make_contact(conn, t, email="gone@example.com")
    segment, following, _ = _campaign(conn, t, [first], refresh_audience=True)
    fixed_segment, fixed, _ = _campaign(conn, t, [first])
    for campaign in (following, fixed):
        conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (campaign, T0))
    insert(conn, "suppressions", tenant_id=t, email="GONE@example.com", reason="manual")
    for seg in (segment, fixed_segment):
        insert(conn, "segment_contacts", tenant_id=t, segment_id=seg, contact_id=suppressed)

    assert conn.execute("SELECT campaigns.refresh_campaign_audiences(%s)", (T0,)).fetchone()[0] == 0
    assert suppressed not in _statuses(conn, following)
    assert suppressed not in _statuses(conn, fixed)


def _sent_messages(conn, t, campaign, step, n, bounced=0, complained=0):
    for i in range(n):
        contact = make_contact(conn, t)
        enrollment = make_enrollment(conn, t, campaign, contact, status="active")
        make_message(conn, t, enrollment, step, status="sent", sent_at="2026-03-02 10:00+00",
                     bounced_at="2026-03-02 10:05+00" if i < bounced else None,
                     complained_at="2026-03-02 11:00+00" if bounced <= i < bounced + complained else None)


@pytest.mark.commits  # the alert is a NOTIFY, delivered on commit
def test_bounce_rate_over_five_percent_pauses_and_alerts_once(conn: psycopg.Connection):
    t = make_tenant(conn)["tenant_id"]
    campaign = make_campaign(conn, t, status="active", launched_at=T0)
    step = make_step(conn, t, campaign)
    _sent_messages(conn, t, campaign, step, 100, bounced=6)
    listener = psycopg.connect(conn.info.dsn, autocommit=True)
    listener.execute("LISTEN campaigns_alerts")

    assert conn.execute("SELECT campaigns.check_deliverability(%s)", ("2026-03-02 15:00+00",)).fetchone()[0] == 1

    assert conn.execute("SELECT status FROM campaigns.campaigns WHERE id = %s", (campaign,)).fetchone()[0] == "paused"
    kind, value, action = conn.execute(
        "SELECT kind, value, action_taken FROM campaigns.campaign_alerts WHERE campaign_id = %s", (campaign,)).fetchone()
    assert (kind, float(value), action) == ("bounce_rate", 6.0, "paused")
    notices = list(listener.notifies(timeout=2, stop_after=1))
    assert notices and notices[0].channel == "campaigns_alerts"
    listener.close()
    # Resumed by a person, the same breach is not re-raised within 24 hours.
    conn.execute("SELECT campaigns.resume_campaign(%s, %s)", (campaign, "2026-03-02 15:10+00"))
    assert conn.execute("SELECT campaigns.check_deliverability(%s)", ("2026-03-02 16:00+00",)).fetchone()[0] == 0
    assert conn.execute("SELECT status FROM campaigns.campaigns WHERE id = %s", (campaign,)).fetchone()[0] == "active"


def test_complaint_rate_alerts_without_pausing_and_small_samples_are_ignored(conn: psycopg.Connection):
    t = make_tenant(conn)["tenant_id"]
    big = make_campaign(conn, t, status="active", launched_at=T0)
    small = make_campaign(conn, t, status="active", launched_at=T0)
    big_step, small_step = make_step(conn, t, big), make_step(conn, t, small)
    _sent_messages(conn, t, big, big_step, 120, complained=1)       # 0.83% complaints, 0% bounces
    _sent_messages(conn, t, small, small_step, 99, bounced=50)      # a huge rate, but under 100 sends

    assert conn.execute("SELECT campaigns.check_deliverability(%s)", ("2026-03-02 15:00+00",)).fetchone()[0] == 1

    assert conn.execute("SELECT kind, action_taken FROM campaigns.campaign_alerts").fetchall() == [("complaint_rate", "none")]
    assert conn.execute("SELECT status FROM campaigns.campaigns WHERE id = %s", (big,)).fetchone()[0] == "active"
    assert conn.execute("SELECT status FROM campaigns.campaigns WHERE id = %s", (small,)).fetchone()[0] == "active"


def test_sends_older_than_a_day_do_not_count(conn: psycopg.Connection):
    t = make_tenant(conn)["tenant_id"]
    campaign = make_campaign(conn, t, status="active", launched_at=T0)
    _sent_messages(conn, t, campaign, make_step(conn, t, campaign), 100, bounced=10)
    assert conn.execute("SELECT campaigns.check_deliverability(%s)", ("2026-03-03 10:00:01+00",)).fetchone()[0] == 0


def test_dynamic_segment_is_materialised_at_launch_and_followed_by_the_refresh(conn: psycopg.Connection):
    t = make_tenant(conn)["tenant_id"]
    acme = [make_contact(conn, t, company="Acme") for _ in range(2)]
    make_contact(conn, t, company="Globex")
    rules = '{"match": "all", "groups": [{"match": "all", "conditions": [{"field": "company", "operator": "equals", "value": "Acme"}]}]}'
    segment = insert(conn, "segments", tenant_id=t, name="acme", segment_type="dynamic", rules=rules)
    campaign = make_campaign(conn, t, segment_id=segment, refresh_audience=True)
    make_step(conn, t, campaign)
    # Never refreshed before: launch materialises the rules itself.
    assert conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (campaign, T0)).fetchone()[0] == 2
    newcomer = make_contact(conn, t, company="Acme")
    conn.execute("UPDATE campaigns.contacts SET company = 'Initech' WHERE id = %s", (acme[0],))
    assert conn.execute("SELECT campaigns.refresh_campaign_audiences(%s)", ("2026-03-03 03:00+00",)).fetchone()[0] == 2
    statuses = _statuses(conn, campaign)
    assert statuses[newcomer] == "enrolled"
    assert statuses[acme[0]] == "exited:segment_exit"
    assert statuses[acme[1]] == "enrolled"
