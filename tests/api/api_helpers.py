"""Helpers of the API tests: a real HTTP server (the Litestar app under uvicorn in a background thread),
tenants and clients acting with their API keys, problem-details assertions and "nothing changed"
fingerprints of the database."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import psycopg
import uvicorn
from factories import make_tenant
from psycopg import sql

from service.app import create_app

PROBLEM_JSON = "application/problem+json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(database_url: str) -> Iterator[str]:
    """Serve create_app(database_url) on a free loopback port (lifespan on); yields the base URL."""
    port = _free_port()
    config = uvicorn.Config(create_app(database_url), host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the API server did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


# -- tenants and clients --------------------------------------------------------------------------


@dataclass
class Tenant:
    tenant_id: UUID
    api_key: str
    user_id: UUID
    workspace_id: UUID

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def new_tenant(conn: psycopg.Connection, name: str = "T") -> Tenant:
    return Tenant(**make_tenant(conn, name))


def new_user_key(conn: psycopg.Connection, tenant: Tenant, email: str, role: str = "member") -> tuple[UUID, str]:
    """Another user of the tenant and an API key acting for them (as a DBA would make them)."""
    user_id = conn.execute(
        "INSERT INTO campaigns.users (tenant_id, email, role) VALUES (%s, %s, %s) RETURNING id", (tenant.tenant_id, email, role)
    ).fetchone()[0]
    key = conn.execute("SELECT campaigns.create_api_key(%s)", (user_id,)).fetchone()[0]
    return user_id, key


def client(base_url: str, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=60)


# -- assertions -----------------------------------------------------------------------------------


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (and code)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers["content-type"]
    body = response.json()
    assert body["status"] == status and body["type"] == "about:blank" and body["title"]
    if code is not None:
        assert body["code"] == code, body
    return body


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def tenant_tables(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = 'campaigns' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE' ORDER BY 1"
    )]


def digest(conn: psycopg.Connection, tenant_id: UUID | None = None) -> dict[str, str]:
    """A fingerprint of every row of every tenant table (one tenant's, or all) and of the global
    suppressions: equal before and after means nothing changed."""
    result = {}
    for table in tenant_tables(conn) + ["global_suppressions"]:
        where = sql.SQL("tenant_id = %s") if tenant_id and table != "global_suppressions" else sql.SQL("true")
        stmt = sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM campaigns.{} t WHERE ").format(
            sql.Identifier(table)) + where
        count, md5 = conn.execute(stmt, (tenant_id,) if tenant_id and table != "global_suppressions" else ()).fetchone()
        result[table] = f"{count}:{md5}"
    return result


def count(conn: psycopg.Connection, table: str, tenant_id: UUID | None = None) -> int:
    stmt = sql.SQL("SELECT count(*) FROM campaigns.{}").format(sql.Identifier(table))
    if tenant_id:
        stmt += sql.SQL(" WHERE tenant_id = %s")
        return conn.execute(stmt, (tenant_id,)).fetchone()[0]
    return conn.execute(stmt).fetchone()[0]


def env_flag(name: str, default: int) -> int:
    return int(os.environ.get(name, default))
