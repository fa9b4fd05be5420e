"""Liveness, readiness, the OpenAPI document and problem details."""

from __future__ import annotations

PROBLEM_JSON = "application/problem+json"


def test_health(anonymous):
    r = anonymous.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_openapi_names_the_health_operations(anonymous):
    r = anonymous.get("/docs/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert paths["/health"]["get"]["operationId"] == "health"
    assert paths["/ready"]["get"]["operationId"] == "readiness"


def test_not_ready_without_pg_cron(anonymous):
    r = anonymous.get("/ready")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    body = r.json()
    assert body["code"] == "SERVICE_UNAVAILABLE"
    assert body["status"] == 503


def test_ready_where_pg_cron_jobs_are_installed(cron_api_app):
    with cron_api_app.client() as anonymous:
        r = anonymous.get("/ready")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert body["database"] is True
    assert body["cron_jobs_missing"] == []


def test_unknown_path_is_a_problem(anonymous):
    r = anonymous.get("/nonexistent")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    assert r.json()["code"] == "NOT_FOUND"
