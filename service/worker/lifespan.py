"""Run the outbox worker inside the API process.

    from service.worker.lifespan import worker_lifespan
    Litestar(..., lifespan=[database_lifespan, worker_lifespan])

It starts only when CAMPAIGNS_WORKER_IN_API is true (or `enabled=True` is passed through
`make_worker_lifespan`), uses its own database connections (role campaigns_worker, not the API
pool) and on shutdown finishes in-flight sends before the application stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from service.config import get_settings, resolve_database_url
from service.worker import Worker, WorkerOptions

log = logging.getLogger("campaigns.worker")


def make_worker_lifespan(database_url: str | None = None, options: WorkerOptions | None = None,
                         enabled: bool | None = None) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def worker_lifespan(app: Any) -> AsyncIterator[None]:
        run = get_settings().worker.in_api if enabled is None else enabled
        if not run:
            yield
            return
        url = database_url or resolve_database_url(start_embedded=False)
        worker = Worker(url, options or WorkerOptions.from_settings())
        task = asyncio.create_task(worker.run(), name="outbox-worker")
        if app is not None and hasattr(app, "state"):
            app.state.outbox_worker = worker
        try:
            yield
        finally:
            worker.stop()
            try:
                await asyncio.wait_for(task, worker.options.shutdown_seconds + 5)
            except Exception:  # noqa: BLE001 - shutting down regardless
                log.exception("the in-process worker did not stop cleanly")

    return worker_lifespan


# The default: settings decide whether it runs (CAMPAIGNS_WORKER_IN_API).
worker_lifespan = make_worker_lifespan()
