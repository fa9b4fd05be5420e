"""Liveness and readiness: the process answers; the database and the pg_cron jobs are there.

/ready answers 503 when the database cannot be reached or pg_cron jobs are missing: this process
cannot do its work. Relays that the in-process outbox worker holds as down are listed in
`relays_down` but leave the status 200: the API still serves every request, the mail waits in the
queue (unspent) and goes out when the relay answers, and taking every API instance out of a load
balancer over an SMTP outage would turn it into an API outage. Alert on `relays_down` (or on the
gauge campaigns_worker_relay_up) instead."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from typing import Any

from litestar.datastructures import State
from litestar.exceptions import HTTPException
from psycopg_pool import AsyncConnectionPool

# The scheduled jobs the engine cannot run without are campaigns.engine_jobs(), the list schedule_jobs
# installs; cron_jobs_missing() with no argument checks every one of them.
Q_MISSING_JOBS = "SELECT campaigns.cron_jobs_missing() AS missing"


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    database: bool
    cron_jobs_missing: list[str]
    # host:port of the SMTP relays the in-process worker holds as down (empty without one).
    relays_down: list[str] = msgspec.field(default_factory=list)


def relays_down(state: State) -> list[str]:
    worker: Any = getattr(state, "outbox_worker", None)
    return worker.relays_down() if worker is not None else []


async def check_readiness(pool: AsyncConnectionPool, down: list[str] | None = None) -> Readiness:
    down = down or []
    try:
        async with pool.connection() as conn:
            cur = await conn.execute(Q_MISSING_JOBS)
            missing = (await cur.fetchone())["missing"]
    except Exception:  # noqa: BLE001 - any failure to reach the database means not ready
        # The job list lives in the database: unreachable, it cannot say which jobs are missing.
        return Readiness(status="unavailable", database=False, cron_jobs_missing=[], relays_down=down)
    return Readiness(status="ready" if not missing else "degraded", database=True, cron_jobs_missing=missing,
                     relays_down=down)


class HealthController(Controller):
    path = "/"
    tags = ["health"]

    @get("/health", operation_id="health", summary="Liveness: the process is up")
    async def health(self) -> Health:
        return Health(status="ok")

    @get("/ready", operation_id="readiness", summary="Readiness: database reachable and pg_cron jobs present")
    async def ready(self, state: State) -> Readiness:
        readiness = await check_readiness(state.pool, relays_down(state))
        if readiness.status != "ready":
            raise HTTPException(
                status_code=503,
                detail="not ready",
                extra={"readiness": readiness.status, "database": readiness.database,
                       "cron_jobs_missing": readiness.cron_jobs_missing, "relays_down": readiness.relays_down},
            )
        return readiness
