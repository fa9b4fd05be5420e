"""Suppressions over HTTP: list, add, remove with a reason (audited), check (tenant, then global)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.support.api import assert_problem, count, digest, ok


def test_add_list_check_remove(api, conn, tenant, other_api):
    added = ok(api.post("/api/suppressions", json={"email": "No@Example.com", "reason": "manual", "source": "support ticket"}), 201)
    assert added["added_by"] == str(tenant.user_id) and added["expires_at"] is None
    assert_problem(api.post("/api/suppressions", json={"email": "no@EXAMPLE.com"}), 409, "ALREADY_SUPPRESSED")
    ok(api.post("/api/suppressions", json={"email": "later@example.com", "reason": "import",
                                           "expires_at": (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()}), 201)
    assert ok(api.get("/api/suppressions"))["pagination"]["total"] == 2
    assert ok(api.get("/api/suppressions", params={"reason": "import"}))["items"][0]["email"] == "later@example.com"
    assert ok(api.get("/api/suppressions", params={"email": "NO@"}))["pagination"]["total"] == 1
    check = ok(api.get("/api/suppressions/check", params={"email": "no@example.com"}))
    assert check["suppressed"] is True and check["scope"] == "tenant" and check["reason"] == "manual" and check["added_at"]
    # Another tenant's list is its own.
    assert ok(other_api.get("/api/suppressions/check", params={"email": "no@example.com"}))["suppressed"] is False

    url = f"/api/suppressions/{added['id']}"
    before = digest(conn)
    assert_problem(api.delete(url), 400, "VALIDATION_FAILED")
    assert_problem(api.delete(url, params={"reason": "   "}), 422, "VALIDATION_FAILED")
    assert digest(conn) == before
    removed = ok(api.delete(url, params={"reason": "re-consented by email on 2030-03-01"}))
    assert removed["id"] == added["id"]
    audit = conn.execute("SELECT action, reason, actor_id FROM campaigns.suppression_audit "
                         "WHERE tenant_id = %s AND lower(email) = 'no@example.com' ORDER BY at, action", (tenant.tenant_id,)).fetchall()
    assert audit == [("added", "manual", tenant.user_id), ("removed", "re-consented by email on 2030-03-01", tenant.user_id)]
    assert ok(api.get("/api/suppressions/check", params={"email": "no@example.com"})) == {
        "email": "no@example.com", "suppressed": False, "scope": None, "reason": None, "added_at": None, "expires_at": None}
    assert_problem(api.delete(url, params={"reason": "again"}), 404, "NOT_FOUND")


def test_global_and_expired_suppressions(api, conn, tenant):
    conn.execute("INSERT INTO campaigns.global_suppressions (email, reason) VALUES ('spam-trap@example.com', 'complaint')")
    conn.execute("INSERT INTO campaigns.suppressions (tenant_id, email, reason, expires_at) VALUES (%s, 'old@example.com', 'manual', now() - interval '1 day')",
                 (tenant.tenant_id,))
    check = ok(api.get("/api/suppressions/check", params={"email": "Spam-Trap@example.com"}))
    assert check["suppressed"] is True and check["scope"] == "global" and check["reason"] == "complaint"
    assert ok(api.get("/api/suppressions/check", params={"email": "old@example.com"}))["suppressed"] is False
    # A global suppression is not the tenant's to remove: it is not in its list.
    assert all(s["email"] != "spam-trap@example.com" for s in ok(api.get("/api/suppressions"))["items"])


def test_add_refusals(api, conn, tenant):
    for body in ({"email": "x"}, {"email": "a@b.co", "reason": "because"}, {"email": "a@b.co", "expires_at": "2030-01-01T00:00:00"}):
        assert_problem(api.post("/api/suppressions", json=body), 400, "VALIDATION_FAILED")
    assert_problem(api.post("/api/suppressions", json={"email": "a@b.co", "expires_at": "2001-01-01T00:00:00Z"}), 400, "INVALID_TIME_RANGE")
    assert_problem(api.get("/api/suppressions/check"), 400, "VALIDATION_FAILED")
    assert count(conn, "suppressions", tenant.tenant_id) == 0 and count(conn, "suppression_audit", tenant.tenant_id) == 0
