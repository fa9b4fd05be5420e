"""Logs in one format per process, uvicorn's own lines included: readable lines on a terminal, one
JSON object per line otherwise (CAMPAIGNS_LOG_FORMAT = auto, the default; or json / text). Both carry
the request id (API) or message id (worker) of what the line is about, and the structured fields a line
was given with `extra={...}` (JSON keys, or `key=value` after a text line), so a reader can filter on
them instead of parsing the message."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import uuid
from datetime import datetime, timezone
from typing import TextIO

from litestar.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
message_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("message_id", default=None)


# What every LogRecord has (and uvicorn's colour copy of its message): anything else came from `extra`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "color_message", "taskName", "request_id", "message_id"}


def _extra_fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES and not k.startswith("_")}


def _context_ids(record: logging.LogRecord) -> list[tuple[str, str]]:
    ids = []
    for key, var in (("request_id", request_id_var), ("message_id", message_id_var)):
        value = getattr(record, key, None) or var.get()
        if value:
            ids.append((key, str(value)))
    return ids


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update(_context_ids(record))
        for key, value in _extra_fields(record).items():
            doc.setdefault(key, value)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`12:00:01.234 INFO  campaigns.worker: message  request_id=…` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        line = f"{moment} {record.levelname:<7} {record.name}: {record.getMessage()}"
        ids = [*_context_ids(record), *_extra_fields(record).items()]
        if ids:
            line += "  " + " ".join(f"{k}={v}" for k, v in ids)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def log_format(configured: str, stream: TextIO) -> str:
    """json or text: `auto` is text when the log stream is a terminal."""
    if configured in ("json", "text"):
        return configured
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def configure_logging(stream: TextIO | None = None) -> str:
    """One handler on the root logger; uvicorn's loggers hand their records to it. Returns the format."""
    from service.config import get_settings

    settings = get_settings().logging
    stream = stream or sys.stderr
    chosen = log_format(settings.format, stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter() if chosen == "text" else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    # uvicorn's loggers: no handlers of their own, so each line goes through the root's format.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return chosen


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Every HTTP request gets an id (the caller's X-Request-ID when it is sane, else a new one),
    set for its log lines and returned in the X-Request-ID response header."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if 0 < len(given) <= 100 and given.isprintable() and given.isascii() else uuid.uuid4().hex
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)

    return middleware
