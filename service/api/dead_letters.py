"""Dead letters: the messages the outbox gave up on, why (failure kind, last error, the relay's last
reply), and requeueing one or every one matching a filter (campaigns.requeue_dead_letters in
db/functions/55_retry_policy.sql, which decides what may go back to the queue)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from service.api.common import DbDep, Limit, Offset, endpoint, one, page_query
from service.api.examples import CAMPAIGN_ID, DEAD_LETTER, MESSAGE_ID, page
from service.errors import ApiError
from service.schemas.dead_letters import (
    DeadLetterPage,
    DeadLetterRead,
    FailureKind,
    RequeueFilter,
    RequeueResult,
    RequeueSummary,
)

# Named columns rather than to_jsonb(x): the view may grow, the API's document does not.
DEAD_LETTER_DOC = """jsonb_build_object(
    'message_id', x.message_id, 'campaign_id', x.campaign_id, 'campaign_name', x.campaign_name,
    'step_id', x.step_id, 'step_name', x.step_name, 'step_order', x.step_order,
    'enrollment_id', x.enrollment_id, 'contact_id', x.contact_id, 'to_email', x.to_email,
    'failure_kind', x.failure_kind, 'attempts', x.attempts, 'lease_reclaims', x.lease_reclaims,
    'last_error', x.last_error, 'last_smtp_reply', x.smtp_response, 'queued_at', x.queued_at,
    'failed_at', x.failed_at)"""

Q_LIST = page_query(
    source="campaigns.dead_letters",
    where="(%(campaign_id)s::uuid IS NULL OR x.campaign_id = %(campaign_id)s::uuid)"
          " AND (%(failure_kind)s::text IS NULL OR x.failure_kind = %(failure_kind)s::text)"
          " AND (%(failed_after)s::timestamptz IS NULL OR x.failed_at >= %(failed_after)s::timestamptz)"
          " AND (%(failed_before)s::timestamptz IS NULL OR x.failed_at < %(failed_before)s::timestamptz)",
    order="x.failed_at DESC NULLS LAST, x.message_id",
    doc=DEAD_LETTER_DOC,
)
Q_ONE = f"SELECT {DEAD_LETTER_DOC} FROM campaigns.dead_letters x WHERE x.message_id = %s"
# A message that is not (or no longer) a dead letter of this tenant gives no row: 404.
Q_REQUEUE_ONE = """
    SELECT jsonb_build_object('message_id', r.message_id, 'outcome', r.outcome)
    FROM campaigns.requeue_dead_letters(p_message_ids => ARRAY[%s]::uuid[]) r
    WHERE r.outcome <> 'not_found'"""
Q_REQUEUE = """
    SELECT jsonb_build_object(
        'matched', count(*) FILTER (WHERE r.outcome <> 'not_found'),
        'requeued', count(*) FILTER (WHERE r.outcome = 'requeued'),
        'suppressed', count(*) FILTER (WHERE r.outcome = 'suppressed'),
        'campaign_ended', count(*) FILTER (WHERE r.outcome = 'campaign_ended'),
        'enrollment_exited', count(*) FILTER (WHERE r.outcome = 'enrollment_exited'),
        'not_found', count(*) FILTER (WHERE r.outcome = 'not_found'))
    FROM campaigns.requeue_dead_letters(
        p_message_ids => %(message_ids)s::uuid[], p_campaign_id => %(campaign_id)s::uuid,
        p_failure_kind => %(failure_kind)s::text, p_failed_after => %(failed_after)s::timestamptz,
        p_failed_before => %(failed_before)s::timestamptz) r"""

# Taken as text and parsed here: Litestar would also read a bare number such as 0 as a time.
INSTANT_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})$"
Instant = Annotated[str | None, QueryParameter(description="A time with its offset (RFC 3339), e.g. 2030-03-01T09:00:00Z",
                                               pattern=INSTANT_PATTERN, schema_extra={"format": "date-time"})]


def _instant(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).astimezone(timezone.utc)
    except ValueError as exc:
        raise ApiError(400, "VALIDATION_FAILED", "Validation failed", f"{name}: {exc}",
                       errors=[{"message": str(exc), "key": name, "source": "query"}]) from exc

REQUEUE_DESCRIPTION = (
    "A requeued message goes back to the queue at once with a fresh retry lifetime and reclaim budget. A "
    "message whose recipient has since been suppressed (or is no longer mailable), whose campaign has ended "
    "or whose enrollment has exited stays a dead letter and is reported so.")


class DeadLetterController(Controller):
    path = "/dead-letters"
    tags = ["dead letters"]

    @endpoint("GET", "/", operation_id="listDeadLetters", summary="List the messages the outbox gave up on",
              description="Newest failure first. Filter by campaign, failure kind and failure time "
                          "(failed_after inclusive, failed_before exclusive).",
              query_example={"campaign_id": CAMPAIGN_ID, "failure_kind": "retry_lifetime_expired", "limit": 20,
                             "offset": 0},
              response_example=page(DEAD_LETTER))
    async def list_dead_letters(
        self, db: DbDep, campaign_id: FromQuery[UUID | None] = None, failure_kind: FromQuery[FailureKind | None] = None,
        failed_after: Instant = None, failed_before: Instant = None, limit: Limit = 20, offset: Offset = 0,
    ) -> DeadLetterPage:
        params = {"campaign_id": campaign_id, "failure_kind": failure_kind,
                  "failed_after": _instant("failed_after", failed_after),
                  "failed_before": _instant("failed_before", failed_before), "limit": limit, "offset": offset}
        return await db.doc(Q_LIST, params, DeadLetterPage)  # type: ignore[return-value]

    @endpoint("GET", "/{message_id:uuid}", operation_id="getDeadLetter", summary="One dead letter",
              response_example=DEAD_LETTER)
    async def get_dead_letter(self, db: DbDep, message_id: FromPath[UUID]) -> DeadLetterRead:
        return await one(db, Q_ONE, (message_id,), DeadLetterRead, "dead letter", message_id)

    @endpoint("POST", "/{message_id:uuid}/requeue", operation_id="requeueDeadLetter", summary="Requeue one dead letter",
              status_code=200, description=REQUEUE_DESCRIPTION,
              response_example={"message_id": MESSAGE_ID, "outcome": "requeued"})
    async def requeue_dead_letter(self, db: DbDep, message_id: FromPath[UUID]) -> RequeueResult:
        return await one(db, Q_REQUEUE_ONE, (message_id,), RequeueResult, "dead letter", message_id)

    @endpoint("POST", "/requeue", operation_id="requeueDeadLetters", summary="Requeue every dead letter matching a filter",
              status_code=200, errors=(422,),
              description=REQUEUE_DESCRIPTION + " At least one filter field is required (422 otherwise), so an empty "
                                                "body cannot requeue everything by accident; failed_after after "
                                                "failed_before is INVALID_TIME_RANGE.",
              request_example={"campaign_id": CAMPAIGN_ID, "failure_kind": "retry_lifetime_expired"},
              response_example={"matched": 2, "requeued": 2, "suppressed": 0, "campaign_ended": 0,
                                "enrollment_exited": 0, "not_found": 0})
    async def requeue_dead_letters(self, db: DbDep, data: JSONBody[RequeueFilter]) -> RequeueSummary:
        params = msgspec.to_builtins(data)
        params["message_ids"] = data.message_ids
        return await db.doc(Q_REQUEUE, params, RequeueSummary)  # type: ignore[return-value]
