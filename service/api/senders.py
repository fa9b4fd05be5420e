"""Sender accounts (from address, reply-to, opt-in daily limit and minimum gap between sends)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller
from litestar.params import FromPath, JSONBody

from service.api.common import DbDep, Limit, Offset, encode, endpoint, not_found, one, page_query, patch_query
from service.api.examples import SENDER, page
from service.schemas.senders import SenderCreate, SenderPage, SenderRead, SenderUpdate

SENDER_DOC = "to_jsonb(s) - 'tenant_id' - 'last_slot_at'"
Q_CREATE = f"""
    INSERT INTO campaigns.sender_accounts AS s
        (tenant_id, workspace_id, from_email, from_name, reply_to_email, daily_limit, min_gap_seconds, is_active)
    SELECT campaigns.current_tenant_id(), r.workspace_id, btrim(r.from_email), r.from_name, r.reply_to_email, r.daily_limit,
           r.min_gap_seconds, r.is_active
    FROM jsonb_populate_record(NULL::campaigns.sender_accounts, %s::jsonb) r
    RETURNING {SENDER_DOC}
"""
Q_UPDATE = patch_query(table="campaigns.sender_accounts", alias="s", doc=SENDER_DOC, fields={
    "from_email": "btrim(r.from_email)", "from_name": None, "reply_to_email": None, "daily_limit": None,
    "min_gap_seconds": None, "is_active": None})
Q_GET = f"SELECT {SENDER_DOC} FROM campaigns.sender_accounts s WHERE s.id = %s"
Q_DELETE = "DELETE FROM campaigns.sender_accounts WHERE id = %s"
Q_LIST = page_query(source="campaigns.sender_accounts", where="true", order="x.created_at DESC, x.id",
                    doc="to_jsonb(x) - 'tenant_id' - 'last_slot_at'")


class SenderController(Controller):
    path = "/sender-accounts"
    tags = ["sender accounts"]

    @endpoint("POST", "/", operation_id="createSenderAccount", summary="Create a sender account", errors=(409, 422),
              description="One account per from address (case-insensitive; SENDER_ALREADY_EXISTS).",
              request_example={"from_email": "hello@example.com", "from_name": "Example Team",
                               "reply_to_email": "replies@example.com", "daily_limit": 50, "min_gap_seconds": 120},
              response_example=SENDER)
    async def create_sender(self, db: DbDep, data: JSONBody[SenderCreate]) -> SenderRead:
        return await one(db, Q_CREATE, (encode(data),), SenderRead, "sender account", "new")

    @endpoint("GET", "/", operation_id="listSenderAccounts", summary="List sender accounts",
              query_example={"limit": 20, "offset": 0}, response_example=page(SENDER))
    async def list_senders(self, db: DbDep, limit: Limit = 20, offset: Offset = 0) -> SenderPage:
        return await db.doc(Q_LIST, {"limit": limit, "offset": offset}, SenderPage)  # type: ignore[return-value]

    @endpoint("GET", "/{sender_account_id:uuid}", operation_id="getSenderAccount", summary="Get a sender account",
              response_example=SENDER)
    async def get_sender(self, db: DbDep, sender_account_id: FromPath[UUID]) -> SenderRead:
        return await one(db, Q_GET, (sender_account_id,), SenderRead, "sender account", sender_account_id)

    @endpoint("PATCH", "/{sender_account_id:uuid}", operation_id="updateSenderAccount", summary="Update a sender account",
              errors=(409, 422), request_example={"daily_limit": 100, "min_gap_seconds": None},
              response_example=SENDER | {"daily_limit": 100, "min_gap_seconds": None})
    async def update_sender(self, db: DbDep, sender_account_id: FromPath[UUID], data: JSONBody[SenderUpdate]) -> SenderRead:
        return await one(db, Q_UPDATE, {"c": encode(data), "id": sender_account_id}, SenderRead, "sender account", sender_account_id)

    @endpoint("DELETE", "/{sender_account_id:uuid}", operation_id="deleteSenderAccount", summary="Delete a sender account",
              errors=(409,), description="An account a campaign or a sent message uses cannot be deleted (IN_USE); set "
                                         "is_active false instead.")
    async def delete_sender(self, db: DbDep, sender_account_id: FromPath[UUID]) -> None:
        if await db.execute(Q_DELETE, (sender_account_id,)) == 0:
            raise not_found("sender account", sender_account_id)
