"""The MIME message the worker sends: structure, headers (From/Reply-To, Message-ID, List-Unsubscribe),
the unsubscribe link or footer, exactly one open pixel, click rewriting."""

from __future__ import annotations

import email
import email.policy
import re
import uuid
from urllib.parse import parse_qs, urlsplit

from service.tracking.tokens import CLICK, OPEN, UNSUBSCRIBE, TokenSigner
from service.worker.compose import Composer

BASE = "https://mail.example.test"
SIGNER = TokenSigner("k")


def row(**overrides):
    base = dict(
        message_id=uuid.uuid4(), tenant_id=uuid.uuid4(), contact_id=uuid.uuid4(), campaign_id=uuid.uuid4(),
        step_id=uuid.uuid4(), to_email="ann@example.org", smtp_message_id="<fixed-id@example.com>",
        email="ann@example.org", first_name="Ann", last_name="Lee", company="Acme", custom_fields={}, score=1, tags=[],
        campaign_name="C", campaign_from_email="campaign@example.com", campaign_from_name="Campaign Name",
        campaign_reply_to="campaign-replies@example.com", sender_from_email=None, sender_from_name=None,
        sender_reply_to=None, track_opens=True, track_clicks=True, unsubscribe_enabled=True,
        subject_template="Hello {{ first_name }}",
        html_template='<html><body><p>Hi {{ first_name }}</p>'
                      '<a href="https://example.com/a?x=1&amp;y=2">A</a> <a href=\'http://example.com/b\'>B</a> '
                      '<a href="mailto:help@example.com">mail</a></body></html>',
        text_template=None,
    )
    base.update(overrides)
    return base


def compose(**overrides):
    composed = Composer(BASE, SIGNER).compose(row(**overrides))
    return composed, email.message_from_bytes(composed.data, policy=email.policy.default)


def parts(msg):
    return {part.get_content_type(): part.get_content() for part in msg.iter_parts()}


def test_multipart_alternative_with_text_derived_from_html():
    composed, msg = compose()
    assert msg.get_content_type() == "multipart/alternative"
    body = parts(msg)
    assert set(body) == {"text/plain", "text/html"}
    assert "Hi Ann" in body["text/plain"] and "<p>Hi Ann</p>" in body["text/html"]
    assert "A (https://example.com/a?x=1&y=2)" in body["text/plain"]  # text links are the originals
    assert composed.subject == "Hello Ann" and msg["Subject"] == "Hello Ann"
    assert composed.rcpt == "ann@example.org" and msg["To"] == "ann@example.org"
    assert b"\r\n" in composed.data and b"\n" not in composed.data.replace(b"\r\n", b"")


def test_explicit_text_template_is_used():
    _, msg = compose(text_template="Plain {{ first_name }}")
    assert parts(msg)["text/plain"].startswith("Plain Ann")


def test_plain_text_content_gets_an_html_alternative():
    _, msg = compose(html_template="Hi {{ first_name }} <3\n\nsee https://example.com/p")
    body = parts(msg)
    assert body["text/plain"].startswith("Hi Ann <3")
    assert "Hi Ann &lt;3" in body["text/html"]
    assert "/api/track/click?token=" in body["text/html"]  # the URL was linked, then tracked


def test_from_and_reply_to_come_from_the_sender_account():
    composed, msg = compose(sender_from_email="sender@example.com", sender_from_name="Séverine Sender",
                            sender_reply_to="replies@example.com")
    assert msg["From"].addresses[0].addr_spec == "sender@example.com"
    assert msg["From"].addresses[0].display_name == "Séverine Sender"
    assert msg["Reply-To"] == "replies@example.com"
    assert composed.mail_from == "sender@example.com"


def test_from_and_reply_to_fall_back_to_the_campaign():
    composed, msg = compose()
    assert msg["From"].addresses[0].addr_spec == "campaign@example.com"
    assert msg["From"].addresses[0].display_name == "Campaign Name"
    assert msg["Reply-To"] == "campaign-replies@example.com"
    assert composed.mail_from == "campaign@example.com"


def test_message_id_is_the_stored_one_on_every_attempt():
    r = row()
    first = Composer(BASE, SIGNER).compose(r)
    second = Composer(BASE, SIGNER).compose(r)
    for composed in (first, second):
        msg = email.message_from_bytes(composed.data, policy=email.policy.default)
        assert msg["Message-ID"] == "<fixed-id@example.com>"


