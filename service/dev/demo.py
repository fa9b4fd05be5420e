"""`campaignctl run`: the whole system on the embedded default, with a demo tenant.

Starts the embedded cluster (unless DATABASE_URL is set), migrates, creates the demo tenant once
(its key is kept in .local/demo.json so a second run reuses the data) with a launched demo campaign
(service.dev.demo_data; steps processed every minute), starts a local SMTP catcher
(unless SMTP_HOST names a relay) and an in-process outbox worker pointed at it, and serves the API
until Ctrl-C, then stops what it started. Without CAMPAIGNS_SECRET_KEY a random key is generated once
and kept in .local/secret_key (mode 0600), so tracking links keep working across runs: the demo is the
one place the service makes its own key, everywhere else it refuses to start without a good one.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
import time
from pathlib import Path
from uuid import UUID

from service.config import SecretKeyError, get_settings, secret_key_problem
from service.dev.demo_data import process_every_minute, seed_demo_campaign
from service.migrate import migrate
from service.report.links import ReportLinkSigner
from service.tenants import create_tenant

SECRET_FILE = Path(".local/secret_key")


def demo_file() -> Path:
    """Where the demo tenant's id and API key are kept between runs."""
    return Path(get_settings().dev.demo_file)


def ensure_demo_tenant(url: str) -> dict:
    path = demo_file()
    if path.exists():
        return json.loads(path.read_text())
    tenant_id, api_key = create_tenant(url, "Demo", "demo@example.com")
    demo = {"tenant_id": str(tenant_id), "api_key": api_key}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(demo, indent=2))
    path.chmod(0o600)
    return demo


def ensure_secret_key() -> None:
    """A development signing key, generated once (or again when the kept one is not usable), unless
    CAMPAIGNS_SECRET_KEY is set: then it must be a good key, as anywhere else (SecretKeyError)."""
    given = os.environ.get("CAMPAIGNS_SECRET_KEY", "").strip()
    if given:
        problem = secret_key_problem(given)
        if problem:
            raise SecretKeyError(f"CAMPAIGNS_SECRET_KEY {problem}: unset it and the demo generates one")
        return
    kept = SECRET_FILE.read_text().strip() if SECRET_FILE.exists() else None
    if secret_key_problem(kept):
        kept = secrets.token_hex(32)
        SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        SECRET_FILE.touch(mode=0o600)
        SECRET_FILE.chmod(0o600)
        SECRET_FILE.write_text(kept)
    os.environ["CAMPAIGNS_SECRET_KEY"] = kept
    get_settings.cache_clear()


class _WorkerThread:
    """The outbox worker on its own event loop thread, in this process."""

    def __init__(self, url: str) -> None:
        from service.worker import Worker, WorkerOptions

        self.worker = Worker(url, WorkerOptions.from_settings())
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._main, name="outbox-worker", daemon=True)

    def _main(self) -> None:
        async def run() -> None:
            self.loop = asyncio.get_running_loop()
            await self.worker.run()
        asyncio.run(run())

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.worker.stop)
        self.thread.join(self.worker.options.shutdown_seconds + 5)


def run_demo() -> int:
    import uvicorn

    from service.app import create_app
    from service.dev.embedded_pg import default_cluster

    ensure_secret_key()  # before anything starts: a bad key given by hand stops the demo at once
    settings = get_settings()
    cluster = None
    if settings.database.url:
        url = settings.database.url
    else:
        cluster = default_cluster()
        started = cluster.start()
        url = cluster.url()
        print(f"PostgreSQL {'started' if started else 'already running'}: {url}")
    catcher = worker = None
    try:
        print(migrate(url).summary())
        demo = ensure_demo_tenant(url)
        if not os.environ.get("SMTP_HOST"):
            from service.dev.smtp_catcher import SmtpCatcher

            catcher = SmtpCatcher(settings.dev.maildir, "127.0.0.1", settings.smtp.port).start()
            os.environ["SMTP_HOST"] = "127.0.0.1"
            get_settings.cache_clear()
            settings = get_settings()
        worker = _WorkerThread(url)
        worker.start()
        app = create_app(url)
        campaign_id = seed_demo_campaign(url, demo["tenant_id"])
        every_minute = process_every_minute(url)
        base = settings.public_url
        token = ReportLinkSigner(settings.links.secret_keys).sign(UUID(demo["tenant_id"]), campaign_id, int(time.time()) + 30 * 86400)
        print(f"demo tenant: {demo['tenant_id']}")
        print(f"API key:     {demo['api_key']}")
        print(f"API docs:    {base}/docs")
        print(f"readiness:   {base}/ready")
        if catcher is not None:
            print(f"SMTP catcher: {catcher.host}:{catcher.port}, mail kept in {settings.dev.maildir} "
                  "(list it with `campaignctl smtp-catcher --list`)")
        print(f"outbox worker: in this process, sending to {settings.smtp.host}:{settings.smtp.port}")
        print(f"demo campaign: {campaign_id} (welcome, wait 2 minutes, branch on the open)")
        print(f"report page:  {base}/reports/campaigns/{campaign_id}?token={token}")
        print("steps are processed every minute by pg_cron" if every_minute
              else "pg_cron is not in this database: run SELECT campaigns.process_due_steps() to advance")
        print("Ctrl-C stops everything.")
        uvicorn.run(app, host=settings.api.host, port=settings.api.port, log_level="info", log_config=None)
    finally:
        if worker is not None:
            worker.stop()
            print("outbox worker stopped")
        if catcher is not None:
            catcher.stop()
        if cluster is not None:
            cluster.stop()
            print("PostgreSQL stopped")
    return 0
