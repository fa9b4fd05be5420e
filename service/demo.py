"""`campaignctl run`: the whole system on the embedded default, with a demo tenant.

Starts the embedded cluster (unless DATABASE_URL is set), migrates, creates the demo tenant once
(its key is kept in .local/demo.json so a second run reuses the data) and serves the API until
Ctrl-C, then stops what it started.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from service.config import get_settings
from service.migrate import migrate
from service.tenants import create_tenant

DEMO_FILE = Path(os.environ.get("CAMPAIGNS_DEMO_FILE", ".local/demo.json"))


def ensure_demo_tenant(url: str) -> dict:
    if DEMO_FILE.exists():
        return json.loads(DEMO_FILE.read_text())
    tenant_id, api_key = create_tenant(url, "Demo", "demo@example.com")
    demo = {"tenant_id": str(tenant_id), "api_key": api_key}
    DEMO_FILE.parent.mkdir(parents=True, exist_ok=True)
    DEMO_FILE.write_text(json.dumps(demo, indent=2))
    DEMO_FILE.chmod(0o600)
    return demo


def run_demo() -> int:
    import uvicorn

    from service.app import create_app
    from service.embedded_pg import default_cluster

    settings = get_settings()
    cluster = None
    if settings.database_url:
        url = settings.database_url
    else:
        cluster = default_cluster()
        started = cluster.start()
        url = cluster.url()
        print(f"PostgreSQL {'started' if started else 'already running'}: {url}")
    try:
        for line in migrate(url).lines():
            print(line)
        demo = ensure_demo_tenant(url)
        base = settings.public_base_url
        print(f"demo tenant: {demo['tenant_id']}")
        print(f"API key:     {demo['api_key']}")
        print(f"API docs:    {base}/docs")
        print(f"readiness:   {base}/ready")
        print("Ctrl-C stops everything.")
        uvicorn.run(create_app(url), host=settings.api_host, port=settings.api_port, log_level="info")
    finally:
        if cluster is not None:
            cluster.stop()
            print("PostgreSQL stopped")
    return 0
