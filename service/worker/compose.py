"""From one claimed outbox row to the bytes sent over SMTP.

Rendering (service.worker.render), then deliverability: the unsubscribe link (`{{ unsubscribe_url }}`
or a footer added when the template has none), List-Unsubscribe / List-Unsubscribe-Post (RFC 8058),
click rewriting of every http(s) link except unsubscribe links, exactly one open pixel, and a
multipart/alternative MIME message with a text part (derived from the HTML when the template has
none), From / Reply-To from the sender account (else the campaign) and Message-ID = the stored
smtp_message_id, identical on every retry.

The MIME text is assembled directly rather than through email.message: the output is the same
standard structure (quoted-printable UTF-8 parts, RFC 2047 headers) at a fraction of the cost, which
matters at thousands of messages per second in one process.

Header text (the subject, From display names) is written as typed only when no reader could take it
for anything else: plain ASCII, no "=?" (which mail clients decode as an RFC 2047 encoded-word, so a
typed look-alike could decode into a line break and a forged header) and short enough for one line.
Anything else is RFC 2047-encoded in full, so a client decodes back exactly the typed text. Control
characters, line breaks included, cannot be carried by a header at all: each run becomes one space.
"""

from __future__ import annotations

import binascii
import html as html_lib
import re
import time
from dataclasses import dataclass
from email.header import Header
from email.utils import formatdate
from functools import lru_cache
from typing import Any

from service.config import SmtpSettings
from service.liquid import Budget
from service.tracking.tokens import CLICK, MAX_URL_BYTES, OPEN, UNSUBSCRIBE, TokenSigner
from service.worker.render import Renderer, build_context, looks_like_html, text_template_from_html

OPEN_PATH = "/api/track/open"
CLICK_PATH = "/api/track/click"
UNSUBSCRIBE_PATH = "/unsubscribe"

_UNSUB_REF = re.compile(r"\{\{-?\s*(unsubscribe_url|unsubscribeUrl|unsubscribe_link|unsubscribeLink)\b")
_BODY_END = "</body>"
HTML_FOOTER = ('<p style="font-size:12px;line-height:18px;color:#6b6b6b;margin-top:24px">'
               "You are receiving this email because you are on our list. "
               '<a href="{{ unsubscribe_url }}">Unsubscribe</a>.</p>')
TEXT_FOOTER = "\n\n--\nUnsubscribe: {{ unsubscribe_url }}\n"
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.I | re.S)
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"']+")
# C0 controls and DEL, and what some readers take for a line break (NEL, LINE/PARAGRAPH SEPARATOR).
_HEADER_CONTROLS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
# Longer text is encoded even when plain: encoding folds it into lines well under RFC 5322's 998 bytes.
_RAW_HEADER_MAX = 900
# A display name of atoms separated by single spaces reads the same unquoted; anything else is quoted.
_PLAIN_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def _insert_before_body_end(markup: str, snippet: str) -> str:
    index = markup.lower().rfind(_BODY_END)
    return markup + snippet if index < 0 else markup[:index] + snippet + markup[index:]


@lru_cache(maxsize=512)
def html_source_with_footer(source: str) -> str:
    """The HTML template with an unsubscribe footer, unless it already links {{ unsubscribe_url }}."""
    return source if _UNSUB_REF.search(source) else _insert_before_body_end(source, HTML_FOOTER)


@lru_cache(maxsize=512)
def text_source_with_footer(source: str) -> str:
    return source if _UNSUB_REF.search(source) else source.rstrip("\n") + TEXT_FOOTER


@lru_cache(maxsize=512)
def derived_text_source(html_source: str) -> str:
    return text_template_from_html(html_source)


def text_to_html(text: str) -> str:
    """An HTML alternative of a plain-text body: escaped, paragraphs and breaks kept, URLs linked."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    parts = []
    for paragraph in paragraphs:
        escaped = html_lib.escape(paragraph, quote=True)
        linked = _URL_IN_TEXT.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        parts.append("<p>" + linked.replace("\n", "<br>\n") + "</p>\n")
    return "<!DOCTYPE html>\n<html><body>\n" + "".join(parts) + "</body></html>\n"


def header_text(value: str) -> str:
    """Text as a header carries it: each run of control characters (line breaks too) one space, trimmed."""
    return _HEADER_CONTROLS.sub(" ", value).strip()


def _needs_encoding(text: str) -> bool:
    return "=?" in text or not text.isascii() or len(text) > _RAW_HEADER_MAX


def _encoded(text: str, header_name: str) -> str:
    return Header(text, "utf-8", header_name=header_name).encode(linesep="\r\n")


@lru_cache(maxsize=1024)
def _address(name: str | None, email: str) -> str:
    """`name <email>` that parses back to exactly `name`: encoded, quoted or as is (see the module doc)."""
    name = header_text(name) if name else None
    if not name:
        return email
    if _needs_encoding(name):
        return f"{_encoded(name, 'From')} <{email}>"
    if _PLAIN_PHRASE.fullmatch(name):
        return f"{name} <{email}>"
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + f'" <{email}>'


def _subject_header(subject: str) -> str:
    return "Subject: " + (_encoded(subject, "Subject") if _needs_encoding(subject) else subject)


_date_cache: list[Any] = [0, ""]


def _date_header() -> str:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0], _date_cache[1] = now, formatdate(now, usegmt=True)
    return _date_cache[1]


def _qp(text: str) -> bytes:
    """Quoted-printable UTF-8 with CRLF line ends (soft breaks at 76 columns)."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    return binascii.b2a_qp(normalised.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


