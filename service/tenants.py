"""Tenant creation for the CLI and the demo: one call to campaigns.create_tenant."""

from __future__ import annotations

from uuid import UUID

import psycopg


def create_tenant(url: str, name: str, admin_email: str | None = None) -> tuple[UUID, str]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT tenant_id, api_key FROM campaigns.create_tenant(%s, %s)", (name, admin_email)).fetchone()
    return row[0], row[1]
