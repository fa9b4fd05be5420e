"""Rotating the signing key keeps the links in mail already sent working: mail goes out through the real
`campaignctl worker` to an SMTP server while one key signs, the API is then started again with a new key
and the old one listed as previous, and the links in that mail still unsubscribe, redirect and open the
report; once the old key is removed from the list, its links are refused and change nothing."""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
import sys
import time
from urllib.parse import urlsplit

import httpx

from service.config import get_settings
from service.report.links import ReportLinkSigner
from service.tracking.tokens import UNSUBSCRIBE, TokenSigner
from tests.support.api import digest, serve
from tests.support.outbox import ROOT, make_outbox, statuses, worker_env

OLD = "rotation-tests-old-key-3b8e1f6c9a2d7e4f0b5c"
NEW = "rotation-tests-new-key-8d2a6f0c4e9b1d7a3f5e"


def send_with(db_url, smtp, keys: dict[str, str]) -> None:
    """`campaignctl worker --once` with these key settings: what is queued goes out over SMTP."""
    done = subprocess.run([sys.executable, "-m", "service.cli", "worker", "--once"], cwd=ROOT,
                          env=worker_env(db_url, smtp, **keys), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def links_of(data: bytes) -> dict[str, str]:
    """The path and query of the unsubscribe link (List-Unsubscribe) and of the first click link of a mail."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    unsubscribe = urlsplit(msg["List-Unsubscribe"].strip("<>"))
    html = msg.get_body(("html",)).get_content()
    click = urlsplit(re.search(r'href="([^"]*/api/track/click\?token=[^"]+)"', html).group(1))
    return {"unsubscribe": unsubscribe.path, "click": f"{click.path}?{click.query}"}


def api_with(monkeypatch, db_url, secret_key: str, previous: str | None):
    """The API started afresh with this key list (as a deploy restarts it)."""
    monkeypatch.setenv("CAMPAIGNS_SECRET_KEY", secret_key)
    if previous is None:
        monkeypatch.delenv("CAMPAIGNS_PREVIOUS_SECRET_KEYS", raising=False)
    else:
        monkeypatch.setenv("CAMPAIGNS_PREVIOUS_SECRET_KEYS", previous)
    get_settings.cache_clear()
    return serve(db_url)


def unsubscribe(base: str, path: str) -> httpx.Response:
    return httpx.post(base + path, content="List-Unsubscribe=One-Click",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)


def contact_status(conn, to_email: str) -> str:
    return conn.execute("SELECT status FROM campaigns.contacts WHERE email = %s", (to_email,)).fetchone()[0]


def test_links_in_mail_sent_before_a_rotation_keep_working_until_their_key_is_removed(conn, db_url, smtp, monkeypatch):
    box = make_outbox(conn, 2)
    send_with(db_url, smtp, {"CAMPAIGNS_SECRET_KEY": OLD})
    smtp.wait_for(2)
    assert statuses(conn, box.campaign_id) == {"sent": 2}
    first, second = sorted(smtp.received, key=lambda r: r.rcpt)
    first_links, second_links = links_of(first.data), links_of(second.data)
    report_link = (f"/reports/campaigns/{box.campaign_id}?token="
                   + ReportLinkSigner(OLD).sign(box.tenant_id, box.campaign_id, int(time.time()) + 3600))

    # Rotated: the new key signs, the old one still verifies.
    with api_with(monkeypatch, db_url, NEW, OLD) as base:
        response = unsubscribe(base, first_links["unsubscribe"])
        assert response.status_code == 200
        clicked = httpx.get(base + first_links["click"], timeout=30)
        assert clicked.status_code == 302 and clicked.headers["location"] == "https://example.com/x"
        assert httpx.get(base + report_link, timeout=30).status_code == 200
    assert contact_status(conn, first.rcpt) == "unsubscribed"
    assert conn.execute("SELECT reason FROM campaigns.suppressions WHERE tenant_id = %s AND email = %s",
                        (box.tenant_id, first.rcpt)).fetchone()[0] == "unsubscribe"

    # Mail sent after the rotation is signed with the new key alone.
    later = make_outbox(conn, 1)
    send_with(db_url, smtp, {"CAMPAIGNS_SECRET_KEY": NEW, "CAMPAIGNS_PREVIOUS_SECRET_KEYS": OLD})
    smtp.wait_for(3)
    assert statuses(conn, later.campaign_id) == {"sent": 1}
    new_token = links_of(smtp.received[2].data)["unsubscribe"].rsplit("/", 1)[1]
    assert TokenSigner(NEW).verify(new_token, UNSUBSCRIBE) is not None
    assert TokenSigner(OLD).verify(new_token, UNSUBSCRIBE) is None

    # The old key removed: what it signed is refused and changes nothing.
    before = digest(conn)
    with api_with(monkeypatch, db_url, NEW, None) as base:
        assert unsubscribe(base, second_links["unsubscribe"]).status_code == 404
        assert httpx.get(base + second_links["unsubscribe"], timeout=30).status_code == 404
        assert httpx.get(base + second_links["click"], timeout=30).status_code == 404
        assert httpx.get(base + report_link, timeout=30).status_code == 401
    assert digest(conn) == before
    assert contact_status(conn, second.rcpt) == "active"
