"""An API request takes one connection from the pool: the API-key check and the request's tenant
transaction run on it. A request that fails between the two (a malformed body) gives it back."""

from __future__ import annotations

from tests.support.factories import make_tenant
from litestar.testing import TestClient

from service.app import create_app


def _checkouts(client: TestClient) -> int:
    return client.app.state.pool.get_stats().get("requests_num", 0)


def _in_use(client: TestClient) -> int:
    stats = client.app.state.pool.get_stats()
    return stats["pool_size"] - stats["pool_available"]


def test_one_checkout_per_request_and_none_left_behind(conn, db_url):
    tenant = make_tenant(conn)
    auth = {"Authorization": f"Bearer {tenant['api_key']}"}
    with TestClient(create_app(db_url)) as client:
        assert client.get("/api/campaigns", headers=auth).status_code == 200   # warm up
        before = _checkouts(client)
        assert client.post("/api/campaigns", headers=auth, json={"name": "One connection"}).status_code == 201
        assert client.get("/api/campaigns", headers=auth).status_code == 200
        assert _checkouts(client) - before == 2
        # Rows written under the tenant, read back under RLS on the same kind of connection.
        assert client.get("/api/campaigns", headers=auth).json()["pagination"]["total"] == 1

        before = _checkouts(client)
        assert client.get("/api/campaigns", headers={"Authorization": "Bearer ck_unknown"}).status_code == 401
        assert client.post("/api/campaigns", headers=auth, content=b"{not json",
                           ).status_code == 400                                  # after the key check
        assert client.post("/api/campaigns", headers=auth, json={"name": "x", "nope": 1}).status_code == 400
        assert _checkouts(client) - before == 3
        assert _in_use(client) == 0
    count = conn.execute("SELECT count(*) FROM campaigns.campaigns WHERE tenant_id = %s", (tenant["tenant_id"],))
    assert count.fetchone()[0] == 1