def test_list_unsubscribe_headers_and_link():
    r = row()
    _, msg = compose(**{k: r[k] for k in ("message_id", "tenant_id", "contact_id", "campaign_id", "step_id")})
    header = msg["List-Unsubscribe"]
    assert re.fullmatch(r"<https://mail\.example\.test/unsubscribe/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+>", header)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = SIGNER.verify(header[1:-1].rsplit("/", 1)[1], UNSUBSCRIBE)
    assert token is not None
    assert (token.message_id, token.tenant_id, token.contact_id, token.campaign_id, token.step_id) == \
        (r["message_id"], r["tenant_id"], r["contact_id"], r["campaign_id"], r["step_id"])
    html = parts(msg)["text/html"]
    assert header[1:-1] in html  # the footer's link: the same per-recipient URL
    assert "Unsubscribe" in parts(msg)["text/plain"]


def test_template_with_its_own_unsubscribe_link_gets_no_footer():
    _, msg = compose(html_template='<html><body>Hi <a href="{{ unsubscribe_url }}">leave</a></body></html>')
    html = parts(msg)["text/html"]
    assert html.count("/unsubscribe/") == 1
    assert "You are receiving this email" not in html


def test_no_unsubscribe_headers_when_disabled():
    _, msg = compose(unsubscribe_enabled=False)
    assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None
    assert "/unsubscribe/" not in parts(msg)["text/html"]


def test_exactly_one_open_pixel_when_tracking_opens():
    _, msg = compose()
    html = parts(msg)["text/html"]
    pixels = re.findall(r'<img src="(https://mail\.example\.test/api/track/open\?token=[^"]+)"', html)
    assert len(pixels) == 1
    assert html.index(pixels[0]) < html.index("</body>")
    assert SIGNER.verify(parse_qs(urlsplit(pixels[0]).query)["token"][0], OPEN) is not None


def test_no_pixel_without_open_tracking():
    _, msg = compose(track_opens=False)
    assert "/api/track/open" not in parts(msg)["text/html"]


def test_links_rewritten_except_unsubscribe_and_mailto():
    _, msg = compose(html_template='<html><body><a href="https://example.com/a?x=1&amp;y=2">A</a>'
                                   '<a href=\'http://example.com/b\'>B</a><a href="mailto:h@example.com">m</a>'
                                   '<a href="{{ unsubscribe_url }}">U</a></body></html>')
    html = parts(msg)["text/html"]
    hrefs = re.findall(r"""href=["']([^"']+)["']""", html)
    clicks = [h for h in hrefs if "/api/track/click?token=" in h]
    assert len(clicks) == 2
    urls = [SIGNER.verify(parse_qs(urlsplit(h).query)["token"][0], CLICK).url for h in clicks]
    assert urls == ["https://example.com/a?x=1&y=2", "http://example.com/b"]
    assert "mailto:h@example.com" in hrefs
    assert any(h.startswith(BASE + "/unsubscribe/") for h in hrefs)  # not rewritten


def test_no_rewriting_without_click_tracking():
    _, msg = compose(track_clicks=False)
    assert "/api/track/click" not in parts(msg)["text/html"]
    assert "https://example.com/a?x=1&amp;y=2" in parts(msg)["text/html"]


def test_header_injection_is_neutralised():
    _, msg = compose(subject_template="Hi {{ first_name }}", first_name="Ann\r\nBcc: victim@example.com",
                     campaign_from_name="Evil\nBcc: x@example.com")
    assert msg["Bcc"] is None
    assert "\n" not in msg["Subject"]


def test_non_ascii_subject_is_encoded():
    composed, msg = compose(subject_template="Déjà vu, {{ first_name }} — ✓")
    assert msg["Subject"] == "Déjà vu, Ann — ✓"
    head = composed.data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()


def test_an_ab_variant_sender_wins():
    composed, msg = compose(sender_from_email="sender@example.com", sender_from_name="Sender",
                            variant_sender_email="variant@example.com", variant_sender_name="Variant B")
    assert msg["From"].addresses[0].addr_spec == "variant@example.com"
    assert msg["From"].addresses[0].display_name == "Variant B"
    assert composed.mail_from == "variant@example.com"
