"""`campaignctl smtp-catcher`: a local SMTP server (aiosmtpd) that keeps every message in a Maildir.

For development: point the worker at it (SMTP_HOST=127.0.0.1, and SMTP_PORT as the catcher's) and read
what would have gone out with `campaignctl smtp-catcher --list`, or open the Maildir with any mail
client. `campaignctl run` starts one in-process.
"""

from __future__ import annotations

import email.policy
import logging
import mailbox
import signal
import threading
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from service.config import SmtpSettings

# aiosmtpd logs every connection at INFO.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class SmtpCatcher:
    """An aiosmtpd server on its own thread, storing into `maildir`."""

    def __init__(self, maildir: str | Path, host: str = "127.0.0.1", port: int = SmtpSettings.port) -> None:
        self.maildir = Path(maildir)
        self.maildir.parent.mkdir(parents=True, exist_ok=True)
        for sub in ("tmp", "new", "cur"):  # a Maildir, also when the folder already exists
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        self.controller = Controller(Mailbox(str(self.maildir)), hostname=host, port=port,
                                     server_hostname="campaigns-smtp-catcher", ready_timeout=10)

    @property
    def host(self) -> str:
        return self.controller.hostname

    @property
    def port(self) -> int:
        return self.controller.port

    def start(self) -> SmtpCatcher:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def list_messages(maildir: str | Path) -> list[dict[str, str]]:
    """The caught messages, oldest first: date, from, to, subject, Message-ID and the Maildir key."""
    path = Path(maildir)
    if not path.exists():
        return []
    box = mailbox.Maildir(str(path), create=False)
    parser = BytesHeaderParser(policy=email.policy.default)
    items = []
    for key in box.keys():
        with box.get_file(key) as handle:
            headers = parser.parse(handle)
        try:
            when = parsedate_to_datetime(headers.get("Date", "")).isoformat()
        except (TypeError, ValueError):
            when = ""
        items.append({
            "key": key, "date": when, "from": str(headers.get("From", "")),
            "to": str(headers.get("X-RcptTo") or headers.get("To", "")),
            "subject": str(headers.get("Subject", "")), "message_id": str(headers.get("Message-ID", "")),
        })
    items.sort(key=lambda item: (item["date"], item["key"]))
    return items


def serve(maildir: str | Path, host: str, port: int) -> int:
    catcher = SmtpCatcher(maildir, host, port).start()
    print(f"SMTP catcher on {catcher.host}:{catcher.port}, storing into {Path(maildir).resolve()} (Ctrl-C stops)")
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        done.wait()
    finally:
        catcher.stop()
    return 0


def print_list(maildir: str | Path) -> int:
    items = list_messages(maildir)
    for item in items:
        print(f"{item['date']}  {item['to']:<40}  {item['subject']}  {item['message_id']}")
    print(f"{len(items)} message(s) in {Path(maildir).resolve()}")
    return 0
