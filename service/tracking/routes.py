"""Public tracking endpoints (no API key: a signed token is the credential) and authenticated intake.

    GET  /api/track/open?token=…       1×1 transparent GIF, no-cache; one `open` event
    GET  /api/track/click?token=…      302 to the URL inside the token; one `click` event
    GET  /unsubscribe/{token}           a small confirmation page with a one-button form
    POST /unsubscribe/{token}           RFC 8058 one-click (List-Unsubscribe=One-Click): unsubscribes now, 200
    POST /api/intake/events             provider events (Bearer API key), per-item results
    POST /api/intake/replies            a raw RFC 822 reply (Bearer API key), matched to the message it answers

A forged, altered or truncated token changes nothing and reveals nothing: the pixel is served anyway,
a click or unsubscribe gets a plain 404. Every event goes through campaigns.record_email_event.
`public_route_handlers` is what service/app.py registers.
"""

from __future__ import annotations

import email.policy
import hashlib
import html
import logging
import re
from datetime import datetime, timezone
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

import msgspec
import psycopg
from litestar import Controller, MediaType, Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect
from psycopg.types.json import Jsonb

from service.api.auth import provide_db, require_api_key
from service.api.common import DbDep, endpoint
from service.api.openapi import BEARER
from service.config import get_settings
from service.errors import SQLSTATE_CODES
from service.tracking.tokens import CLICK, OPEN, UNSUBSCRIBE, TokenSigner, TrackingToken

log = logging.getLogger("campaigns.tracking")

# The classic 43-byte transparent 1×1 GIF.
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
NO_CACHE = {
    "Cache-Control": "no-cache, no-store, must-revalidate, max-age=0, private",
    "Pragma": "no-cache",
    "Expires": "0",
}
_RECORD = "SELECT campaigns.record_email_event(%s, %s, now(), %s) AS recorded"
_RECORD_AT = "SELECT campaigns.record_email_event(%s, %s, %s, %s) AS recorded"


@lru_cache(maxsize=4)
def _signer_for(secret: str) -> TokenSigner:
    return TokenSigner(secret)


def signer() -> TokenSigner | None:
    secret = get_settings().secret_key
    return _signer_for(secret) if secret else None


def _verify(token: str | None, kind: bytes) -> TrackingToken | None:
    s = signer()
    return s.verify(token, kind) if s is not None else None


async def record_event(state: State, message_id: UUID, event_type: str, details: dict[str, Any]) -> bool | None:
    """campaigns.record_email_event on the API's pool (SECURITY DEFINER: no tenant context needed).
    True recorded, False a repeat, None when the message no longer exists."""
    async with state.pool.connection() as conn:
        try:
            cur = await conn.execute(_RECORD, (message_id, event_type, Jsonb(details)))
        except psycopg.Error as exc:
            if exc.sqlstate == "QC404":
                return None
            raise
        row = await cur.fetchone()
    return bool(row["recorded"]) if isinstance(row, dict) else bool(row[0])


def _client_details(request: Request) -> dict[str, Any]:
    agent = request.headers.get("user-agent")
    return {"user_agent": agent[:300]} if agent else {}


def _page(title: str, body: str, status: int = 200) -> Response:
    markup = (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<meta name=\"robots\" content=\"noindex\"><title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}"
        "button{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(markup, status_code=status, media_type=MediaType.HTML,
                    headers={**NO_CACHE, "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"})


_INVALID_LINK = ("Link not valid", "<p>This link is not valid. If you copied it from an email, make sure you copied all of it.</p>")


