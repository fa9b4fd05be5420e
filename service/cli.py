"""campaignctl: the command line of the campaign engine."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from uuid import UUID

from service.config import check_secret_keys, get_settings, resolve_database_url


def _cluster():
    from service.dev.embedded_pg import default_cluster

    return default_cluster()


def cmd_db(args: argparse.Namespace) -> int:
    if get_settings().database.url:
        print("DATABASE_URL is set: the embedded cluster is not used", file=sys.stderr)
        return 2
    cluster = _cluster()
    if args.action == "up":
        started = cluster.start()
        print(("started: " if started else "already running: ") + cluster.status())
        print(f"DATABASE_URL={cluster.url()}")
    elif args.action == "down":
        print("stopped" if cluster.stop() else "not running")
    else:
        print(cluster.status())
        return 0 if cluster.is_running() else 3
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from service.migrate import migrate

    print(migrate(resolve_database_url()).summary())
    return 0


def cmd_tenant(args: argparse.Namespace) -> int:
    from service.tenants import create_tenant

    tenant_id, api_key = create_tenant(resolve_database_url(), args.name, args.admin_email)
    print(f"tenant_id={tenant_id}")
    print(f"api_key={api_key}")
    print("The API key is shown once; only its hash is stored.", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app

    settings = get_settings()
    check_secret_keys(settings.links)  # before an embedded cluster is started for nothing
    url = resolve_database_url()
    # log_config=None: uvicorn's loggers go through ours (JSON lines with the request id).
    uvicorn.run(create_app(url), host=args.host or settings.api.host, port=args.port or settings.api.port,
                log_level="info", log_config=None)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from service.dev.demo import run_demo

    return run_demo()


def cmd_worker(args: argparse.Namespace) -> int:
    import signal

    from service import eventloop

    # A SIGTERM that arrives while the worker is still starting stops it cleanly too.
    early: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: early.append(signum))

    import logging

    from service.metrics import serve_worker_metrics
    from service.worker import WorkerOptions, run_worker
    from service.worker.connection import DatabaseUnavailable

    settings = get_settings().worker
    try:
        # A database that cannot be reached at start-up is a deployment error: exit 1 after a bounded wait.
        options = WorkerOptions.from_settings(startup_seconds=settings.startup_seconds)
        loop = eventloop.resolve(settings.event_loop)
    except (RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log = logging.getLogger("campaigns.worker")
    if settings.metrics_port:
        try:
            serve_worker_metrics(settings.metrics_port, settings.metrics_host)
        except OSError as exc:
            log.error("cannot serve /metrics on %s:%d: %s", settings.metrics_host, settings.metrics_port, exc,
                      extra={"metrics_port": settings.metrics_port})
            return 1
        log.info("worker metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port,
                 extra={"metrics_port": settings.metrics_port})
    try:
        stats = eventloop.run(run_worker(resolve_database_url(), options, once=args.once, stop_now=bool(early)), loop)
    except DatabaseUnavailable as exc:
        log.error("worker not started: %s", exc, extra={**exc.fields, "component": "startup"})
        return 1
    if args.once:
        print(stats.summary())
    return 0


def cmd_smtp_catcher(args: argparse.Namespace) -> int:
    from service.dev.smtp_catcher import print_list, serve

    settings = get_settings()
    maildir = args.maildir or settings.dev.maildir
    if args.list:
        return print_list(maildir)
    return serve(maildir, args.host, args.port or settings.smtp.port)


def _tenant_arg(value: str | None) -> UUID | None:
    """--tenant, else the demo tenant of `campaignctl run` when there is one."""
    if value:
        return UUID(value)
    from service.dev.demo import demo_file

    path = demo_file()
    if path.exists():
        return UUID(json.loads(path.read_text())["tenant_id"])
    return None


def cmd_import_contacts(args: argparse.Namespace) -> int:
    from service.admin import import_contacts

    tenant = _tenant_arg(args.tenant)
    if tenant is None:
        print("error: name the tenant with --tenant TENANT_ID", file=sys.stderr)
        return 2
    result = import_contacts(resolve_database_url(), Path(args.file), tenant)
    print(f"created {result['created']:,}, updated {result['updated']:,}, rejected {result['rejected']:,}")
    for code, n in sorted(result["reasons"].items()):
        print(f"  rejected {code}: {n:,}")
    for row in result["rejected_rows"]:
        print(f"  line {row['line']}: {row['code']} ({row['field'] or '-'}) {row['email'] or ''}")
    return 0 if result["rejected"] == 0 else 1


def cmd_status(args: argparse.Namespace) -> int:
    from service.admin import status_report

    print(status_report(resolve_database_url(), UUID(args.tenant) if args.tenant else None))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="campaignctl", description="PostgreSQL-native email campaign engine")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the embedded PostgreSQL cluster (when DATABASE_URL is not set)")
    db.add_argument("action", choices=["up", "down", "status"])
    db.set_defaults(func=cmd_db)

    sub.add_parser("migrate", help="apply migrations, functions and pg_cron jobs").set_defaults(func=cmd_migrate)

    tenant = sub.add_parser("tenant", help="tenants")
    tenant_sub = tenant.add_subparsers(dest="tenant_command", required=True)
    create = tenant_sub.add_parser("create", help="create a tenant and print its API key once")
    create.add_argument("name")
    create.add_argument("--admin-email", default=None)
    create.set_defaults(func=cmd_tenant)

    serve = sub.add_parser("serve", help="serve the REST API")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="the outbox worker: send queued mail over SMTP")
    worker.add_argument("--once", action="store_true", help="send what is due now, then exit 0")
    worker.set_defaults(func=cmd_worker)

    catcher = sub.add_parser("smtp-catcher", help="a local SMTP server that keeps what it receives in a Maildir")
    catcher.add_argument("--list", action="store_true", help="list the caught messages and exit")
    catcher.add_argument("--host", default="127.0.0.1")
    catcher.add_argument("--port", type=int, default=None, help="default: SMTP_PORT")
    catcher.add_argument("--maildir", default=None, help="default: CAMPAIGNS_MAILDIR")
    catcher.set_defaults(func=cmd_smtp_catcher)

    imp = sub.add_parser("import-contacts", help="upsert contacts from a CSV file (streamed), reporting rejected rows")
    imp.add_argument("file")
    imp.add_argument("--tenant", default=None, help="tenant id (default: the demo tenant of `campaignctl run`)")
    imp.set_defaults(func=cmd_import_contacts)

    status = sub.add_parser("status", help="launched campaigns: enrollments by status, queue depth, failures")
    status.add_argument("--tenant", default=None, help="only this tenant")
    status.set_defaults(func=cmd_status)

    sub.add_parser("run", help="the whole system locally: database, migrations, demo tenant, API").set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from service.logs import configure_logging

    args = build_parser().parse_args(argv)
    try:
        configure_logging()  # reads the settings: a bad value is reported like any other bad input
        return args.func(args)
    except Exception as exc:  # noqa: BLE001 - one clear line and a non-zero exit for operators
        from service.admin import AdminError
        from service.dev.embedded_pg import EmbeddedPostgresError

        if isinstance(exc, AdminError | ValueError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, EmbeddedPostgresError):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
