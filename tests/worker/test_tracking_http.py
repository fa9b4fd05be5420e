"""The public tracking endpoints and the authenticated intake, over real HTTP: signed tokens only,
forged ones change nothing, every event through record_email_event.

Mail clients and browsers call these routes, so they are served over real HTTP: one server and one
database for the module, one outbox (its own tenant) per test."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import psycopg
import pytest

from service.tracking.tokens import CLICK, OPEN, UNSUBSCRIBE, TokenSigner
from tests.support.api import serve
from tests.support.outbox import SECRET, make_outbox, statuses


@pytest.fixture(scope="module")
def module_conn(module_db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(module_db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def conn(module_conn: psycopg.Connection) -> psycopg.Connection:
    return module_conn


@pytest.fixture(scope="module")
def app_url(module_db_url: str) -> Iterator[str]:
    with serve(module_db_url) as url:
        yield url

SIGNER = TokenSigner(SECRET)


def sent_messages(conn, box, n=None):
    """Mark the outbox's messages sent (as the worker would) and return (id, tenant, contact, campaign, step, smtp id)."""
    conn.execute("UPDATE campaigns.email_messages SET status = 'sent', sent_at = now(), subject = 'Hello there' "
                 "WHERE campaign_id = %s", (box.campaign_id,))
    rows = conn.execute("SELECT id, tenant_id, contact_id, campaign_id, step_id, smtp_message_id, to_email, enrollment_id "
                        "FROM campaigns.email_messages WHERE campaign_id = %s ORDER BY id", (box.campaign_id,)).fetchall()
    return rows[:n] if n else rows


def token(kind, row, url=None):
    return SIGNER.sign(kind, TokenSigner.ids(*row[:5]), url)


def event_count(conn, message_id, event_type):
    return conn.execute("SELECT count(*) FROM campaigns.email_events WHERE message_id = %s AND event_type = %s",
                        (message_id, event_type)).fetchone()[0]


def forge(tok):
    body, tag = tok.split(".")
    return body[:-3] + ("AAA" if body[-3:] != "AAA" else "BBB") + "." + tag


# -- open ---------------------------------------------------------------------------------------------


