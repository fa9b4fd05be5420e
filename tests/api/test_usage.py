"""GET /api/usage: the tenant's mail sent this month against its quota, read-only and tenant-scoped
(401 without a key is checked for every route by test_route_table.py)."""

from __future__ import annotations

from datetime import datetime, timezone


def test_usage_shows_sent_quota_and_remaining_of_the_callers_tenant_only(api, other_api, conn, tenant, other_tenant):
    month = datetime.now(timezone.utc).date().replace(day=1)
    conn.execute("UPDATE campaigns.tenants SET monthly_email_quota = 1000, max_send_rate_per_second = 12.5 WHERE id = %s",
                 (tenant.tenant_id,))
    for t, sent in ((tenant.tenant_id, 400), (other_tenant.tenant_id, 7)):
        conn.execute("SELECT campaigns._add_send_usage(%s, %s, now())", (t, sent))
    r = api.get("/api/usage")
    assert r.status_code == 200
    assert r.json() == {"month": month.isoformat(), "sent": 400, "monthly_email_quota": 1000, "remaining": 600,
                        "deferred_until": None, "max_send_rate_per_second": 12.5}
    body = other_api.get("/api/usage").json()
    assert (body["sent"], body["monthly_email_quota"], body["remaining"]) == (7, None, None)


def test_usage_of_a_tenant_that_sent_nothing_is_zero(api):
    body = api.get("/api/usage").json()
    assert (body["sent"], body["monthly_email_quota"], body["remaining"], body["deferred_until"]) == (0, None, None, None)

