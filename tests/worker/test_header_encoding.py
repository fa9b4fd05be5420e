"""Headers a mail client reads back exactly as typed: every composed message is parsed again with Python's
`email` parser (policy default, which decodes RFC 2047 encoded-words the way mail clients do), and each
hostile subject or From name must decode to the typed text, in one header, with no header added."""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
import re
import uuid

import pytest

from service.tracking.tokens import UNSUBSCRIBE
from service.worker.compose import Composer
from tests.support.outbox import make_outbox, run_once, statuses
from tests.worker.test_compose import BASE, SIGNER, row

HOSTILE = [
    pytest.param("hello =?utf-8?q?x=0D=0AX-Injected:_encoded?=", id="q-encoded-word-look-alike"),
    pytest.param("=?utf-8?b?SGkNClgtSW5qZWN0ZWQ6IHllcw==?=", id="b-encoded-word-look-alike"),
    pytest.param("=?iso-8859-1?q?caf=E9?= =?utf-8?q?x?= tail", id="adjacent-look-alikes"),
    pytest.param("50% off =? today ?=", id="loose-markers"),
    pytest.param("Hi\r\nBcc: victim@example.com", id="crlf"),
    pytest.param("Hi\nX-Injected: yes\rZ", id="bare-lf-and-cr"),
    pytest.param("nul\x00esc\x1bdel\x7fnel\x85ls\u2028ps\u2029end", id="other-controls"),
    pytest.param('Say "hi", <ann@example.org>; (c) \\ back', id="quotes-commas-angle-brackets"),
    pytest.param("Doe, John", id="comma"),
    pytest.param("two  spaces  inside", id="double-spaces"),
    pytest.param("  padded\t", id="outer-whitespace"),
    pytest.param("Grüße, Ann — ✓ 日本語 🎉", id="non-ascii"),
    pytest.param("Café =?utf-8?q?caf=C3=A9?=", id="non-ascii-and-look-alike"),
    pytest.param("Plain Acme Team", id="plain"),
]
# Too long for one encoded-word (75 characters): encoded as several, folded over lines.
LONG = [
    pytest.param("a" * 2000, id="long-ascii-word"),
    pytest.param("word, " * 300, id="long-ascii-phrase"),
    pytest.param("é" * 700, id="long-non-ascii"),
    pytest.param("Grüße aus Köln, " * 16, id="long-mixed"),
]
HEADERS = ["From", "To", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version",
           "List-Unsubscribe", "List-Unsubscribe-Post", "Content-Type"]


def as_header(typed: str) -> str:
    """What a header can carry of typed text: control characters (line breaks too) become one space per run."""
    return re.sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]+", " ", typed).strip()


def rfc2047_display_name(data: bytes) -> str:
    """The From display name as RFC 2047 decodes it: whitespace between two adjacent encoded-words is
    dropped. (CPython's address parser keeps a space there, so it cannot judge names that need several.)"""
    raw = email.message_from_bytes(data, policy=email.policy.compat32)["From"]
    display, _ = email.utils.parseaddr(raw.replace("\r\n", ""))
    return str(email.header.make_header(email.header.decode_header(display)))


def compose(**overrides):
    composed = Composer(BASE, SIGNER).compose(row(**overrides))
    return composed, email.message_from_bytes(composed.data, policy=email.policy.default)


