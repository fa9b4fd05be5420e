"""Sender accounts (from address, reply-to, opt-in daily limit and minimum gap between sends)."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Controller
from litestar.params import FromPath, JSONBody

from service.api.common import DbDep, Limit, Offset, endpoint, not_found, one, page_query, patch_query
from service.api.examples import SENDER, page
from service.schemas.senders import SenderCreate, SenderPage, SenderRead, SenderUpdate



def _sender_doc(alias: str) -> str:
    # The retry lifetime in whole seconds, as the API takes it.
    return (f"(to_jsonb({alias}) - 'tenant_id' - 'last_slot_at' - 'retry_lifetime') || "
            f"jsonb_build_object('retry_lifetime_seconds', extract(epoch FROM {alias}.retry_lifetime)::bigint)")


SENDER_DOC = _sender_doc("s")
Q_CREATE = f"""
    INSERT INTO campaigns.sender_accounts AS s
        (tenant_id, workspace_id, from_email, from_name, reply_to_email, daily_limit, min_gap_seconds, is_active,
         retry_lifetime)
    SELECT campaigns.current_tenant_id(), r.workspace_id, btrim(r.from_email), r.from_name, r.reply_to_email, r.daily_limit,
           r.min_gap_seconds, r.is_active, r.retry_lifetime
    FROM jsonb_populate_record(NULL::campaigns.sender_accounts, %s::jsonb) r
    RETURNING {SENDER_DOC}
"""
Q_UPDATE = patch_query(table="campaigns.sender_accounts", alias="s", doc=SENDER_DOC, fields={
    "from_email": "btrim(r.from_email)", "from_name": None, "reply_to_email": None, "daily_limit": None,
    "min_gap_seconds": None, "is_active": None, "retry_lifetime": None})
Q_GET = f"SELECT {SENDER_DOC} FROM campaigns.sender_accounts s WHERE s.id = %s"
Q_DELETE = "DELETE FROM campaigns.sender_accounts WHERE id = %s"
Q_LIST = page_query(source="campaigns.sender_accounts", where="true", order="x.created_at DESC, x.id",
                    doc=_sender_doc("x"))


def _as_columns(data: SenderCreate | SenderUpdate) -> str:
    """The request as the row's columns: retry_lifetime_seconds becomes the retry_lifetime interval."""
    doc = msgspec.to_builtins(data)
    if "retry_lifetime_seconds" in doc:
        seconds = doc.pop("retry_lifetime_seconds")
        doc["retry_lifetime"] = None if seconds is None else f"{seconds} seconds"
    return msgspec.json.encode(doc).decode()


class SenderController(Controller):
    path = "/sender-accounts"
    tags = ["sender accounts"]

    @endpoint("POST", "/", operation_id="createSenderAccount", summary="Create a sender account", errors=(409, 422),
              description="One account per from address (case-insensitive; SENDER_ALREADY_EXISTS).",
              request_example={"from_email": "hello@example.com", "from_name": "Example Team",
                               "reply_to_email": "replies@example.com", "daily_limit": 50, "min_gap_seconds": 120},
              response_example=SENDER)
    async def create_sender(self, db: DbDep, data: JSONBody[SenderCreate]) -> SenderRead:
        return await one(db, Q_CREATE, (_as_columns(data),), SenderRead, "sender account", "new")

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
        return await one(db, Q_UPDATE, {"c": _as_columns(data), "id": sender_account_id}, SenderRead, "sender account", sender_account_id)

    @endpoint("DELETE", "/{sender_account_id:uuid}", operation_id="deleteSenderAccount", summary="Delete a sender account",
              errors=(409,), description="An account a campaign or a sent message uses cannot be deleted (IN_USE); set "
                                         "is_active false instead.")
    async def delete_sender(self, db: DbDep, sender_account_id: FromPath[UUID]) -> None:
        if await db.execute(Q_DELETE, (sender_account_id,)) == 0:
            raise not_found("sender account", sender_account_id)