@dataclass(slots=True)
class Composed:
    mail_from: str
    rcpt: str
    data: bytes
    subject: str


class Composer:
    """Renders and builds one message per claimed row. One per worker (its renderer is not shared)."""

    def __init__(self, public_url: str, signer: TokenSigner, renderer: Renderer | None = None,
                 default_from: str = SmtpSettings.default_from) -> None:
        self.base = public_url.rstrip("/")
        self.signer = signer
        self.renderer = renderer or Renderer()
        self.default_from = default_from
        self.unsubscribe_prefix = self.base + UNSUBSCRIBE_PATH + "/"

    # -- tracking -------------------------------------------------------------------------------------

    def unsubscribe_url(self, ids: bytes) -> str:
        return self.unsubscribe_prefix + self.signer.sign(UNSUBSCRIBE, ids)

    def open_url(self, ids: bytes) -> str:
        return f"{self.base}{OPEN_PATH}?token={self.signer.sign(OPEN, ids)}"

    def click_url(self, ids: bytes, url: str) -> str:
        return f"{self.base}{CLICK_PATH}?token={self.signer.sign(CLICK, ids, url)}"

    def rewrite_links(self, markup: str, ids: bytes) -> str:
        """Every http(s) href goes through the click endpoint, except unsubscribe links."""
        def replace(match: re.Match[str]) -> str:
            url = html_lib.unescape(match.group(3)).strip()
            lowered = url[:8].lower()
            if not (lowered.startswith("https://") or lowered.startswith("http://")) \
                    or url.startswith(self.unsubscribe_prefix) or len(url.encode("utf-8")) > MAX_URL_BYTES:
                return match.group(0)
            return f'{match.group(1)}"{self.click_url(ids, url)}"'
        return _HREF.sub(replace, markup)

    def add_open_pixel(self, markup: str, ids: bytes) -> str:
        pixel = (f'<img src="{self.open_url(ids)}" width="1" height="1" alt="" border="0" '
                 'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0" />')
        return _insert_before_body_end(markup, pixel)

    # -- the message ----------------------------------------------------------------------------------

    def compose(self, row: dict[str, Any], budget: Budget | None = None) -> Composed:
        """The message of one claimed row. Rendering stays within the render limits and `budget`
        (all parts together): RenderLimitError / SliceExceeded from service.liquid otherwise."""
        ids = TokenSigner.ids(row["message_id"], row["tenant_id"], row["contact_id"], row["campaign_id"], row["step_id"])
        has_sender = row.get("sender_from_email") is not None
        # An A/B variant's sender, else the sender account, else the campaign.
        from_email = (row.get("variant_sender_email")
                      or (row.get("sender_from_email") if has_sender else row.get("campaign_from_email"))
                      or self.default_from)
        from_name = (row.get("variant_sender_name") or (row.get("sender_from_name") if has_sender else None)
                     or row.get("campaign_from_name"))
        reply_to = (row.get("sender_reply_to") if has_sender else None) or row.get("campaign_reply_to")
        unsubscribe = row.get("unsubscribe_enabled", True)
        # A preview or test send carries an unsigned stand-in: it must not unsubscribe a real contact.
        unsubscribe_url = (row.get("unsubscribe_url") or self.unsubscribe_url(ids)) if unsubscribe else None
        ctx = build_context(row, sender_name=from_name, sender_email=from_email, unsubscribe_url=unsubscribe_url)
        renderer = self.renderer

        def render(source: str, ctx: dict[str, Any], *, html: bool = False) -> str:
            return renderer.render(source, ctx, html=html, budget=budget)

        subject = header_text(render(row.get("subject_template") or "", ctx))
        html_source = row.get("html_template")
        text_source = row.get("text_template")
        if html_source and not looks_like_html(html_source):
            # Plain-text content stored as the step's email_content: it is the text part.
            html_source, text_source = None, text_source or html_source
        if html_source:
            if unsubscribe:
                html_source = html_source_with_footer(html_source)
            html = render(html_source, ctx, html=True)
            if text_source:
                text = render(text_source_with_footer(text_source) if unsubscribe else text_source, ctx)
            else:
                text = render(derived_text_source(html_source), ctx)
        else:
            text = render(text_source_with_footer(text_source or "") if unsubscribe else (text_source or ""), ctx)
            html = text_to_html(text)
        if budget is not None:
            budget.check_output(len(html) + len(text))
        if row.get("track_clicks", True):
            html = self.rewrite_links(html, ids)
        if row.get("track_opens", True):
            html = self.add_open_pixel(html, ids)

        headers = [
            "From: " + _address(from_name, from_email),
            "To: " + row["to_email"],
        ]
        if reply_to:
            headers.append("Reply-To: " + reply_to)
        headers += [
            _subject_header(subject),
            "Date: " + _date_header(),
            "Message-ID: " + row["smtp_message_id"],
            "MIME-Version: 1.0",
        ]
        if row.get("is_test"):
            headers.append("X-Campaigns-Test: 1")
        if unsubscribe_url:
            headers.append(f"List-Unsubscribe: <{unsubscribe_url}>")
            headers.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        # "=_" cannot occur in quoted-printable output, so the boundary never collides with a body.
        boundary = "=_" + row["message_id"].hex
        headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        part_head = "Content-Type: text/{}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        data = b"".join((
            "\r\n".join(headers).encode("utf-8"), b"\r\n\r\n",
            f"--{boundary}\r\n".encode(), part_head.format("plain").encode(), _qp(text), b"\r\n",
            f"--{boundary}\r\n".encode(), part_head.format("html").encode(), _qp(html), b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ))
        return Composed(from_email, row["to_email"], data, subject)
