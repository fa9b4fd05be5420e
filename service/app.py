"""Builds the Litestar application: routes, the database pool lifespan, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi import OpenAPIConfig

from service.api import api_router
from service.api.openapi import SECURITY_COMPONENTS, finish_document
from service.config import check_secret_keys, get_settings, resolve_database_url
from service.db import create_pool
from service.docs import swagger_assets, swagger_ui
from service.errors import aload_sqlstate_codes, exception_handlers
from service.health import HealthController
from service.http_methods import OptionsAnswer
from service.logs import request_id_middleware
from service.metrics import metrics
from service.request_body import StrictRequest
from service.report.routes import campaign_report_page
from service.tracking.routes import public_route_handlers
from service.worker.lifespan import worker_lifespan

# Routes outside the API-key guard of /api: the tracking links in emails (open pixel, click redirect,
# unsubscribe) authenticate by signed token, the report page by API key or signed link; /metrics is
# for the scraper and /docs/assets holds the API docs' scripts and styles.
PUBLIC_ROUTE_HANDLERS: list = [*public_route_handlers, campaign_report_page, metrics, swagger_assets]


def create_app(database_url: str | None = None) -> Litestar:
    settings = get_settings()
    check_secret_keys(settings.links)  # no app with a missing, short or placeholder signing key

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(start_embedded=False)
        pool = create_pool(url, settings.database.pool_min, settings.database.pool_max)
        await pool.open(wait=True, timeout=30)
        # The SQLSTATE → problem mapping is the database's error_codes(): read once, before any request.
        await aload_sqlstate_codes(pool)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    options_answer = OptionsAnswer()
    app = Litestar(
        route_handlers=[HealthController, api_router(), *PUBLIC_ROUTE_HANDLERS],
        # The database pool first; the in-process outbox worker (CAMPAIGNS_WORKER_IN_API=1) after it.
        lifespan=[lifespan, worker_lifespan],
        on_startup=[finish_document],
        middleware=[request_id_middleware],
        exception_handlers=exception_handlers(),
        # JSON bodies: nesting depth checked before decoding, then decoded strictly (no coercion).
        request_class=StrictRequest,
        # OPTIONS lists every method of its path (see service.http_methods).
        before_request=options_answer,
        # Logging is configured once per process (service.logs.configure_logging); Litestar's own
        # configuration would replace the root handler with another format.
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="Campaigns API",
            version="0.1.0",
            description="Multi-tenant email campaign engine. Authenticate with `Authorization: Bearer <api key>`. "
                        "Every error is RFC 9457 problem details (`application/problem+json`) with a stable `code`; "
                        "see docs/api.md.",
            path="/docs",
            components=SECURITY_COMPONENTS,
            render_plugins=[swagger_ui()],
        ),
    )
    options_answer.bind(app)
    return app
