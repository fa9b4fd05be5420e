"""API-key authentication and the per-request tenant transaction.

The guard runs before the request body is read: a caller without a valid key learns nothing, not even
validation messages. It checks one connection out of the pool (already `SET ROLE campaigns_app`),
opens the request's transaction and, in one statement, resolves the key through the SECURITY DEFINER
function campaigns.authenticate_api_key (hash comparison only) and sets the tenant and user locally,
so Row Level Security scopes every statement to the caller's tenant. The `db` dependency hands that
transaction to the handler; it commits after the handler's response is built and before it is sent,
and rolls back on any error. A request that fails between the guard and the handler (a malformed
body) is rolled back by `release_request_transaction`, the router's middleware.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from service.db import Db, RequestTransaction

_STATE_KEY = "request_transaction"

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
    request_tx = RequestTransaction(connection.app.state.pool)
    if await request_tx.begin(key) is None:
        raise NotAuthorizedException()
    connection.scope["state"][_STATE_KEY] = request_tx


async def provide_db(request: Request) -> AsyncGenerator[Db, None]:
    request_tx: RequestTransaction = request.scope["state"][_STATE_KEY]
    try:
        yield Db(request_tx.conn, request_tx.auth)  # type: ignore[arg-type]
    except BaseException as exc:
        await request_tx.end(exc)
        raise
    await request_tx.end(None)


def release_request_transaction(app: ASGIApp) -> ASGIApp:
    """Rolls back and releases a request's transaction that the handler never took over."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            request_tx = scope.get("state", {}).pop(_STATE_KEY, None)
            if request_tx is not None and request_tx.open:
                await request_tx.end(RuntimeError("the request ended before its handler ran"))

    return middleware
