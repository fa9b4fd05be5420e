"""The tenant's users and API keys: who am I, list and add users (admins), mint keys (an admin, or for
oneself), list and revoke keys (db/functions/10_tenancy.sql)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller
from litestar.params import FromPath, JSONBody

from service.api.common import DbDep, Limit, Offset, endpoint, one, page_query
from service.api.examples import API_KEY, API_KEY_ID, TENANT_ID, USER, USER_ID, page
from service.schemas.users import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    ApiKeyRead,
    Me,
    UserCreate,
    UserPage,
    UserRead,
)

USER_DOC = "to_jsonb(u) - 'tenant_id'"
KEY_DOC = "to_jsonb(x) - 'tenant_id' - 'key_hash'"
Q_ME = f"""
    SELECT jsonb_build_object('tenant_id', t.id, 'tenant_name', t.name, 'user', {USER_DOC})
    FROM campaigns.users u JOIN campaigns.tenants t ON t.id = u.tenant_id
    WHERE u.id = campaigns.current_user_id()
"""
Q_CREATE = f"SELECT {USER_DOC} FROM campaigns.create_user(%s, %s, %s) u"
Q_LIST = page_query(source="campaigns.users", where="true", order="x.created_at, x.id", doc="to_jsonb(x) - 'tenant_id'")
Q_CREATE_KEY = "SELECT jsonb_build_object('id', k.api_key_id, 'user_id', k.user_id, 'name', k.name, 'key_prefix', k.key_prefix, 'api_key', k.api_key) FROM campaigns.create_user_api_key(%s, %s) k"
Q_KEYS = page_query(source="campaigns.api_keys", where="true", order="x.created_at, x.id", doc=KEY_DOC)
Q_REVOKE = "SELECT jsonb_build_object('id', k.api_key_id, 'user_id', k.user_id, 'name', k.name, 'key_prefix', k.key_prefix, 'created_at', k.created_at, 'revoked_at', k.revoked_at) FROM campaigns.revoke_api_key(%s) k"


class UserController(Controller):
    path = "/"
    tags = ["users and keys"]

    @endpoint("GET", "/me", operation_id="getMe", summary="The tenant and user of the API key",
              response_example={"tenant_id": TENANT_ID, "tenant_name": "Acme", "user": USER | {"role": "admin"}})
    async def me(self, db: DbDep) -> Me:
        return await one(db, Q_ME, None, Me, "user", "me")

    @endpoint("GET", "/users", operation_id="listUsers", summary="List the tenant's users",
              query_example={"limit": 20, "offset": 0}, response_example=page(USER))
    async def list_users(self, db: DbDep, limit: Limit = 20, offset: Offset = 0) -> UserPage:
        return await db.doc(Q_LIST, {"limit": limit, "offset": offset}, UserPage)  # type: ignore[return-value]

    @endpoint("POST", "/users", operation_id="createUser", summary="Add a user (admins only)", errors=(403, 409, 422),
              description="FORBIDDEN for a member; USER_ALREADY_EXISTS for a second user with the same email.",
              request_example={"email": "manager@example.com", "name": "Grace", "role": "member"}, response_example=USER)
    async def create_user(self, db: DbDep, data: JSONBody[UserCreate]) -> UserRead:
        return await one(db, Q_CREATE, (data.email, data.name, data.role), UserRead, "user", "new")

    @endpoint("POST", "/users/{user_id:uuid}/api-keys", operation_id="createApiKey", summary="Mint an API key for a user",
              errors=(403, 422),
              description="An admin for anyone of the tenant, a member for themself (FORBIDDEN otherwise). The key is "
                          "in the response once; only its hash is stored.",
              request_example={"name": "ci"},
              response_example={"id": API_KEY_ID, "user_id": USER_ID, "name": "ci", "key_prefix": "ck_3f9a1b2c",
                                "api_key": "ck_3f9a1b2c" + "0" * 56})
    async def create_key(self, db: DbDep, user_id: FromPath[UUID], data: JSONBody[ApiKeyCreate]) -> ApiKeyCreated:
        return await one(db, Q_CREATE_KEY, (user_id, data.name), ApiKeyCreated, "user", user_id)

    @endpoint("GET", "/api-keys", operation_id="listApiKeys", summary="List the tenant's API keys (never the keys)",
              query_example={"limit": 20, "offset": 0}, response_example=page(API_KEY))
    async def list_keys(self, db: DbDep, limit: Limit = 20, offset: Offset = 0) -> ApiKeyPage:
        return await db.doc(Q_KEYS, {"limit": limit, "offset": offset}, ApiKeyPage)  # type: ignore[return-value]

    @endpoint("DELETE", "/api-keys/{api_key_id:uuid}", operation_id="revokeApiKey", summary="Revoke an API key",
              errors=(403,), status_code=200, description="Its owner or an admin. Idempotent.",
              response_example=API_KEY | {"revoked_at": "2030-03-02T09:00:00+00:00"})
    async def revoke_key(self, db: DbDep, api_key_id: FromPath[UUID]) -> ApiKeyRead:
        return await one(db, Q_REVOKE, (api_key_id,), ApiKeyRead, "API key", api_key_id)