class TrackingController(Controller):
    """Links inside emails, followed by mail clients and readers: not part of the REST API's
    OpenAPI document (they answer pixels, redirects and HTML pages, authenticated by signed token)."""

    path = "/"
    tags = ["tracking"]
    include_in_schema = False

    @get("/api/track/open", operation_id="trackOpen", summary="Open pixel (signed token)",
         description="Always a 1×1 transparent GIF with no-cache headers; a valid token records one open.")
    async def track_open(self, request: Request, state: State, token: FromQuery[str | None] = None) -> Response:
        parsed = _verify(token, OPEN)
        if parsed is not None:
            try:
                await record_event(state, parsed.message_id, "open", _client_details(request))
            except Exception:  # noqa: BLE001 - the pixel is served whatever happens
                log.exception("recording an open failed")
        return Response(PIXEL, media_type="image/gif", headers=NO_CACHE)

    @get("/api/track/click", operation_id="trackClick", summary="Click redirect (signed token)",
         description="302 to the URL signed into the token, recording one click. Any other token: 404, no redirect.",
         status_code=302)
    async def track_click(self, request: Request, state: State, token: FromQuery[str | None] = None) -> Response:
        parsed = _verify(token, CLICK)
        if parsed is None or not parsed.url or not re.match(r"(?i)^https?://[^\s/?#]+", parsed.url):
            raise HTTPException(status_code=404, detail="Not found")
        try:
            await record_event(state, parsed.message_id, "click", {"url": parsed.url[:2000], **_client_details(request)})
        except Exception:  # noqa: BLE001 - the reader still gets where the link goes
            log.exception("recording a click failed")
        return Redirect(path=parsed.url, status_code=302, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer-when-downgrade"})

    @get("/unsubscribe/{token:str}", operation_id="unsubscribePage", summary="Unsubscribe confirmation page")
    async def unsubscribe_page(self, token: FromPath[str]) -> Response:
        if _verify(token, UNSUBSCRIBE) is None:
            return _page(*_INVALID_LINK, status=404)
        action = html.escape(token, quote=True)
        return _page("Unsubscribe", (
            "<p>Stop receiving these emails? You will not get any more of them.</p>"
            f"<form method=\"post\" action=\"{action}\">"
            "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
            "<button type=\"submit\">Unsubscribe</button></form>"))

    @post("/unsubscribe/{token:str}", operation_id="unsubscribe", status_code=200,
          summary="One-click unsubscribe (RFC 8058)",
          description="Mail clients POST `List-Unsubscribe=One-Click`; the confirmation page's form posts the same. "
                      "The address is suppressed and leaves every campaign of the tenant at once; queued mail is cancelled.")
    async def unsubscribe(self, request: Request, state: State, token: FromPath[str]) -> Response:
        parsed = _verify(token, UNSUBSCRIBE)
        if parsed is None:
            return _page(*_INVALID_LINK, status=404)
        await request.body()  # RFC 8058's List-Unsubscribe=One-Click; any POST to a valid link counts
        try:
            # One unsubscribe event per message, however many times the link is used.
            result = await record_event(state, parsed.message_id, "unsubscribe",
                                        {"method": "one_click", "provider_event_id": "unsubscribe"})
        except Exception:  # noqa: BLE001 - must not claim success
            log.exception("recording an unsubscribe failed")
            return _page("Please try again", "<p>We could not process this right now. Please try again in a minute.</p>", 503)
        if result is None:
            return _page(*_INVALID_LINK, status=404)
        return _page("You are unsubscribed", "<p>You will not receive these emails any more.</p>")


# -- intake (authenticated) ----------------------------------------------------------------------------

INTAKE_EVENT_TYPES = ("delivered", "bounce_hard", "bounce_soft", "complaint", "reply", "open", "click", "unsubscribe")
MAX_BATCH = 1000


class ProviderEvent(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One event reported by a provider. Name the message by our id or by its SMTP Message-ID."""

    type: str
    message_id: UUID | None = None
    smtp_message_id: str | None = None
    occurred_at: datetime | None = None
    provider_event_id: str | None = None
    details: dict[str, Any] | None = None


class EventBatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    events: list[ProviderEvent]


class EventResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    index: int
    # recorded | duplicate (a provider_event_id seen before) | not_found | invalid
    status: str
    message_id: UUID | None = None
    code: str | None = None
    detail: str | None = None


class EventBatchResult(msgspec.Struct, kw_only=True):
    results: list[EventResult]
    recorded: int
    duplicates: int
    not_found: int
    invalid: int


class ReplyResult(msgspec.Struct, kw_only=True):
    matched: bool
    message_id: UUID | None = None
    # references (In-Reply-To / References) or subject (subject + sender fallback)
    matched_by: str | None = None
    recorded: bool = False


_ANGLE_ID = re.compile(r"<[^<>\s]+>")


def _message_ref(value: str) -> str:
    value = value.strip()
    return value if value.startswith("<") else f"<{value}>"


def _aware(moment: datetime | None) -> datetime:
    now = datetime.now(timezone.utc)
    if moment is None:
        return now
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return min(moment, now)  # an event cannot have happened in the future


async def _find_message(conn: psycopg.AsyncConnection, event: ProviderEvent) -> UUID | None:
    # Under Row Level Security: another tenant's message is simply not found.
    if event.message_id is not None:
        cur = await conn.execute("SELECT id FROM campaigns.email_messages WHERE id = %s", (event.message_id,))
    else:
        cur = await conn.execute("SELECT id FROM campaigns.email_messages WHERE smtp_message_id = %s",
                                 (_message_ref(event.smtp_message_id or ""),))
    row = await cur.fetchone()
    return None if row is None else (row["id"] if isinstance(row, dict) else row[0])


class IntakeController(Controller):
    path = "/"
    tags = ["intake"]

    @endpoint("POST", "/events", operation_id="ingestProviderEvents", status_code=200,
              summary="Record a batch of provider events (delivered, bounces, complaint, reply, open, click)",
              description=f"Up to {MAX_BATCH} events; each is recorded through campaigns.record_email_event on its own, "
                          "and the response says per item whether it was recorded, a duplicate (same provider_event_id), "
                          "not found (no message of this tenant) or invalid.",
              request_example={"events": [{"type": "bounce_hard", "smtp_message_id": "<4c1f…@example.com>",
                                           "occurred_at": "2026-03-02T10:00:00Z", "provider_event_id": "evt_123"}]},
              response_example={"results": [{"index": 0, "status": "not_found", "code": "NOT_FOUND"}],
                                "recorded": 0, "duplicates": 0, "not_found": 1, "invalid": 0})
    async def ingest_events(self, db: DbDep, data: JSONBody[EventBatch]) -> EventBatchResult:
        if len(data.events) > MAX_BATCH:
            raise HTTPException(status_code=413, detail=f"at most {MAX_BATCH} events per request")
        conn: psycopg.AsyncConnection = db.conn
        results: list[EventResult] = []
        for index, event in enumerate(data.events):
            if event.type not in INTAKE_EVENT_TYPES:
                results.append(EventResult(index=index, status="invalid", code="UNKNOWN_EVENT_TYPE",
                                           detail=f"type must be one of {', '.join(INTAKE_EVENT_TYPES)}"))
                continue
            if event.message_id is None and not (event.smtp_message_id or "").strip():
                results.append(EventResult(index=index, status="invalid", code="VALIDATION_FAILED",
                                           detail="message_id or smtp_message_id is required"))
                continue
            details = dict(event.details or {})
            details["source"] = "provider"
            if event.provider_event_id:
                details["provider_event_id"] = event.provider_event_id[:200]
            try:
                async with conn.transaction():  # a savepoint: one bad item does not undo the others
                    message_id = await _find_message(conn, event)
                    if message_id is None:
                        results.append(EventResult(index=index, status="not_found", code="NOT_FOUND"))
                        continue
                    cur = await conn.execute(_RECORD_AT, (message_id, event.type, _aware(event.occurred_at), Jsonb(details)))
                    recorded = (await cur.fetchone())["recorded"]
            except psycopg.Error as exc:
                code = SQLSTATE_CODES.get(exc.sqlstate or "")
                if code is None:
                    raise
                results.append(EventResult(index=index, status="invalid", code=code.code,
                                           detail=exc.diag.message_primary))
                continue
            results.append(EventResult(index=index, status="recorded" if recorded else "duplicate", message_id=message_id))
        count = {s: sum(1 for r in results if r.status == s) for s in ("recorded", "duplicate", "not_found", "invalid")}
        return EventBatchResult(results=results, recorded=count["recorded"], duplicates=count["duplicate"],
                                not_found=count["not_found"], invalid=count["invalid"])

    @endpoint("POST", "/replies", operation_id="ingestReply", status_code=200,
              summary="Record a reply from its raw RFC 822 message",
              description="The body is the reply as received (message/rfc822 or text/plain). It is matched to the "
                          "message it answers by In-Reply-To / References, else by subject and sender; a match records "
                          "one `reply` event (repeats of the same reply Message-ID count once). Unmatched: matched=false.",
              response_example={"matched": False, "message_id": None, "matched_by": None, "recorded": False})
    async def ingest_reply(self, request: Request, db: DbDep) -> ReplyResult:
        raw = await request.body()
        if not raw.strip():
            raise HTTPException(status_code=400, detail="the body must be the raw reply message")
        headers = BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
        refs = _ANGLE_ID.findall(str(headers.get("In-Reply-To", "")))
        refs += list(reversed(_ANGLE_ID.findall(str(headers.get("References", "")))))
        sender = parseaddr(str(headers.get("From", "")))[1] or None
        reply_to = [a for _, a in getaddresses([str(headers.get("Reply-To", ""))]) if a]
        subject = str(headers.get("Subject", "")) or None
        try:
            occurred = _aware(parsedate_to_datetime(str(headers.get("Date", ""))))
        except (TypeError, ValueError):
            occurred = _aware(None)
        conn: psycopg.AsyncConnection = db.conn
        tenant_id = db.auth.tenant_id
        message_id = None
        for candidate in [sender, *reply_to] or [None]:
            cur = await conn.execute("SELECT campaigns.find_message_for_reply(%s, %s, %s, %s) AS id",
                                     (tenant_id, refs, candidate, subject))
            message_id = (await cur.fetchone())["id"]
            if message_id is not None or not candidate:
                break
        if message_id is None:
            return ReplyResult(matched=False)
        cur = await conn.execute("SELECT smtp_message_id FROM campaigns.email_messages WHERE id = %s", (message_id,))
        smtp_id = (await cur.fetchone())["smtp_message_id"]
        reply_id = str(headers.get("Message-ID", "")).strip() or "sha256:" + hashlib.sha256(raw).hexdigest()
        details = {"source": "inbound", "provider_event_id": reply_id[:300], "from": (sender or "")[:320],
                   "subject": (subject or "")[:300]}
        cur = await conn.execute(_RECORD_AT, (message_id, "reply", occurred, Jsonb(details)))
        recorded = bool((await cur.fetchone())["recorded"])
        return ReplyResult(matched=True, message_id=message_id, recorded=recorded,
                           matched_by="references" if smtp_id in refs else "subject")


def intake_router() -> Router:
    return Router(path="/api/intake", route_handlers=[IntakeController], guards=[require_api_key],
                  dependencies={"db": Provide(provide_db)}, security=[{BEARER: []}])


def build_public_route_handlers() -> list:
    return [TrackingController, intake_router()]


# What service/app.py registers: the token-authenticated tracking routes and the API-key intake.
public_route_handlers: list = build_public_route_handlers()
