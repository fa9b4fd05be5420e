"""Builds the Litestar application: routes, the database pool lifespan, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin

from service.config import get_settings, resolve_database_url
from service.db import create_pool
from service.errors import exception_handlers
from service.health import HealthController


def create_app(database_url: str | None = None) -> Litestar:
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(start_embedded=False)
        pool = create_pool(url, settings.pool_min_size, settings.pool_max_size)
        await pool.open(wait=True, timeout=30)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    return Litestar(
        route_handlers=[HealthController],
        lifespan=[lifespan],
        exception_handlers=exception_handlers(),
        openapi_config=OpenAPIConfig(
            title="Campaigns API",
            version="0.1.0",
            description="Multi-tenant email campaign engine. Authenticate with `Authorization: Bearer <api key>`.",
            path="/docs",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
    )
