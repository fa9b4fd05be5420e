"""Liveness, readiness, the OpenAPI document and problem details, over real HTTP."""

from __future__ import annotations

import httpx
import pytest

PROBLEM_JSON = "application/problem+json"


def test_health(api_url):
    r = httpx.get(f"{api_url}/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_openapi_names_the_health_operations(api_url):
    r = httpx.get(f"{api_url}/docs/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert paths["/health"]["get"]["operationId"] == "health"
    assert paths["/ready"]["get"]["operationId"] == "readiness"


def test_not_ready_without_pg_cron(api_url):
    r = httpx.get(f"{api_url}/ready")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    body = r.json()
    assert body["code"] == "SERVICE_UNAVAILABLE"
    assert body["status"] == 503


def test_ready_where_pg_cron_jobs_are_installed(cron_api_url):
    r = httpx.get(f"{cron_api_url}/ready")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert body["database"] is True
    assert body["cron_jobs_missing"] == []


def test_unknown_path_is_a_problem(api_url):
    r = httpx.get(f"{api_url}/nonexistent")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    assert r.json()["code"] == "NOT_FOUND"
