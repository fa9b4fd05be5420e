"""Suppressions: list, add (audited), remove with a required reason (audited), and check an address
against the tenant's list and the global one (db/functions/76_suppressions.sql)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from service.api.common import DbDep, Limit, Offset, endpoint, one, page_query
from service.api.examples import SUPPRESSION, page
from service.schemas.suppressions import (
    SuppressionCheck,
    SuppressionCreate,
    SuppressionPage,
    SuppressionRead,
    SuppressionReason,
)

SUPPRESSION_DOC = "to_jsonb(s) - 'tenant_id'"
Q_ADD = f"SELECT {SUPPRESSION_DOC} FROM campaigns.add_suppression(%s, %s, %s, %s) s"
Q_REMOVE = f"SELECT {SUPPRESSION_DOC} FROM campaigns.remove_suppression(%s, %s) s"
Q_CHECK = "SELECT to_jsonb(c) FROM campaigns.check_suppression(%s) c"
Q_LIST = page_query(
    source="campaigns.suppressions",
    where="(%(reason)s::text IS NULL OR x.reason = %(reason)s::text)"
          " AND (%(email)s::text IS NULL OR strpos(lower(x.email), lower(%(email)s::text)) > 0)",
    order="x.added_at DESC, x.id",
    doc="to_jsonb(x) - 'tenant_id'",
)


class SuppressionController(Controller):
    path = "/suppressions"
    tags = ["suppressions"]

    @endpoint("GET", "/", operation_id="listSuppressions", summary="List the tenant's suppressions",
              query_example={"reason": "manual", "limit": 20, "offset": 0}, response_example=page(SUPPRESSION))
    async def list_suppressions(
        self, db: DbDep, reason: FromQuery[SuppressionReason | None] = None,
        email: Annotated[str | None, QueryParameter(max_length=320, description="Case-insensitive substring")] = None,
        limit: Limit = 20, offset: Offset = 0,
    ) -> SuppressionPage:
        params = {"reason": reason, "email": email, "limit": limit, "offset": offset}
        return await db.doc(Q_LIST, params, SuppressionPage)  # type: ignore[return-value]

    @endpoint("POST", "/", operation_id="addSuppression", summary="Suppress an address", errors=(409, 422),
              description="The same address twice is ALREADY_SUPPRESSED; an expiry not in the future is "
                          "INVALID_TIME_RANGE. The addition is audited. Enrolled contacts with this address exit at "
                          "their next email step.",
              request_example={"email": "no-more@example.com", "reason": "manual"}, response_example=SUPPRESSION)
    async def add_suppression(self, db: DbDep, data: JSONBody[SuppressionCreate]) -> SuppressionRead:
        return await one(db, Q_ADD, (data.email, data.reason, data.source, data.expires_at), SuppressionRead, "suppression", "new")

    @endpoint("GET", "/check", operation_id="checkSuppression", summary="Is an address suppressed?",
              description="The tenant's list first, then the global one (complaints, abuse), which a tenant cannot "
                          "override. Expired entries do not count.",
              query_example={"email": "no-more@example.com"},
              response_example={"email": "no-more@example.com", "suppressed": True, "scope": "tenant", "reason": "manual",
                                "added_at": "2030-03-01T09:00:00+00:00", "expires_at": None})
    async def check_suppression(self, db: DbDep, email: Annotated[str, QueryParameter(min_length=1, max_length=320)]) -> SuppressionCheck:
        return await one(db, Q_CHECK, (email,), SuppressionCheck, "suppression", email)

    @endpoint("DELETE", "/{suppression_id:uuid}", operation_id="removeSuppression", summary="Remove a suppression",
              errors=(422,), status_code=200,
              description="A reason is required (say why the address may be mailed again); it is kept, with who did it, "
                          "in the suppression audit. Returns the removed entry.",
              query_example={"reason": "documented re-consent 2030-03-01"}, response_example=SUPPRESSION)
    async def remove_suppression(
        self, db: DbDep, suppression_id: FromPath[UUID],
        reason: Annotated[str, QueryParameter(min_length=1, max_length=1000, description="Why the address may be mailed again")],
    ) -> SuppressionRead:
        return await one(db, Q_REMOVE, (suppression_id, reason), SuppressionRead, "suppression", suppression_id)
