"""Minimal rows for tests: each function inserts one object (as the connection's role) and returns its id.

Every function takes a psycopg connection and keyword overrides for any column of the table, so a test
states only what it cares about:

    t = make_tenant(conn)
    contact = make_contact(conn, t["tenant_id"], timezone="Europe/Paris")
    campaign = make_campaign(conn, t["tenant_id"], segment_id=make_segment(conn, t["tenant_id"], [contact]))
    step = make_step(conn, t["tenant_id"], campaign)
    enrollment = make_enrollment(conn, t["tenant_id"], campaign, contact)
    message = make_message(conn, t["tenant_id"], enrollment, step)

Import with `from tests.support.factories import make_tenant, ...`.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql


def insert(conn: psycopg.Connection, table: str, **cols: Any) -> UUID:
    """INSERT one row into campaigns.<table> and return its id."""
    stmt = sql.SQL("INSERT INTO campaigns.{} ({}) VALUES ({}) RETURNING id").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, cols)),
        sql.SQL(", ").join(sql.Placeholder() * len(cols)),
    )
    return conn.execute(stmt, list(cols.values())).fetchone()[0]


def unique(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_tenant(conn: psycopg.Connection, name: str = "T", admin_email: str | None = None) -> dict[str, Any]:
    """A tenant through campaigns.create_tenant: tenant_id, api_key, user_id (its admin), workspace_id."""
    tenant_id, api_key = conn.execute(
        "SELECT tenant_id, api_key FROM campaigns.create_tenant(%s, %s)", (name, admin_email)
    ).fetchone()
    user_id = conn.execute("SELECT user_id FROM campaigns.authenticate_api_key(%s)", (api_key,)).fetchone()[0]
    workspace_id = conn.execute(
        "SELECT id FROM campaigns.workspaces WHERE tenant_id = %s ORDER BY created_at LIMIT 1", (tenant_id,)
    ).fetchone()[0]
    return {"tenant_id": tenant_id, "api_key": api_key, "user_id": user_id, "workspace_id": workspace_id}


_contact_number = itertools.count()


def make_contact(conn: psycopg.Connection, tenant_id: UUID, **cols: Any) -> UUID:
    # Default addresses sort in creation order: inside one transaction (the rolled-back tests) every
    # created_at is the same now(), and helpers order contacts by (created_at, email).
    cols.setdefault("email", f"contact-{next(_contact_number):07d}-{uuid.uuid4().hex[:8]}@example.com")
    return insert(conn, "contacts", tenant_id=tenant_id, **cols)


def make_segment(conn: psycopg.Connection, tenant_id: UUID, contact_ids: Iterable[UUID] = (), **cols: Any) -> UUID:
    """A static segment (unless overridden) with the given contacts as members."""
    cols.setdefault("name", unique("segment"))
    contact_ids = list(contact_ids)
    segment_id = insert(conn, "segments", tenant_id=tenant_id, **cols)
    for contact_id in contact_ids:
        insert(conn, "segment_contacts", tenant_id=tenant_id, segment_id=segment_id, contact_id=contact_id)
    if contact_ids:
        conn.execute(
            "UPDATE campaigns.segments SET contact_count = "
            "(SELECT count(*) FROM campaigns.segment_contacts WHERE segment_id = %(id)s) WHERE id = %(id)s",
            {"id": segment_id},
        )
    return segment_id


def make_sender(conn: psycopg.Connection, tenant_id: UUID, **cols: Any) -> UUID:
    cols.setdefault("from_email", f"{unique('sender')}@example.com")
    return insert(conn, "sender_accounts", tenant_id=tenant_id, **cols)


def make_campaign(conn: psycopg.Connection, tenant_id: UUID, **cols: Any) -> UUID:
    cols.setdefault("name", unique("campaign"))
    return insert(conn, "campaigns", tenant_id=tenant_id, **cols)


def make_step(conn: psycopg.Connection, tenant_id: UUID, campaign_id: UUID, **cols: Any) -> UUID:
    """An email step with inline content at the next free step_order, unless overridden.

    A wait step defaults to 1 day. Linking (next_step_id …) is left to the caller.
    """
    cols.setdefault("step_type", "email")
    if cols["step_type"] == "email":
        cols.setdefault("subject_line", "Hello {{ first_name }}")
        cols.setdefault("email_content", "Hi {{ first_name }}, this is a test.")
    elif cols["step_type"] == "wait":
        cols.setdefault("wait_duration_value", 1)
        cols.setdefault("wait_duration_unit", "days")
    if "step_order" not in cols:
        cols["step_order"] = conn.execute(
            "SELECT coalesce(max(step_order), 0) + 1 FROM campaigns.campaign_steps WHERE tenant_id = %s AND campaign_id = %s",
            (tenant_id, campaign_id),
        ).fetchone()[0]
    return insert(conn, "campaign_steps", tenant_id=tenant_id, campaign_id=campaign_id, **cols)


def make_enrollment(conn: psycopg.Connection, tenant_id: UUID, campaign_id: UUID, contact_id: UUID, **cols: Any) -> UUID:
    return insert(conn, "campaign_contacts", tenant_id=tenant_id, campaign_id=campaign_id, contact_id=contact_id, **cols)


def make_message(conn: psycopg.Connection, tenant_id: UUID, enrollment_id: UUID, step_id: UUID, **cols: Any) -> UUID:
    """A queued outbox message for (enrollment, step); campaign, contact and address come from the enrollment."""
    campaign_id, contact_id, email = conn.execute(
        "SELECT e.campaign_id, e.contact_id, c.email FROM campaigns.campaign_contacts e "
        "JOIN campaigns.contacts c ON c.tenant_id = e.tenant_id AND c.id = e.contact_id "
        "WHERE e.tenant_id = %s AND e.id = %s",
        (tenant_id, enrollment_id),
    ).fetchone()
    cols.setdefault("campaign_id", campaign_id)
    cols.setdefault("contact_id", contact_id)
    cols.setdefault("to_email", email)
    cols.setdefault("smtp_message_id", f"<{uuid.uuid4()}@test.invalid>")
    return insert(conn, "email_messages", tenant_id=tenant_id, enrollment_id=enrollment_id, step_id=step_id, **cols)
