"""The campaign report page: access by API key or signed link, what it shows, and a real browser."""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import httpx
import psycopg
import pytest

from service.report.links import ReportLinkSigner
from tests.support.factories import insert, make_campaign, make_contact, make_segment, make_step, make_tenant

T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=2)


@pytest.fixture(scope="module")
def world(module_conn: psycopg.Connection) -> dict:
    """A launched two-email campaign: 6 contacts, the first email sent to all, 3 opened, 1 clicked,
    1 replied, 1 failed; an A/B test on the first email; another tenant with its own campaign."""
    conn = module_conn
    t = make_tenant(conn, "Acme")
    tid = t["tenant_id"]
    contacts = [make_contact(conn, tid, first_name=f"C{i}") for i in range(6)]
    campaign = make_campaign(conn, tid, name="Spring <launch>", segment_id=make_segment(conn, tid, contacts))
    second = make_step(conn, tid, campaign, step_order=3, step_name="Follow-up")
    wait = make_step(conn, tid, campaign, step_order=2, step_type="wait", wait_duration_value=2, next_step_id=second)
    first = make_step(conn, tid, campaign, step_order=1, step_name="Welcome", next_step_id=wait)
    test = insert(conn, "ab_tests", tenant_id=tid, campaign_id=campaign, step_id=first, sample_percent=100)
    for name in "AB":
        insert(conn, "ab_test_variants", tenant_id=tid, ab_test_id=test, variant_name=name, is_control=name == "A",
               subject_line=f"Subject {name}")
    conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (campaign, T0))
    conn.execute("SELECT campaigns.process_due_steps(%s)", (T0,))
    messages = [r[0] for r in conn.execute("SELECT id FROM campaigns.email_messages ORDER BY id")]
    conn.execute("UPDATE campaigns.email_messages SET status = 'sent', sent_at = %s WHERE id = ANY(%s)", (T0, messages[:5]))
    conn.execute("UPDATE campaigns.email_messages SET status = 'failed', last_error = '550 5.1.1 no such user', "
                 "attempts = 1, failure_kind = 'bounced', failed_at = %s WHERE id = %s", (T0, messages[5]))
    for m in messages[:5]:
        conn.execute("SELECT campaigns.record_email_event(%s, 'delivered', %s)", (m, T0 + timedelta(minutes=1)))
    for m in messages[:3]:
        conn.execute("SELECT campaigns.record_email_event(%s, 'open', %s)", (m, T0 + timedelta(hours=1)))
    conn.execute("SELECT campaigns.record_email_event(%s, 'click', %s)", (messages[0], T0 + timedelta(hours=2)))
    conn.execute("SELECT campaigns.record_email_event(%s, 'reply', %s)", (messages[1], T0 + timedelta(hours=3)))
    other = make_tenant(conn, "Globex")
    other_campaign = make_campaign(conn, other["tenant_id"], name="Not yours", status="active")
    return {"tenant": t, "campaign": campaign, "other": other, "other_campaign": other_campaign}


def _get(base: str, campaign: UUID, key: str | None = None, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    params = {"token": token} if token else {}
    return httpx.get(f"{base}/reports/campaigns/{campaign}", headers=headers, params=params, timeout=30)


def test_report_with_api_key_shows_the_campaign(report_api, world):
    r = _get(report_api, world["campaign"], key=world["tenant"]["api_key"])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    html = r.text
    assert "Spring &lt;launch&gt;" in html and "<launch>" not in html      # escaped
    assert re.search(r'data-total="sent">5<', html)
    assert re.search(r'data-total="opens">3<', html)
    assert 'data-test="failure"' in html and "550 5.1.1" in html
    # dead letters by reason
    assert re.search(r'data-test="dead-letters"><span data-status="bounced">bounced: <b>1</b>', html)


def test_report_access_is_refused_without_credentials_or_for_another_tenant(report_api, world):
    assert _get(report_api, world["campaign"]).status_code == 401
    assert _get(report_api, world["campaign"], key="ck_" + "0" * 64).status_code == 401
    foreign = _get(report_api, world["other_campaign"], key=world["tenant"]["api_key"])
    assert foreign.status_code == 404 and "Not yours" not in foreign.text


def test_signed_link_round_trip_and_tampering(report_api, world):
    key = world["tenant"]["api_key"]
    minted = httpx.post(f"{report_api}/api/campaigns/{world['campaign']}/report-link",
                        headers={"Authorization": f"Bearer {key}"}, json={"expires_in_hours": 1}, timeout=30)
    assert minted.status_code == 201
    url = minted.json()["url"]
    token = url.split("token=", 1)[1]
    assert url.startswith("http") and f"/reports/campaigns/{world['campaign']}?token=" in url
    assert _get(report_api, world["campaign"], token=token).status_code == 200
    # Altered, forged, for another campaign, expired: all refused alike.
    body, _, tag = token.partition(".")
    altered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + tag
    assert _get(report_api, world["campaign"], token=altered).status_code == 401
    assert _get(report_api, world["other_campaign"], token=token).status_code == 401
    signer = ReportLinkSigner("another secret")
    forged = signer.sign(world["tenant"]["tenant_id"], world["campaign"], int(time.time()) + 3600)
    assert _get(report_api, world["campaign"], token=forged).status_code == 401
    from service.config import get_settings
    expired = ReportLinkSigner(get_settings().links.secret_key).sign(world["tenant"]["tenant_id"], world["campaign"], int(time.time()) - 1)
    assert _get(report_api, world["campaign"], token=expired).status_code == 401


def test_report_link_for_another_tenants_campaign_is_404(report_api, world):
    r = httpx.post(f"{report_api}/api/campaigns/{world['other_campaign']}/report-link",
                   headers={"Authorization": f"Bearer {world['tenant']['api_key']}"}, json={}, timeout=30)
    assert r.status_code == 404


def test_report_in_headless_chromium(report_api, world, chromium):
    r = httpx.post(f"{report_api}/api/campaigns/{world['campaign']}/report-link",
                   headers={"Authorization": f"Bearer {world['tenant']['api_key']}"}, json={}, timeout=30)
    token = r.json()["url"].split("token=", 1)[1]
    url = f"{report_api}/reports/campaigns/{world['campaign']}?token={token}"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", "--window-size=1200,1600"]
    with tempfile.TemporaryDirectory() as profile:
        shot = Path(profile) / "report.png"
        dom = subprocess.run([chromium, *flags, f"--user-data-dir={profile}/dom", "--dump-dom", url],
                             capture_output=True, text=True, timeout=120)
        subprocess.run([chromium, *flags, f"--user-data-dir={profile}/shot", f"--screenshot={shot}", url],
                       capture_output=True, timeout=120, check=True)
        assert shot.exists()
        png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000            # a real, non-blank render
    html = dom.stdout
    assert re.search(r'data-test="campaign-name">Spring &lt;launch&gt;<', html)
    assert html.count('data-test="funnel-step"') == 2
    assert re.search(r'data-status="active">active: <b>\d+</b>', html)
    assert re.search(r'<polyline data-series="sent"[^>]*points="[^"]+"', html)
    assert html.count('data-test="ab-variant"') == 2
    assert re.search(r'data-total="replies">1<', html)
    Path("/tmp/campaigns-report.png").write_bytes(png)   # kept for a person to look at
