"""API-key authentication and the per-request tenant transaction.

The guard runs before the request body is read: a caller without a valid key learns nothing, not even
validation messages. It resolves the key with one call to the SECURITY DEFINER function
campaigns.authenticate_api_key (hash comparison only). The `db` dependency then opens the request's
one transaction on a pooled connection (already `SET ROLE campaigns_app`) with the tenant and user
set locally, so Row Level Security scopes every statement to the caller's tenant. The transaction
commits after the handler's response is built and before it is sent, and rolls back on any error.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler

from service.db import AuthContext, Db, authenticate, tenant_transaction

# Keys are "ck_" + 64 hex characters; anything far outside that shape is refused without a query.
_MAX_KEY_LENGTH = 200


def bearer_key(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or len(key) > _MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        return None
    return key


async def require_api_key(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    key = bearer_key(connection.headers.get("authorization"))
    if key is None:
        raise NotAuthorizedException()
    auth = await authenticate(connection.app.state.pool, key)
    if auth is None:
        raise NotAuthorizedException()
    connection.state.auth = auth


async def provide_db(request: Request, state: State) -> AsyncGenerator[Db, None]:
    auth: AuthContext = request.state.auth
    async with tenant_transaction(state.pool, auth.tenant_id, auth.user_id) as conn:
        yield Db(conn, auth)
