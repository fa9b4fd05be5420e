"""The API for tests: in process through its ASGI interface (Litestar's TestClient runs the app and its
lifespan on an event loop thread; the clients of every tenant share its transport, and an exception
that escapes the app's own handlers is raised in the test instead of becoming a 500), or served over
real HTTP by uvicorn for what is about HTTP itself (the fuzzer, a browser, mail clients). Also
tenants and clients acting with their API keys, problem-details assertions and "nothing changed"
fingerprints of the database."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import psycopg
import uvicorn
from litestar.testing import TestClient
from psycopg import sql

from service.app import create_app
from tests.support.factories import make_tenant
from service.dev.net import free_port
from tests.support.waits import wait_until

PROBLEM_JSON = "application/problem+json"


class _SharedTransport(httpx.BaseTransport):
    """The TestClient's ASGI transport, shared by many httpx clients (closing one leaves it open)."""

    def __init__(self, test_client: TestClient) -> None:
        self._transport = test_client._transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._transport.handle_request(request)


class InProcessApi:
    """create_app(database_url) with its lifespan running, called without a socket."""

    base_url = "http://testserver.local"

    def __init__(self, test_client: TestClient) -> None:
        self._transport = _SharedTransport(test_client)

    def client(self, key: str | None = None, headers: dict[str, str] | None = None) -> httpx.Client:
        """A client acting with `key` (none: anonymous); close it (or use it as a context manager)."""
        auth = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(transport=self._transport, base_url=self.base_url, headers={**auth, **(headers or {})},
                            timeout=60)


@contextmanager
def in_process(database_url: str) -> Iterator[InProcessApi]:
    with TestClient(create_app(database_url), base_url=InProcessApi.base_url) as test_client:
        yield InProcessApi(test_client)


@contextmanager
def serve(database_url: str) -> Iterator[str]:
    """Serve create_app(database_url) over real HTTP on a free loopback port (lifespan on); yields the base URL."""
    port = free_port()
    config = uvicorn.Config(create_app(database_url), host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), timeout=30)
        if not server.started:
            raise RuntimeError(f"the API server did not start on port {port}")
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
    """A client of a server over real HTTP (see serve)."""
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
    """The tables holding a tenant_id: plain and partitioned ones (a partition is read through its parent)."""
    return [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'campaigns' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) "
        "ORDER BY 1"
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
