"""Users and API keys over HTTP: who am I, users (admins add them), keys (mint, list, revoke)."""

from __future__ import annotations

from tests.support.api import assert_problem, new_user_key, ok


def test_me_users_and_keys(api, api_app, anonymous, conn, tenant):
    me = ok(api.get("/api/me"))
    assert me["tenant_id"] == str(tenant.tenant_id) and me["tenant_name"] == "Acme" and me["user"]["role"] == "admin"
    user = ok(api.post("/api/users", json={"email": "grace@example.com", "name": "Grace"}), 201)
    assert user["role"] == "member"
    assert_problem(api.post("/api/users", json={"email": "GRACE@example.com"}), 409, "USER_ALREADY_EXISTS")
    assert ok(api.get("/api/users"))["pagination"]["total"] == 2
    key = ok(api.post(f"/api/users/{user['id']}/api-keys", json={"name": "grace laptop"}), 201)
    assert key["api_key"].startswith("ck_") and key["key_prefix"] == key["api_key"][:11] and key["user_id"] == user["id"]
    with api_app.client(key["api_key"]) as grace:
        assert ok(grace.get("/api/me"))["user"]["id"] == user["id"]
        # A member cannot add users nor mint keys for others, but may for themself.
        assert_problem(grace.post("/api/users", json={"email": "eve@example.com"}), 403, "FORBIDDEN")
        assert_problem(grace.post(f"/api/users/{tenant.user_id}/api-keys", json={}), 403, "FORBIDDEN")
        own = ok(grace.post(f"/api/users/{user['id']}/api-keys", json={}), 201)
        assert own["name"] == "default"
        keys = ok(grace.get("/api/api-keys"))
        assert keys["pagination"]["total"] == 3 and all("key_hash" not in k and "api_key" not in k for k in keys["items"])
        admin_key = next(k for k in keys["items"] if k["user_id"] == str(tenant.user_id))
        assert_problem(grace.delete(f"/api/api-keys/{admin_key['id']}"), 403, "FORBIDDEN")
        revoked = ok(grace.delete(f"/api/api-keys/{own['id']}"))
        assert revoked["revoked_at"] is not None
        assert ok(grace.delete(f"/api/api-keys/{own['id']}"))["revoked_at"] == revoked["revoked_at"]
    assert_problem(anonymous.get("/api/me", headers={"Authorization": f"Bearer {own['api_key']}"}), 401, "UNAUTHORIZED")
    ok(api.delete(f"/api/api-keys/{key['id']}"))
    assert_problem(anonymous.get("/api/me", headers={"Authorization": f"Bearer {key['api_key']}"}), 401, "UNAUTHORIZED")


def test_keys_and_users_are_tenant_scoped(api, other_api, conn, other_tenant):
    other_user, _ = new_user_key(conn, other_tenant, "them@example.com")
    assert_problem(api.post(f"/api/users/{other_user}/api-keys", json={}), 404, "NOT_FOUND")
    assert all(u["email"] != "them@example.com" for u in ok(api.get("/api/users"))["items"])
    assert conn.execute("SELECT count(*) FROM campaigns.api_keys WHERE user_id = %s", (other_user,)).fetchone()[0] == 1


def test_authentication_header_forms(anonymous, tenant):
    for header in (None, "", "Bearer", "Basic abc", f"Token {tenant.api_key}", "Bearer " + "x" * 500,
                   f"Bearer {tenant.api_key}x", f"Bearer {tenant.api_key[:-1]}", "Bearer ck_\x01"):
        headers = {} if header is None else {"Authorization": header}
        response = anonymous.get("/api/me", headers=headers)
        body = assert_problem(response, 401, "UNAUTHORIZED")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert set(body) == {"type", "title", "status", "code"}
    assert anonymous.get("/api/me", headers={"Authorization": f"bearer {tenant.api_key}"}).status_code == 200
