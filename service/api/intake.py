"""Provider and reply intake, under the API key like the rest of /api:

    POST /api/intake/events     provider events (delivered, bounces, complaint, reply, open, click), per-item results
    POST /api/intake/replies    a raw RFC 822 reply, matched to the message it answers

Every event goes through campaigns.record_email_event, as the tracking links' events do.
"""

from __future__ import annotations

import email.policy
import hashlib
import re
from datetime import datetime, timezone
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from uuid import UUID

import psycopg
from litestar import Controller, Request
from litestar.exceptions import HTTPException
from litestar.params import JSONBody
from psycopg.types.json import Jsonb

from service.api.common import DbDep, endpoint
from service.errors import SQLSTATE_CODES
from service.schemas.intake import EventBatch, EventBatchResult, EventResult, ProviderEvent, ReplyResult

_RECORD_AT = "SELECT campaigns.record_email_event(%s, %s, %s, %s) AS recorded"

INTAKE_EVENT_TYPES = ("delivered", "bounce_hard", "bounce_soft", "complaint", "reply", "open", "click", "unsubscribe")
MAX_BATCH = 1000


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
    path = "/intake"
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
