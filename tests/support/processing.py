"""Helpers of the step-processing tests (test_processing, test_timing, test_branching,
test_processing_concurrency): build a campaign with linked steps, launch it, run
campaigns.process_due_steps at chosen instants and read back enrollments and messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from tests.support.factories import make_campaign, make_contact, make_segment, make_step, make_tenant

MESSAGE_ID = re.compile(r"^<([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})@([^<>@\s]+)>$")
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


def ts(text: str) -> datetime:
    """'2026-03-02 14:00Z' -> an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Setup:
    tenant_id: UUID
    campaign_id: UUID
    contacts: list[UUID]
    steps: list[UUID] = field(default_factory=list)


def new_campaign(conn: psycopg.Connection, contacts: int | list[dict[str, Any]] = 1, tenant_id: UUID | None = None,
                 **campaign_cols: Any) -> Setup:
    """A tenant (unless given), contacts (a count, or one dict of column overrides each) in a static
    segment, and a draft campaign on that segment. Steps are added with add_steps."""
    tenant_id = tenant_id or make_tenant(conn)["tenant_id"]
    specs = [{} for _ in range(contacts)] if isinstance(contacts, int) else contacts
    contact_ids = [make_contact(conn, tenant_id, **spec) for spec in specs]
    segment_id = make_segment(conn, tenant_id, contact_ids)
    campaign_id = make_campaign(conn, tenant_id, segment_id=segment_id, **campaign_cols)
    return Setup(tenant_id, campaign_id, contact_ids)


def add_steps(conn: psycopg.Connection, s: Setup, *specs: dict[str, Any] | str, chain: bool = True) -> list[UUID]:
    """Insert steps in step_order; 'email' is shorthand for an email step. With chain, each non-condition
    step's next_step_id points at the following step (the last one ends the sequence)."""
    ids = []
    for spec in specs:
        spec = {"step_type": spec} if isinstance(spec, str) else dict(spec)
        ids.append(make_step(conn, s.tenant_id, s.campaign_id, **spec))
    if chain:
        for (step_id, spec), next_id in zip(zip(ids, specs), ids[1:]):
            if (spec if isinstance(spec, str) else spec.get("step_type", "email")) != "condition":
                link(conn, step_id, next_step_id=next_id)
    s.steps.extend(ids)
    return ids


def wait(value: int, unit: str) -> dict[str, Any]:
    return {"step_type": "wait", "wait_duration_value": value, "wait_duration_unit": unit}


def condition(rules: dict[str, Any], **cols: Any) -> dict[str, Any]:
    return {"step_type": "condition", "condition_rules": Jsonb(rules), **cols}


def action(action_type: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"step_type": "action", "action_type": action_type,
            "action_config": Jsonb(config or {})}


def link(conn: psycopg.Connection, step_id: UUID, **targets: UUID | None) -> None:
    """Set next_step_id / true_next_step_id / false_next_step_id / email_step_id of one step."""
    assignments = ", ".join(f"{name} = %({name})s" for name in targets)
    conn.execute(f"UPDATE campaigns.campaign_steps SET {assignments} WHERE id = %(id)s", {**targets, "id": step_id})


def launch(conn: psycopg.Connection, campaign_id: UUID, as_of: datetime) -> int:
    return conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (campaign_id, as_of)).fetchone()[0]


def process(conn: psycopg.Connection, as_of: datetime, batch: int | None = None) -> int:
    if batch is None:
        return conn.execute("SELECT campaigns.process_due_steps(%s)", (as_of,)).fetchone()[0]
    return conn.execute("SELECT campaigns.process_due_steps(%s, %s)", (as_of, batch)).fetchone()[0]


def enrollments(conn: psycopg.Connection, campaign_id: UUID) -> list[dict[str, Any]]:
    """The campaign's enrollments, in contact creation order."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT e.* FROM campaigns.campaign_contacts e JOIN campaigns.contacts c ON c.id = e.contact_id "
            "WHERE e.campaign_id = %s ORDER BY c.created_at, c.email", (campaign_id,)).fetchall()


def enrollment(conn: psycopg.Connection, campaign_id: UUID, contact_id: UUID) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM campaigns.campaign_contacts WHERE campaign_id = %s AND contact_id = %s",
                           (campaign_id, contact_id)).fetchone()


def messages(conn: psycopg.Connection, campaign_id: UUID, **where: Any) -> list[dict[str, Any]]:
    """The campaign's email_messages (optionally filtered by column = value), oldest first."""
    extra = "".join(f" AND {col} = %({col})s" for col in where)
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT * FROM campaigns.email_messages WHERE campaign_id = %(c)s{extra} "
                           "ORDER BY queued_at, next_attempt_at, to_email", {"c": campaign_id, **where}).fetchall()


def sent_steps(conn: psycopg.Connection, campaign_id: UUID, contact_id: UUID) -> list[UUID]:
    """The email steps that have a message for this contact, in queue order."""
    return [r[0] for r in conn.execute(
        "SELECT step_id FROM campaigns.email_messages WHERE campaign_id = %s AND contact_id = %s ORDER BY queued_at",
        (campaign_id, contact_id))]


def contact(conn: psycopg.Connection, contact_id: UUID) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM campaigns.contacts WHERE id = %s", (contact_id,)).fetchone()


def campaign(conn: psycopg.Connection, campaign_id: UUID) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM campaigns.campaigns WHERE id = %s", (campaign_id,)).fetchone()
