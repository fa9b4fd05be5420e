"""campaigns.enroll_contacts under concurrency: calls racing for the same contacts enroll each once,
and racing re-entries after an exit leave exactly one live enrollment."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.support.factories import make_campaign, make_contact, make_step, make_tenant


def _race(db_url, campaign, contact_ids, callers=6):
    def call(_):
        with psycopg.connect(db_url, autocommit=True) as c:
            return c.execute("SELECT contact_id, outcome FROM campaigns.enroll_contacts(%s, %s::uuid[])",
                             (campaign, contact_ids)).fetchall()
    with ThreadPoolExecutor(callers) as pool:
        return list(pool.map(call, range(callers)))


@pytest.mark.commits
def test_racing_calls_enroll_each_contact_once(conn, db_url):
    t = make_tenant(conn)["tenant_id"]
    campaign = make_campaign(conn, t, status="active", launched_at="2030-03-01 09:00+00")
    make_step(conn, t, campaign)
    contacts = [make_contact(conn, t) for _ in range(200)]
    results = _race(db_url, campaign, contacts)
    enrolled = [cid for result in results for cid, outcome in result if outcome == "enrolled"]
    assert sorted(enrolled) == sorted(contacts)
    assert {o for result in results for _, o in result} == {"enrolled", "already_enrolled"}
    assert conn.execute("SELECT count(*), count(DISTINCT contact_id), max(entry) FROM campaigns.campaign_contacts "
                        "WHERE campaign_id = %s", (campaign,)).fetchone() == (200, 200, 1)
    assert conn.execute("SELECT total_contacts FROM campaigns.campaigns WHERE id = %s", (campaign,)).fetchone()[0] == 200


@pytest.mark.commits
def test_racing_reentries_leave_one_live_enrollment(conn, db_url):
    t = make_tenant(conn)["tenant_id"]
    campaign = make_campaign(conn, t, status="active", launched_at="2030-03-01 09:00+00", reentry="after_exit")
    make_step(conn, t, campaign, step_type="wait")  # keeps each enrollment live for a day
    contact = make_contact(conn, t)
    for entry in range(1, 4):
        results = _race(db_url, campaign, [contact])
        assert sorted(r[0][1] for r in results) == ["already_enrolled"] * 5 + ["enrolled"]
        live = conn.execute("SELECT entry FROM campaigns.campaign_contacts WHERE campaign_id = %s AND contact_id = %s "
                            "AND status IN ('enrolled', 'active', 'paused')", (campaign, contact)).fetchall()
        assert live == [(entry,)]
        conn.execute("SELECT campaigns.exit_enrollment(%s, %s, 'manual')", (campaign, contact))


def test_only_active_campaigns_take_enrollments(conn):
    t = make_tenant(conn)["tenant_id"]
    draft = make_campaign(conn, t)
    make_step(conn, t, draft)
    with pytest.raises(psycopg.Error) as err:
        conn.execute("SELECT * FROM campaigns.enroll_contacts(%s, %s::uuid[])", (draft, [make_contact(conn, t)]))
    assert err.value.sqlstate == "QC409"
    with pytest.raises(psycopg.Error) as err:
        conn.execute("SELECT * FROM campaigns.enroll_contacts(gen_random_uuid(), '{}')")
    assert err.value.sqlstate == "QC404"
