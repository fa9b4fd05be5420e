"""SMTP delivery with aiosmtplib: relays, persistent connections, and what an SMTP answer means.

One `SmtpConnection` per sender task; it connects lazily, stays open between messages and is
re-opened after anything that leaves it in doubt (a dropped connection, a timeout, 421). A result is
one of the outcomes campaigns.record_send_result understands:

    sent      the relay accepted the message (250 after DATA)
    retry     4xx anywhere, timeouts, refused or dropped connections, authentication problems:
              nothing was accepted, try again later
    failed    5xx for the recipient (RCPT, or a 5.1.x mailbox status after DATA): a hard bounce
    rejected  other permanent refusals (sender refused, content/policy 5.7.x, message too big):
              a dead letter that does not blame the recipient

A failure before the session exists (connection refused or reset, DNS, timeout before the greeting,
TLS handshake, a 421/554 greeting, EHLO refused; not AUTH) is flagged `connection_failed`: it says
nothing about the message, so the worker releases the message instead of spending an attempt and
counts the failure against the relay's circuit breaker (service.worker.circuit), which `probe()` tests.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from dataclasses import dataclass
from typing import NamedTuple

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)
from aiosmtplib.email import quote_address
from aiosmtplib.protocol import normalize_message_line_endings

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})")
PASSWORD_ENV_PREFIX = "SMTP_PASSWORD_"
# An address with nothing to parse (no display name, comment, quotes or route): what aiosmtplib's
# quote_address() returns for it is just <address>, without running email.utils' parser.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


@dataclass(frozen=True)
class Relay:
    """Where and how to connect. `password` is resolved at connect time and never printed."""

    host: str
    port: int
    security: str = "none"  # none | starttls | tls
    username: str | None = None
    password_env: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # no secret in logs, ever
        return f"Relay({self.host}:{self.port}, {self.security}, user={'set' if self.username else 'none'})"

    @property
    def key(self) -> tuple:
        return (self.host, self.port, self.security, self.username, self.password_env)

    def resolve_password(self) -> str | None:
        if self.password_env:
            if not self.password_env.startswith(PASSWORD_ENV_PREFIX):
                raise ValueError("a sender's SMTP password must come from an SMTP_PASSWORD_* variable")
            return os.environ.get(self.password_env)
        return self.password


class SendResult(NamedTuple):
    outcome: str  # sent | retry | failed | rejected
    response: str | None
    error: str | None
    reconnect: bool = False
    code: int | None = None          # the relay's reply code, when the failure was a reply
    connection_failed: bool = False  # no session could be opened: the relay's fault, not the message's


# Failures of opening a session: the relay (or the way to it) is not there.
_CONNECTION_ERRORS = (OSError, ConnectionError, TimeoutError, asyncio.TimeoutError, SMTPConnectError,
                      SMTPServerDisconnected, SMTPTimeoutError, SMTPHeloError)


def is_connection_failure(exc: BaseException) -> bool:
    """A failure to open a session (see the module docstring); AUTH trouble is ours, not the relay's."""
    return isinstance(exc, _CONNECTION_ERRORS) and not isinstance(exc, SMTPAuthenticationError)


