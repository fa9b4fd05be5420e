"""Liveness and readiness: the process answers; the database and the pg_cron jobs are there."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from psycopg_pool import AsyncConnectionPool

# The scheduled jobs the engine cannot run without (schedule_jobs installs them).
REQUIRED_JOBS = (
    "campaigns.process_due_steps",
    "campaigns.launch_scheduled_campaigns",
    "campaigns.complete_finished_campaigns",
    "campaigns.rollup_analytics",
    "campaigns.check_deliverability",
    "campaigns.refresh_campaign_audiences",
    "campaigns.refresh_dynamic_segments",
    "campaigns.purge_cron_history",
    "campaigns.evaluate_ab_tests",
    "campaigns.expire_approvals",
    "campaigns.defer_over_quota_mail",
)


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    database: bool
    cron_jobs_missing: list[str]


async def check_readiness(pool: AsyncConnectionPool) -> Readiness:
    try:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT campaigns.cron_jobs_missing(%s) AS missing", (list(REQUIRED_JOBS),))
            missing = (await cur.fetchone())["missing"]
    except Exception:  # noqa: BLE001 - any failure to reach the database means not ready
        return Readiness(status="unavailable", database=False, cron_jobs_missing=list(REQUIRED_JOBS))
    return Readiness(status="ready" if not missing else "degraded", database=True, cron_jobs_missing=missing)


class HealthController(Controller):
    path = "/"
    tags = ["health"]

    @get("/health", operation_id="health", summary="Liveness: the process is up")
    async def health(self) -> Health:
        return Health(status="ok")

    @get("/ready", operation_id="readiness", summary="Readiness: database reachable and pg_cron jobs present")
    async def ready(self, state: State) -> Readiness:
        readiness = await check_readiness(state.pool)
        if readiness.status != "ready":
            raise HTTPException(
                status_code=503,
                detail="not ready",
                extra={"readiness": readiness.status, "database": readiness.database,
                       "cron_jobs_missing": readiness.cron_jobs_missing},
            )
        return readiness
