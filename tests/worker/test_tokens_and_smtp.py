"""Signed tracking tokens (tampered → rejected) and the mapping from SMTP answers to outcomes."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiosmtplib import (
    SMTPConnectError, SMTPDataError, SMTPRecipientRefused, SMTPRecipientsRefused, SMTPResponseException,
    SMTPSenderRefused, SMTPServerDisconnected,
)

from service.tracking.tokens import CLICK, OPEN, UNSUBSCRIBE, TokenSigner
from service.worker.ratelimit import TokenBucket
from service.worker.smtp import Relay, classify

IDS = [uuid.uuid4() for _ in range(5)]


@pytest.fixture
def signer():
    return TokenSigner("secret-one")


def test_round_trip_carries_every_id(signer):
    token = signer.verify(signer.sign(OPEN, TokenSigner.ids(*IDS)), OPEN)
    assert (token.kind, token.message_id, token.tenant_id, token.contact_id, token.campaign_id, token.step_id) == \
        ("open", *IDS)
    click = signer.verify(signer.sign(CLICK, TokenSigner.ids(*IDS), "https://example.com/ü?a=1"), CLICK)
    assert click.url == "https://example.com/ü?a=1"


def test_tampered_tokens_are_rejected(signer):
    token = signer.sign(CLICK, TokenSigner.ids(*IDS), "https://example.com/")
    body, tag = token.split(".")
    assert signer.verify(token, CLICK) is not None
    for i in range(0, len(body), 7):  # flip one character anywhere in the payload
        flipped = body[:i] + ("A" if body[i] != "A" else "B") + body[i + 1:]
        assert signer.verify(f"{flipped}.{tag}", CLICK) is None
    assert signer.verify(f"{body}.{tag[:-2]}xx", CLICK) is None
    assert signer.verify(f"{body}.", CLICK) is None
    assert signer.verify(body, CLICK) is None
    assert signer.verify("", CLICK) is None
    assert signer.verify("not a token", CLICK) is None
    assert signer.verify("%%%.%%%", CLICK) is None


def test_a_different_url_needs_a_different_signature(signer):
    good = signer.sign(CLICK, TokenSigner.ids(*IDS), "https://example.com/")
    evil = signer.sign(CLICK, TokenSigner.ids(*IDS), "https://evil.example/")
    assert good.split(".")[1] != evil.split(".")[1]
    forged = evil.split(".")[0] + "." + good.split(".")[1]
    assert signer.verify(forged, CLICK) is None


def test_kinds_are_not_interchangeable(signer):
    open_token = signer.sign(OPEN, TokenSigner.ids(*IDS))
    assert signer.verify(open_token, UNSUBSCRIBE) is None
    assert signer.verify(open_token, CLICK) is None


def test_another_secret_does_not_verify(signer):
    token = signer.sign(UNSUBSCRIBE, TokenSigner.ids(*IDS))
    assert TokenSigner("secret-two").verify(token, UNSUBSCRIBE) is None


def test_an_empty_secret_is_refused():
    with pytest.raises(ValueError):
        TokenSigner("")


@pytest.mark.parametrize("exc, outcome", [
    (SMTPRecipientsRefused([SMTPRecipientRefused(550, "5.1.1 User unknown", "a@b.c")]), "failed"),
    (SMTPRecipientRefused(550, "No such user", "a@b.c"), "failed"),
    (SMTPRecipientRefused(552, "5.2.2 Mailbox full", "a@b.c"), "failed"),
    (SMTPRecipientRefused(554, "5.7.1 Relay access denied", "a@b.c"), "rejected"),
    (SMTPRecipientRefused(450, "4.2.0 Greylisted", "a@b.c"), "retry"),
    (SMTPRecipientRefused(451, "4.3.0 Try later", "a@b.c"), "retry"),
    (SMTPSenderRefused(553, "5.7.1 Sender not allowed", "s@b.c"), "rejected"),
    (SMTPSenderRefused(421, "4.3.2 Shutting down", "s@b.c"), "retry"),
    (SMTPDataError(550, "5.1.1 Mailbox unavailable"), "failed"),
    (SMTPDataError(554, "5.7.1 Message rejected as spam"), "rejected"),
    (SMTPDataError(552, "5.3.4 Message too big"), "rejected"),
    (SMTPDataError(451, "4.3.0 Local error"), "retry"),
    (SMTPResponseException(421, "Service not available"), "retry"),
    (SMTPResponseException(535, "5.7.8 Authentication failed"), "retry"),
    (SMTPServerDisconnected("Connection lost"), "retry"),
    (SMTPConnectError("refused"), "retry"),
    (asyncio.TimeoutError(), "retry"),
    (ConnectionResetError(), "retry"),
])
def test_smtp_answers_map_to_outcomes(exc, outcome):
    assert classify(exc).outcome == outcome


def test_421_and_disconnects_reopen_the_connection():
    assert classify(SMTPSenderRefused(421, "bye", "s@b.c")).reconnect
    assert classify(SMTPServerDisconnected("gone")).reconnect
    assert not classify(SMTPRecipientRefused(550, "no", "a@b.c")).reconnect


def test_relay_repr_never_shows_the_password():
    relay = Relay("smtp.example.com", 587, "starttls", "user", None, "hunter2")
    assert "hunter2" not in repr(relay) and "hunter2" not in str(relay)


def test_sender_password_only_from_smtp_password_variables(monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD_ACME", "pw")
    monkeypatch.setenv("CAMPAIGNS_SECRET_KEY", "do-not-leak")
    assert Relay("h", 25, "none", "u", "SMTP_PASSWORD_ACME").resolve_password() == "pw"
    with pytest.raises(ValueError):
        Relay("h", 25, "none", "u", "CAMPAIGNS_SECRET_KEY").resolve_password()


def test_token_bucket_paces_to_the_rate():
    bucket = TokenBucket(10.0)  # 10 a second, burst of 10
    waits = [bucket.reserve(100.0) for _ in range(30)]
    assert waits[:10] == [0.0] * 10
    assert waits[19] == pytest.approx(1.0)
    assert waits[29] == pytest.approx(2.0)


def test_no_secret_in_options_settings_or_dsn_logs():
    from service.config import Settings
    from service.worker import WorkerOptions, redact_dsn

    options = WorkerOptions(public_url="https://x.test", secret_key="k-secret", default_relay=Relay("h", 25, password="pw"))
    assert "k-secret" not in repr(options) and "pw" not in repr(options)
    settings = Settings.from_env({"SMTP_PASSWORD": "smtp-pw", "CAMPAIGNS_SECRET_KEY": "k-secret"})
    assert "smtp-pw" not in repr(settings) and "k-secret" not in repr(settings)
    assert "hunter2" not in redact_dsn("postgresql://user:hunter2@db/campaigns")
    assert "hunter2" not in redact_dsn("postgresql://user@db/campaigns?password=hunter2&sslmode=require")
