"""campaigns.schedule_campaign_from_request: the whole "start_at or local time" rule of a schedule
request in SQL (an offset makes an instant; no offset, or local_date + local_time, is a wall-clock time
in the given timezone or the campaign's), with QC422 for a combination that does not make sense."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import psycopg
import pytest
from tests.support.factories import make_campaign, make_step, make_tenant

UTC = timezone.utc
AS_OF = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@pytest.fixture
def campaign(conn):
    tid = make_tenant(conn)["tenant_id"]
    campaign_id = make_campaign(conn, tid, timezone="America/New_York")
    make_step(conn, tid, campaign_id)
    return campaign_id


def schedule(conn, campaign_id, start_at=None, local_date=None, local_time=None, tz=None):
    return conn.execute(
        "SELECT (c).status, (c).scheduled_at FROM (SELECT campaigns.schedule_campaign_from_request("
        "%s, %s::text, %s::date, %s::time, %s::text, %s) AS c) x",
        (campaign_id, start_at, local_date, local_time, tz, AS_OF),
    ).fetchone()


def refused(conn, *args, **kwargs) -> str:
    with pytest.raises(psycopg.Error) as e:
        schedule(conn, *args, **kwargs)
    return e.value.sqlstate


@pytest.mark.parametrize("start_at", ["2026-03-10T13:00:00Z", "2026-03-10T13:00:00+00:00", "2026-03-10T15:00:00+0200",
                                      "2026-03-10 08:00:00-05"])
def test_start_at_with_an_offset_is_an_instant(conn, campaign, start_at):
    assert schedule(conn, campaign, start_at) == ("scheduled", datetime(2026, 3, 10, 13, 0, tzinfo=UTC))


def test_start_at_without_an_offset_is_local_to_the_campaign(conn, campaign):
    # 09:00 in New York on 10 March 2026 (EDT since 8 March) is 13:00 UTC.
    assert schedule(conn, campaign, "2026-03-10T09:00:00") == ("scheduled", datetime(2026, 3, 10, 13, 0, tzinfo=UTC))


def test_local_date_and_time_in_a_given_timezone(conn, campaign):
    assert schedule(conn, campaign, local_date=date(2026, 3, 10), local_time=time(9, 0), tz="Europe/Paris") == (
        "scheduled", datetime(2026, 3, 10, 8, 0, tzinfo=UTC))
    assert schedule(conn, campaign, "2026-03-11T09:00", tz="Europe/Paris")[1] == datetime(2026, 3, 11, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("kwargs", [
    {},                                                                              # nothing
    {"start_at": "2026-03-10T09:00:00", "local_date": date(2026, 3, 10), "local_time": time(9)},  # both forms
    {"local_date": date(2026, 3, 10)},                                               # half a local time
    {"local_time": time(9)},
    {"start_at": "2026-03-10T13:00:00Z", "tz": "Europe/Paris"},                      # a zone for an instant
    {"start_at": "next tuesday"},                                                    # not a date-time
])
def test_a_bad_combination_is_qc422(conn, campaign, kwargs):
    assert refused(conn, campaign, **kwargs) == "QC422"


def test_the_other_refusals(conn, campaign):
    assert refused(conn, campaign, "2026-03-10T09:00:00", tz="Mars/Olympus") == "QC302"
    assert refused(conn, campaign, (AS_OF - timedelta(hours=1)).isoformat()) == "QC301"
    assert refused(conn, "00000000-0000-4000-8000-000000000000", "2026-03-10T09:00:00") == "QC404"


def test_the_typed_form_applies_the_same_rule(conn, campaign):
    row = conn.execute("SELECT (campaigns.schedule_campaign_at(%s, %s, NULL, NULL, %s)).scheduled_at",
                       (campaign, datetime(2026, 3, 10, 13, 0, tzinfo=UTC), AS_OF)).fetchone()
    assert row[0] == datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    with pytest.raises(psycopg.Error) as e:
        conn.execute("SELECT campaigns.schedule_campaign_at(%s, %s, NULL, %s, %s)",
                     (campaign, datetime(2026, 3, 10, 13, 0, tzinfo=UTC), "Europe/Paris", AS_OF))
    assert e.value.sqlstate == "QC422"