def _text(exc: SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


def classify(exc: BaseException) -> SendResult:
    """The outcome an SMTP failure stands for (see the module docstring)."""
    if isinstance(exc, SMTPRecipientsRefused):
        refused = exc.recipients[0] if exc.recipients else None
        if refused is None:
            return SendResult("retry", None, "all recipients refused", False)
        exc = refused
    if isinstance(exc, SMTPResponseException):
        code, text = exc.code, _text(exc)
        enhanced = _ENHANCED.match(exc.message or "")
        close = code == 421 or code < 200 or code >= 600 or not isinstance(
            exc, (SMTPRecipientRefused, SMTPSenderRefused, SMTPDataError))
        if 400 <= code < 500 or not (500 <= code < 600):
            return SendResult("retry", text, text, close)
        if isinstance(exc, SMTPRecipientRefused):
            policy = enhanced is not None and enhanced.group(2) == "7"
            return SendResult("rejected" if policy else "failed", text, text, close)
        if isinstance(exc, SMTPDataError):
            # After DATA only a mailbox status (5.1.x, or a bare 550/551/553) blames the recipient.
            mailbox = (enhanced.group(2) == "1") if enhanced is not None else code in (550, 551, 553)
            return SendResult("failed" if mailbox else "rejected", text, text, close)
        if isinstance(exc, SMTPSenderRefused):
            return SendResult("rejected", text, text, close)
        # 5xx on connect, EHLO or AUTH: the relay or our credentials, not this message; retry.
        return SendResult("retry", text, text, True)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return SendResult("retry", None, "timeout", True)
    if isinstance(exc, (SMTPException, OSError, ConnectionError, EOFError)):
        return SendResult("retry", None, f"{type(exc).__name__}: {exc}"[:500], True)
    return SendResult("retry", None, f"{type(exc).__name__}: {exc}"[:500], True)


def _failed(exc: BaseException, connection_failed: bool = False) -> SendResult:
    code = exc.code if isinstance(exc, SMTPResponseException) else None
    return classify(exc)._replace(code=code, connection_failed=connection_failed)


async def probe(relay: Relay, timeout: float) -> None:
    """Is the relay there? Connect (TLS or STARTTLS as configured), EHLO, NOOP, QUIT, without
    authenticating. Raises what went wrong."""
    client = aiosmtplib.SMTP(hostname=relay.host, port=relay.port, timeout=timeout, local_hostname=local_hostname(),
                             use_tls=relay.security == "tls", start_tls=relay.security == "starttls")
    try:
        await client.connect()
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()
        await client.noop()
        await client.quit()
    finally:
        if client.is_connected:
            client.close()


def envelope_address(address: str) -> bytes:
    """The `<address>` argument of MAIL FROM / RCPT TO, exactly as aiosmtplib's mail()/rcpt() build it."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return b"<" + address.encode("ascii") + b">"
    return quote_address(address).encode("ascii")


def data_payload(message: bytes) -> bytes:
    """What follows DATA on the wire, exactly as aiosmtplib's data() sends it: CRLF line ends, a dot
    doubled at the start of a line (RFC 5321 4.5.2), then the terminating dot. A message that is
    already CRLF (what compose builds) skips the regular expressions: they cost 35-80 µs a message
    of 5-10 KB, the str methods a few µs (measured)."""
    crlf = message.count(b"\r\n")
    if message.count(b"\n") != crlf or message.count(b"\r") != crlf:
        message = normalize_message_line_endings(message)
    elif not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\n.", b"\n..") + b".\r\n"


_LOCAL_HOSTNAME: list[str] = []


def local_hostname() -> str:
    if not _LOCAL_HOSTNAME:
        name = socket.gethostname() or "localhost"
        _LOCAL_HOSTNAME.append(name if re.fullmatch(r"[A-Za-z0-9.-]{1,253}", name) else "localhost")
    return _LOCAL_HOSTNAME[0]


class SmtpConnection:
    """One persistent SMTP session to a relay, re-opened when in doubt."""

    def __init__(self, relay: Relay, timeout: float = 30.0) -> None:
        self.relay = relay
        self.timeout = timeout
        self.client: aiosmtplib.SMTP | None = None
        self.sent = 0

    async def _connect(self) -> aiosmtplib.SMTP:
        relay = self.relay
        client = aiosmtplib.SMTP(
            hostname=relay.host, port=relay.port, timeout=self.timeout, local_hostname=local_hostname(),
            use_tls=relay.security == "tls", start_tls=relay.security == "starttls",
            username=relay.username, password=relay.resolve_password() if relay.username else None,
        )
        await client.connect()
        # Greeted now rather than by the first mail(): the first message gets SIZE as well.
        if client.is_ehlo_or_helo_needed:
            try:
                await client.ehlo()
            except SMTPHeloError:
                if not client.is_connected:
                    raise
                await client.helo()
        self.client = client
        return client

    async def send(self, mail_from: str, rcpt: str, data: bytes) -> SendResult:
        """One message, one recipient. Never raises for SMTP or network trouble: returns the outcome."""
        client = self.client
        if client is None or not client.is_connected:
            try:
                client = await self._connect()
            except Exception as exc:  # noqa: BLE001 - every failure becomes an outcome
                await self.close()
                return _failed(exc, connection_failed=is_connection_failure(exc))
        try:
            # MAIL and RCPT through execute_command(), with the checks of aiosmtplib's mail() and
            # rcpt(), without their address parsing: 100 instead of 116 µs of CPU a message against
            # smtp-sink (measured).
            # Our messages already have CRLF line ends, so len(data) is the SIZE the server will see.
            mail = [b"MAIL", b"FROM:" + envelope_address(mail_from)]
            if client.supports_extension("size"):
                mail.append(b"SIZE=%d" % len(data))
            reply = await client.execute_command(*mail)
            if reply.code != 250:
                raise SMTPSenderRefused(reply.code, reply.message, mail_from)
            reply = await client.execute_command(b"RCPT", b"TO:" + envelope_address(rcpt))
            if reply.code not in (250, 251):
                raise SMTPRecipientRefused(reply.code, reply.message, rcpt)
            response = await self._data(client, data)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an outcome
            result = _failed(exc)
            if result.reconnect:
                await self.close()
            elif client is not None and client.is_connected:
                try:  # clear the envelope so the session can carry the next message
                    await client.rset()
                except Exception:  # noqa: BLE001
                    await self.close()
            return result
        self.sent += 1
        return SendResult("sent", f"{response.code} {response.message}".strip()[:500], None)

    async def _data(self, client: aiosmtplib.SMTP, message: bytes) -> aiosmtplib.SMTPResponse:
        """SMTP.data() with the payload built by data_payload(): DATA through execute_command(), then
        the payload and its reply through the session's protocol, the calls data() itself makes."""
        reply = await client.execute_command(b"DATA")
        if reply.code != 354:
            raise SMTPDataError(reply.code, reply.message)
        protocol = client.protocol
        if protocol is None:
            raise SMTPServerDisconnected("Connection lost")
        try:
            protocol.write(data_payload(message))
            reply = await protocol.read_response(timeout=self.timeout)
        except (SMTPServerDisconnected, SMTPTimeoutError):
            client.close()
            raise
        if reply.code != 250:
            raise SMTPDataError(reply.code, reply.message)
        return reply

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            if client.is_connected:
                await asyncio.wait_for(client.quit(), timeout=2)
        except Exception:  # noqa: BLE001 - closing anyway
            client.close()
