"""Public tracking endpoints: no API key, a signed token is the credential (intake: service.api.intake).

    GET  /api/track/open?token=…       1×1 transparent GIF, no-cache; one `open` event
    GET  /api/track/click?token=…      302 to the URL inside the token; one `click` event
    GET  /unsubscribe/{token}           a small confirmation page with a one-button form
    POST /unsubscribe/{token}           RFC 8058 one-click (List-Unsubscribe=One-Click): unsubscribes now, 200

A forged, altered or truncated token changes nothing and reveals nothing: the pixel is served anyway,
a click or unsubscribe gets a plain 404. Every event goes through campaigns.record_email_event.
`public_route_handlers` is what service/app.py registers.
"""

from __future__ import annotations

import html
import logging
import re
from functools import lru_cache
from typing import Any
from uuid import UUID

import psycopg
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from psycopg.types.json import Jsonb

from service.config import get_settings
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


@lru_cache(maxsize=4)
def _signer_for(keys: tuple[str, ...]) -> TokenSigner:
    return TokenSigner(keys)


def signer() -> TokenSigner | None:
    """Verifies with every trusted key (CAMPAIGNS_SECRET_KEY, then CAMPAIGNS_PREVIOUS_SECRET_KEYS)."""
    keys = get_settings().links.secret_keys
    return _signer_for(keys) if keys else None


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


# What service/app.py registers: the token-authenticated tracking routes.
public_route_handlers: list = [TrackingController]