def test_open_pixel_records_one_open(conn, app_url):
    box = make_outbox(conn, 1)
    row = sent_messages(conn, box)[0]
    r = httpx.get(f"{app_url}/api/track/open", params={"token": token(OPEN, row)}, headers={"User-Agent": "MailApp/1"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/gif"
    assert r.content.startswith(b"GIF89a") and len(r.content) == 43
    assert "no-cache" in r.headers["cache-control"] and "no-store" in r.headers["cache-control"]
    assert r.headers["pragma"] == "no-cache" and r.headers["expires"] == "0"
    assert event_count(conn, row[0], "open") == 1
    httpx.get(f"{app_url}/api/track/open", params={"token": token(OPEN, row)})
    assert conn.execute("SELECT open_count, first_opened_at IS NOT NULL FROM campaigns.email_messages WHERE id = %s",
                        (row[0],)).fetchone() == (2, True)
    assert conn.execute("SELECT opens FROM campaigns.campaign_steps WHERE id = %s", (box.step_id,)).fetchone()[0] == 1


@pytest.mark.parametrize("bad", ["", "garbage", "a.b", "FORGED"])
def test_open_with_a_bad_token_serves_the_pixel_and_records_nothing(conn, app_url, bad):
    box = make_outbox(conn, 1)
    row = sent_messages(conn, box)[0]
    value = forge(token(OPEN, row)) if bad == "FORGED" else bad
    r = httpx.get(f"{app_url}/api/track/open", params={"token": value})
    assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
    assert event_count(conn, row[0], "open") == 0
    assert httpx.get(f"{app_url}/api/track/open").status_code == 200  # no token at all


def test_an_unsubscribe_token_is_not_an_open_token(conn, app_url):
    box = make_outbox(conn, 1)
    row = sent_messages(conn, box)[0]
    httpx.get(f"{app_url}/api/track/open", params={"token": token(UNSUBSCRIBE, row)})
    assert event_count(conn, row[0], "open") == 0


# -- click --------------------------------------------------------------------------------------------


def test_click_redirects_to_the_signed_url_and_records_one_click(conn, app_url):
    box = make_outbox(conn, 1)
    row = sent_messages(conn, box)[0]
    url = "https://example.com/landing?utm_source=email&x=%C3%BC"
    r = httpx.get(f"{app_url}/api/track/click", params={"token": token(CLICK, row, url)})
    assert r.status_code == 302
    assert r.headers["location"] == url
    assert event_count(conn, row[0], "click") == 1
    # a click without an open counts as the first open
    assert conn.execute("SELECT opens, clicks FROM campaigns.campaign_steps WHERE id = %s", (box.step_id,)).fetchone() == (1, 1)


def test_click_never_redirects_outside_a_valid_token(conn, app_url):
    # no open redirect
    box = make_outbox(conn, 1)
    row = sent_messages(conn, box)[0]
    good = token(CLICK, row, "https://example.com/")
    evil_body = token(CLICK, row, "https://evil.example/").split(".")[0]
    for bad in (forge(good), evil_body + "." + good.split(".")[1], "", "x"):
        r = httpx.get(f"{app_url}/api/track/click", params={"token": bad, "url": "https://evil.example/"})
        assert r.status_code == 404
        assert "location" not in r.headers
        assert "evil" not in r.text
    r = httpx.get(f"{app_url}/api/track/click?url=https://evil.example/")
    assert r.status_code == 404
    assert event_count(conn, row[0], "click") == 0


def test_a_signed_non_http_url_is_refused(conn, app_url):
    box = make_outbox(conn, 1)
    row = sent_messages(conn, box)[0]
    r = httpx.get(f"{app_url}/api/track/click", params={"token": token(CLICK, row, "javascript:alert(1)")})
    assert r.status_code == 404


# -- unsubscribe --------------------------------------------------------------------------------------


def test_unsubscribe_page_shows_a_form(conn, app_url):
    box = make_outbox(conn, 1)
    row = sent_messages(conn, box)[0]
    tok = token(UNSUBSCRIBE, row)
    r = httpx.get(f"{app_url}/unsubscribe/{tok}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<form method="post"' in r.text and 'name="List-Unsubscribe" value="One-Click"' in r.text
    assert row[6] not in r.text  # the address is not shown
    assert event_count(conn, row[0], "unsubscribe") == 0  # a GET (a link scanner) changes nothing


def test_one_click_unsubscribe(conn, app_url):
    # RFC 8058
    box = make_outbox(conn, 2)
    row, other = sent_messages(conn, box)
    # the same contact has mail queued in a second campaign of the tenant
    second = make_outbox(conn, 1, tenant={"tenant_id": box.tenant_id, "api_key": box.api_key})
    conn.execute("UPDATE campaigns.email_messages SET contact_id = %s, to_email = %s WHERE campaign_id = %s",
                 (row[2], row[6], second.campaign_id))
    conn.execute("UPDATE campaigns.campaign_contacts SET contact_id = %s WHERE campaign_id = %s", (row[2], second.campaign_id))
    tok = token(UNSUBSCRIBE, row)
    r = httpx.post(f"{app_url}/unsubscribe/{tok}", content="List-Unsubscribe=One-Click",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and "unsubscribed" in r.text
    assert conn.execute("SELECT reason FROM campaigns.suppressions WHERE tenant_id = %s AND lower(email) = lower(%s)",
                        (box.tenant_id, row[6])).fetchone()[0] == "unsubscribe"
    assert conn.execute("SELECT status FROM campaigns.contacts WHERE id = %s", (row[2],)).fetchone()[0] == "unsubscribed"
    assert statuses(conn, second.campaign_id) == {"cancelled": 1}  # queued mail is cancelled
    # nothing left that could send to them (single-email campaigns: their enrollments had completed)
    assert {s for (s,) in conn.execute("SELECT status FROM campaigns.campaign_contacts WHERE contact_id = %s",
                                       (row[2],))} <= {"exited", "completed"}
    assert conn.execute("SELECT unsubscribes FROM campaigns.campaign_steps WHERE id = %s", (box.step_id,)).fetchone()[0] == 1
    # the other recipient is untouched; a second click is still a 200 and counts once
    assert conn.execute("SELECT status FROM campaigns.contacts WHERE id = %s", (other[2],)).fetchone()[0] == "active"
    assert httpx.post(f"{app_url}/unsubscribe/{tok}", content="List-Unsubscribe=One-Click").status_code == 200
    assert event_count(conn, row[0], "unsubscribe") == 1


def test_tampered_unsubscribe_changes_nothing(conn, app_url):
    box = make_outbox(conn, 1)
    row = sent_messages(conn, box)[0]
    for bad in (forge(token(UNSUBSCRIBE, row)), token(OPEN, row), "nonsense"):
        assert httpx.get(f"{app_url}/unsubscribe/{quote(bad)}").status_code == 404
        r = httpx.post(f"{app_url}/unsubscribe/{quote(bad)}", content="List-Unsubscribe=One-Click")
        assert r.status_code == 404
    assert conn.execute("SELECT count(*) FROM campaigns.suppressions WHERE tenant_id = %s", (box.tenant_id,)).fetchone()[0] == 0
    assert conn.execute("SELECT status FROM campaigns.contacts WHERE id = %s", (row[2],)).fetchone()[0] == "active"


# -- intake: provider events ------------------------------------------------------------------------------


def test_intake_requires_an_api_key(conn, app_url):
    r = httpx.post(f"{app_url}/api/intake/events", json={"events": []})
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"
    r = httpx.post(f"{app_url}/api/intake/replies", content=b"x", headers={"Authorization": "Bearer ck_nope"})
    assert r.status_code == 401


def test_intake_events_per_item_results(conn, app_url):
    box = make_outbox(conn, 3)
    a, b, c = sent_messages(conn, box)
    other = make_outbox(conn, 1)
    foreign = sent_messages(conn, other)[0]
    events = [
        {"message_id": str(a[0]), "type": "delivered", "provider_event_id": "ev-1", "occurred_at": "2026-01-01T10:00:00Z"},
        {"message_id": str(a[0]), "type": "delivered", "provider_event_id": "ev-1"},             # a repeat
        {"smtp_message_id": b[5], "type": "open"},                                                  # by Message-ID
        {"smtp_message_id": c[5].strip("<>"), "type": "bounce_soft", "provider_event_id": "ev-3"},  # without <>
        {"message_id": str(foreign[0]), "type": "open"},                                            # another tenant's
        {"message_id": str(a[0]), "type": "teleported"},
        {"type": "open"},
        {"smtp_message_id": b[5], "type": "complaint", "provider_event_id": "fbl-9"},
    ]
    r = httpx.post(f"{app_url}/api/intake/events", json={"events": events},
                   headers={"Authorization": f"Bearer {box.api_key}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["status"] for x in body["results"]] == [
        "recorded", "duplicate", "recorded", "recorded", "not_found", "invalid", "invalid", "recorded"]
    assert body["results"][5]["code"] == "UNKNOWN_EVENT_TYPE"
    assert (body["recorded"], body["duplicates"], body["not_found"], body["invalid"]) == (4, 1, 1, 2)
    assert event_count(conn, foreign[0], "open") == 0
    assert conn.execute("SELECT delivered_at FROM campaigns.email_messages WHERE id = %s", (a[0],)).fetchone()[0].year == 2026
    # complaint: global suppression and the contact leaves
    assert conn.execute("SELECT count(*) FROM campaigns.global_suppressions WHERE lower(email) = lower(%s)",
                        (b[6],)).fetchone()[0] == 1


def test_intake_hard_bounce_suppresses(conn, app_url):
    box = make_outbox(conn, 1)
    row = sent_messages(conn, box)[0]
    r = httpx.post(f"{app_url}/api/intake/events", headers={"Authorization": f"Bearer {box.api_key}"},
                   json={"events": [{"message_id": str(row[0]), "type": "bounce_hard"}]})
    assert r.json()["recorded"] == 1
    assert conn.execute("SELECT status FROM campaigns.contacts WHERE id = %s", (row[2],)).fetchone()[0] == "bounced"


# -- intake: replies -----------------------------------------------------------------------------------------


def raw_reply(frm, subject, in_reply_to=None, references=None, message_id="<reply-1@client.example>"):
    lines = [f"From: Ann <{frm}>", "To: news@example.com", f"Subject: {subject}", f"Message-ID: {message_id}",
             "Date: Mon, 02 Mar 2026 10:00:00 +0000"]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append(f"References: {references}")
    return ("\r\n".join(lines) + "\r\n\r\nThanks, interested!\r\n> quoted\r\n").encode()


def post_reply(app_url, box, body, content_type="message/rfc822"):
    return httpx.post(f"{app_url}/api/intake/replies", content=body,
                      headers={"Authorization": f"Bearer {box.api_key}", "Content-Type": content_type})


def test_reply_matched_by_in_reply_to_exits_the_enrollment(conn, app_url):
    box = make_outbox(conn, 2, follow_up=True)
    row = sent_messages(conn, box)[0]
    r = post_reply(app_url, box, raw_reply(row[6], "Re: Hello there", in_reply_to=row[5]))
    assert r.status_code == 200, r.text
    assert r.json() == {"matched": True, "message_id": str(row[0]), "matched_by": "references", "recorded": True}
    assert conn.execute("SELECT replies FROM campaigns.campaign_steps WHERE id = %s", (box.step_id,)).fetchone()[0] == 1
    assert conn.execute("SELECT status, exit_reason FROM campaigns.campaign_contacts WHERE id = %s",
                        (row[7],)).fetchone() == ("exited", "replied")
    # the same reply posted again counts once
    assert post_reply(app_url, box, raw_reply(row[6], "Re: Hello there", in_reply_to=row[5])).json()["recorded"] is False
    assert event_count(conn, row[0], "reply") == 1


def test_reply_matched_by_references(conn, app_url):
    box = make_outbox(conn, 2)
    a, b = sent_messages(conn, box)
    refs = f"<older@client.example> {b[5]} <unrelated@elsewhere>"
    r = post_reply(app_url, box, raw_reply(b[6], "Re: x", references=refs), content_type="text/plain")
    assert r.json()["message_id"] == str(b[0])


def test_reply_matched_by_subject_and_sender(conn, app_url):
    box = make_outbox(conn, 2)
    row = sent_messages(conn, box)[0]
    r = post_reply(app_url, box, raw_reply(row[6].upper(), "RE: Fwd: Hello there"))
    assert r.json()["matched"] is True and r.json()["matched_by"] == "subject"


def test_unmatched_reply(conn, app_url):
    box = make_outbox(conn, 1)
    sent_messages(conn, box)
    r = post_reply(app_url, box, raw_reply("stranger@example.net", "Re: Hello there", in_reply_to="<nope@x>"))
    assert r.status_code == 200
    assert r.json() == {"matched": False, "message_id": None, "matched_by": None, "recorded": False}


def test_reply_to_another_tenants_message_is_not_matched(conn, app_url):
    box = make_outbox(conn, 1)
    other = make_outbox(conn, 1)
    foreign = sent_messages(conn, other)[0]
    r = post_reply(app_url, box, raw_reply(foreign[6], "Re: Hello there", in_reply_to=foreign[5]))
    assert r.json()["matched"] is False
    assert event_count(conn, foreign[0], "reply") == 0


def test_empty_reply_body_is_a_400(conn, app_url):
    box = make_outbox(conn, 1)
    assert post_reply(app_url, box, b"").status_code == 400
