"""A real SMTP server (aiosmtpd) in the test process: it keeps what it receives and injects faults."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller

from service.worker.smtp import Relay
from service.dev.net import free_port
from tests.support.waits import wait_until

logging.getLogger("mail.log").setLevel(logging.WARNING)

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.M | re.I)


@dataclass
class Received:
    message_id: str
    mail_from: str
    rcpt: str
    data: bytes
    at: float
    mail_options: list[str] = field(default_factory=list)


@dataclass
class SmtpServer:
    """What the test SMTP server received, and the faults it injects.

    `fault(command, session_peer)` returns None (behave), a reply such as "451 4.3.0 busy", or "drop"
    (close the connection without answering). `rcpt_replies` maps an address to a fixed RCPT reply.
    `on_rcpt(address)` is called at each RCPT before any reply (a test may kill the sender there).
    `delay` slows every DATA reply (for shutdown tests)."""

    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    fault: Callable[[str], str | None] | None = None
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    on_rcpt: Callable[[str], None] | None = None
    delay: float = 0.0
    commands: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)

    def message_ids(self) -> list[str]:
        return [r.message_id for r in list(self.received)]

    def duplicates(self) -> dict[str, int]:
        return {mid: n for mid, n in Counter(self.message_ids()).items() if n > 1}

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        """Until at least `count` messages were received."""
        wait_until(lambda: len(self.received) >= count, timeout,
                   message=lambda: f"only {len(self.received)} of {count} messages arrived")

    def relay(self) -> Relay:
        return Relay(self.host, self.port)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.s = server

    def _inject(self, command: str, smtp: Any) -> str | None:
        self.s.commands[command] += 1
        if self.s.fault is None:
            return None
        reply = self.s.fault(command)
        if reply is None:
            return None
        self.s.faults[reply.split(" ")[0]] += 1
        if reply == "drop":
            smtp.transport.abort()
            return "421 4.4.2 dropped"  # written to a closed transport: never seen by the client
        if reply.startswith("421"):
            asyncio.get_running_loop().call_soon(smtp.transport.close)
        return reply

    async def handle_MAIL(self, smtp, session, envelope, address, mail_options):
        reply = self._inject("MAIL", smtp)
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        if self.s.on_rcpt is not None:
            self.s.on_rcpt(address)
        reply = self._inject("RCPT", smtp)
        if reply:
            return reply
        fixed = self.s.rcpt_replies.get(address.lower())
        if fixed:
            return fixed
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        reply = self._inject("DATA", smtp)
        if reply:
            return reply
        if self.s.delay:
            await asyncio.sleep(self.s.delay)
        data = envelope.original_content or b""
        match = _MESSAGE_ID.search(data)
        self.s.received.append(Received(match.group(1).decode() if match else "", envelope.mail_from,
                                        envelope.rcpt_tos[0] if envelope.rcpt_tos else "", data, time.monotonic(),
                                        list(envelope.mail_options)))
        return "250 2.0.0 Ok: queued"


@contextmanager
def smtp_server_running() -> Iterator[SmtpServer]:
    server = SmtpServer("127.0.0.1", free_port())
    controller = Controller(_Handler(server), hostname=server.host, port=server.port, ready_timeout=10,
                            server_hostname="test-smtp")
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


class SwitchableSmtp:
    """A test SMTP server whose listening socket can be closed (connections refused, as from a relay
    that is down) and opened again on the same port, keeping what it received."""

    def __init__(self) -> None:
        self.server = SmtpServer("127.0.0.1", free_port())
        self.controller: Controller | None = None

    def up(self) -> None:
        self.controller = Controller(_Handler(self.server), hostname=self.server.host, port=self.server.port,
                                     ready_timeout=10, server_hostname="test-smtp")
        self.controller.start()

    def down(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
