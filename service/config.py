"""Settings read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    # None = use the embedded cluster (service.embedded_pg).
    database_url: str | None
    api_host: str
    api_port: int
    # Base of the public links put in emails (tracking, unsubscribe).
    public_base_url: str
    pool_min_size: int
    pool_max_size: int


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    port = int(os.environ.get("CAMPAIGNS_API_PORT", "8000"))
    host = os.environ.get("CAMPAIGNS_API_HOST", "127.0.0.1")
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or None,
        api_host=host,
        api_port=port,
        public_base_url=os.environ.get("CAMPAIGNS_PUBLIC_URL", f"http://{host}:{port}").rstrip("/"),
        pool_min_size=int(os.environ.get("CAMPAIGNS_POOL_MIN", "2")),
        pool_max_size=int(os.environ.get("CAMPAIGNS_POOL_MAX", "10")),
    )


def resolve_database_url(start_embedded: bool = True) -> str:
    """DATABASE_URL when set; otherwise the embedded cluster's URL (started when asked)."""
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    from service.embedded_pg import default_cluster

    cluster = default_cluster()
    if start_embedded:
        cluster.start()
    return cluster.url()
