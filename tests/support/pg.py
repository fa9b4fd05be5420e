"""The PostgreSQL server the tests create databases on, and its client programs."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

_counter = itertools.count()


def unique_name(prefix: str) -> str:
    """A database name no other test of this run (or of a parallel run) uses."""
    return f"{prefix}_{os.getpid()}_{next(_counter)}"


@dataclass
class PgServer:
    """A server the tests may create databases on; cron_db is where pg_cron runs (or None)."""

    base_url: str
    cron_db: str | None

    def url(self, dbname: str) -> str:
        return urlunsplit(urlsplit(self.base_url)._replace(path="/" + dbname))

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def create_database(self, name: str, template: str | None = None) -> str:
        with self.admin() as conn:
            stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
            conn.execute(stmt)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def pg_tool(name: str) -> str:
    """A PostgreSQL client program matching the newest installed server."""
    from service.dev.embedded_pg import find_bindir

    try:
        candidate = find_bindir() / name
        if candidate.exists():
            return str(candidate)
    except Exception:  # noqa: BLE001
        pass
    return shutil.which(name) or name


def run_pg_dump(url: str, *args: str) -> str:
    return subprocess.run([pg_tool("pg_dump"), *args, url], check=True, capture_output=True, text=True).stdout
