"""SmtpConnection against a real aiosmtpd server: the envelope it sends, and what refusals become."""

from __future__ import annotations

import asyncio

import pytest
from aiosmtplib.email import quote_address
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from hypothesis import given, strategies as st

from service.worker.smtp import SmtpConnection, data_payload, envelope_address

MESSAGE = b"Subject: hello\r\nMessage-ID: <m1@test>\r\n\r\nbody\r\n"


def send_all(smtp, *messages: tuple[str, str]) -> list:
    async def go() -> list:
        connection = SmtpConnection(smtp.relay(), timeout=10)
        try:
            return [await connection.send(mail_from, rcpt, MESSAGE) for mail_from, rcpt in messages]
        finally:
            await connection.close()
    return asyncio.run(go())


@pytest.mark.parametrize("address", [
    "news@example.com", "first.last+tag@sub.example.org", "o'brien@example.ie",
    "Example News <news@example.com>", "news@example.com (comment)",
])
def test_envelope_address_is_what_aiosmtplib_would_send(address):
    assert envelope_address(address) == quote_address(address).encode("ascii")


def test_first_message_of_a_connection_carries_size_and_the_plain_envelope(smtp):
    results = send_all(smtp, ("news@example.com", "reader@example.org"), ("news@example.com", "other@example.org"))
    assert [r.outcome for r in results] == ["sent", "sent"]
    assert [(r.mail_from, r.rcpt) for r in smtp.received] == [
        ("news@example.com", "reader@example.org"), ("news@example.com", "other@example.org")]
    assert all(r.mail_options == [f"SIZE={len(MESSAGE)}"] for r in smtp.received)


def test_refused_sender_is_rejected_and_the_session_carries_on(smtp):
    smtp.fault = lambda command: "553 5.7.1 sender not allowed" if command == "MAIL" and smtp.commands["MAIL"] == 1 else None
    results = send_all(smtp, ("blocked@example.com", "reader@example.org"), ("news@example.com", "reader@example.org"))
    assert [(r.outcome, r.response) for r in results] == [("rejected", "553 5.7.1 sender not allowed"), ("sent", results[1].response)]
    assert len(smtp.received) == 1 and smtp.received[0].mail_from == "news@example.com"


@pytest.mark.parametrize("reply, outcome", [
    ("550 5.1.1 no such user", "failed"),
    ("550 5.7.1 policy", "rejected"),
    ("452 4.2.2 mailbox full", "retry"),
])
def test_refused_recipient_maps_to_its_outcome(smtp, reply, outcome):
    smtp.rcpt_replies["gone@example.org"] = reply
    results = send_all(smtp, ("news@example.com", "gone@example.org"), ("news@example.com", "reader@example.org"))
    assert [r.outcome for r in results] == [outcome, "sent"]
    assert results[0].response == reply
    assert [r.rcpt for r in smtp.received] == ["reader@example.org"]


@given(st.lists(st.sampled_from([b"a", b".", b"..", b"\r\n", b"\n", b"\r", b" ", b"=2E"]), max_size=40).map(b"".join))
def test_data_payload_is_what_aiosmtplib_data_would_send(message):
    expected = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message)) + b".\r\n"
    assert data_payload(message) == expected


def test_lines_starting_with_a_dot_arrive_intact(smtp):
    body = b"Subject: dots\r\nMessage-ID: <dots@test>\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n"

    async def go():
        connection = SmtpConnection(smtp.relay(), timeout=10)
        try:
            return await connection.send("news@example.com", "reader@example.org", body)
        finally:
            await connection.close()
    assert asyncio.run(go()).outcome == "sent"
    assert smtp.received[0].data.replace(b"\r\n", b"\n") == body.replace(b"\r\n", b"\n")
