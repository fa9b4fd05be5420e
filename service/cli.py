"""campaignctl: the command line of the campaign engine."""

from __future__ import annotations

import argparse
import sys

from service.config import get_settings, resolve_database_url


def _cluster():
    from service.embedded_pg import default_cluster

    return default_cluster()


def cmd_db(args: argparse.Namespace) -> int:
    if get_settings().database_url:
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

    for line in migrate(resolve_database_url()).lines():
        print(line)
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
    url = resolve_database_url()
    uvicorn.run(create_app(url), host=args.host or settings.api_host, port=args.port or settings.api_port, log_level="info")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from service.demo import run_demo

    return run_demo()


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

    sub.add_parser("run", help="the whole system locally: database, migrations, demo tenant, API").set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:  # noqa: BLE001 - one clear line and a non-zero exit for operators
        from service.embedded_pg import EmbeddedPostgresError

        if isinstance(exc, EmbeddedPostgresError):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