def head_of(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def assert_well_formed(data: bytes, msg, headers: list[str] = HEADERS) -> None:
    head = head_of(data)
    assert head.isascii()
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    assert list(msg.keys()) == headers  # nothing injected, nothing lost, each once
    assert msg.defects == []
    for name in headers:
        assert msg[name].defects == (), name


@pytest.mark.parametrize("typed", HOSTILE + LONG)
def test_a_subject_decodes_to_exactly_what_was_typed(typed):
    composed, msg = compose(subject_template=typed)
    assert msg["Subject"] == as_header(typed)
    assert composed.subject == as_header(typed)
    assert_well_formed(composed.data, msg)


@pytest.mark.parametrize("typed", HOSTILE + LONG)
def test_a_subject_from_contact_data_decodes_to_exactly_what_was_typed(typed):
    composed, msg = compose(subject_template="Hi {{ first_name }}!", first_name=typed)
    assert msg["Subject"] == as_header(f"Hi {typed}!")
    assert_well_formed(composed.data, msg)


@pytest.mark.parametrize("typed", HOSTILE)
def test_a_from_name_parses_to_exactly_what_was_typed(typed):
    composed, msg = compose(campaign_from_name=typed)
    addresses = msg["From"].addresses
    assert len(addresses) == 1
    assert addresses[0].addr_spec == "campaign@example.com"
    assert addresses[0].display_name == as_header(typed)
    assert rfc2047_display_name(composed.data) == as_header(typed)
    assert composed.mail_from == "campaign@example.com"
    assert_well_formed(composed.data, msg)


@pytest.mark.parametrize("typed", LONG)
def test_a_long_from_name_parses_to_exactly_what_was_typed(typed):
    composed, msg = compose(campaign_from_name=typed)
    assert [a.addr_spec for a in msg["From"].addresses] == ["campaign@example.com"]
    assert rfc2047_display_name(composed.data) == as_header(typed)
    assert_well_formed(composed.data, msg)


@pytest.mark.parametrize("field", ["sender_from_name", "variant_sender_name"])
def test_sender_account_and_variant_names_are_encoded_the_same_way(field):
    typed = "hello =?utf-8?q?x=0D=0AX-Injected:_encoded?="
    composed, msg = compose(**{field: typed, "sender_from_email": "sender@example.com"})
    assert msg["From"].addresses[0].display_name == typed
    assert msg["X-Injected"] is None
    assert_well_formed(composed.data, msg)


def test_a_look_alike_is_never_sent_as_typed():
    composed, _ = compose(subject_template="hello =?utf-8?q?x=0D=0AX-Injected:_encoded?=",
                          campaign_from_name="=?utf-8?q?Bank?=")
    head = head_of(composed.data)
    assert b"=?utf-8?q?x=0D=0AX-Injected" not in head and b"=?utf-8?q?Bank?=" not in head


def test_plain_text_is_left_readable():
    composed, msg = compose(subject_template="Hello {{ first_name }}, 50% off", campaign_from_name="Acme Team")
    head = head_of(composed.data)
    assert b"\r\nSubject: Hello Ann, 50% off\r\n" in head
    assert head.startswith(b"From: Acme Team <campaign@example.com>\r\n")
    assert_well_formed(composed.data, msg)


def test_names_with_specials_are_quoted_not_encoded():
    composed, msg = compose(campaign_from_name='Doe, "JD" John')
    assert head_of(composed.data).startswith(b'From: "Doe, \\"JD\\" John" <campaign@example.com>\r\n')
    assert msg["From"].addresses[0].display_name == 'Doe, "JD" John'


def test_the_other_headers_stay_valid_beside_hostile_ones():
    hostile = "=?utf-8?q?x=0D=0AList-Unsubscribe:_<https://evil.example/>?= é"
    source = row(subject_template=hostile, campaign_from_name=hostile, smtp_message_id=f"<{uuid.uuid4()}@example.com>")
    composed = Composer(BASE, SIGNER).compose(source)
    msg = email.message_from_bytes(composed.data, policy=email.policy.default)
    assert_well_formed(composed.data, msg)
    unsubscribe = msg["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{BASE}/unsubscribe/") and unsubscribe.endswith(">")
    token = unsubscribe[1:-1].rsplit("/", 1)[1]
    assert SIGNER.verify(token, UNSUBSCRIBE).message_id == source["message_id"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Message-ID"] == source["smtp_message_id"]
    assert msg["To"].addresses[0].addr_spec == "ann@example.org"
    assert msg["Reply-To"].addresses[0].addr_spec == "campaign-replies@example.com"
    assert msg["Date"].datetime is not None and msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "multipart/alternative"



def test_hostile_headers_arrive_over_smtp_as_typed(conn, db_url, smtp):
    # The whole path: stored step and campaign, the worker, a real SMTP server, then a mail parser.
    subject = "hello =?utf-8?q?x=0D=0AX-Injected:_encoded?="
    name = 'Acme =?utf-8?q?Bank?= "Support", <help>'
    box = make_outbox(conn, 2, step={"subject_line": subject}, from_name=name)
    run_once(db_url, smtp)
    smtp.wait_for(2)
    assert statuses(conn, box.campaign_id) == {"sent": 2}
    for received in smtp.received:
        msg = email.message_from_bytes(received.data, policy=email.policy.default)
        assert msg["Subject"] == subject and msg["X-Injected"] is None
        assert [(a.display_name, a.addr_spec) for a in msg["From"].addresses] == [(name, "news@example.com")]
        assert_well_formed(received.data, msg, [h for h in HEADERS if h != "Reply-To"])  # the campaign has none
