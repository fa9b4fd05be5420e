"""A real HTTP server for API tests: the Litestar app under uvicorn in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn

from service.app import create_app


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


@pytest.fixture
def api_url(db_url: str) -> Iterator[str]:
    """The API on a fresh test database (no pg_cron there)."""
    with serve(db_url) as url:
        yield url


@pytest.fixture
def cron_api_url(cron_db_url: str) -> Iterator[str]:
    """The API on the database pg_cron runs in, with the engine's jobs installed."""
    with serve(cron_db_url) as url:
        yield url
