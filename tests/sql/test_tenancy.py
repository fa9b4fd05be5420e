"""Tenants, API keys and isolation: RLS hides every other tenant's rows from campaigns_app, and the
composite foreign keys keep a row from pointing into another tenant even for the superuser."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone

import psycopg
import pytest
from psycopg.types.json import Jsonb
from psycopg import sql

from tests.support.api import tenant_tables
from tests.support.factories import (
    insert, make_campaign, make_contact, make_enrollment, make_message, make_segment, make_sender, make_step,
    make_tenant,
)


@contextmanager
def as_app(conn: psycopg.Connection, tenant_id=None) -> Iterator[psycopg.Connection]:
    """A transaction run as campaigns_app, scoped to tenant_id as the service does (None: no setting)."""
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL ROLE campaigns_app")
        if tenant_id is not None:
            conn.execute("SELECT set_config('campaigns.tenant_id', %s, true)", (str(tenant_id),))
        yield conn


def _count(conn: psycopg.Connection, table: str, where: str = "true", *params) -> int:
    stmt = sql.SQL("SELECT count(*) FROM campaigns.{} WHERE " + where).format(sql.Identifier(table))
    return conn.execute(stmt, params).fetchone()[0]


# -- API keys -----------------------------------------------------------------------------------


def test_create_tenant_and_authenticate(conn):
    a, b = make_tenant(conn, "A"), make_tenant(conn, "B")
    for t in (a, b):
        key = t["api_key"]
        assert key.startswith("ck_")
        stored = conn.execute("SELECT key_hash FROM campaigns.api_keys WHERE tenant_id = %s", (t["tenant_id"],)).fetchall()
        assert stored == [(hashlib.sha256(key.encode()).digest(),)]
        # The row rendered as text holds every column: the key is in none of them.
        assert conn.execute("SELECT count(*) FROM campaigns.api_keys k WHERE strpos(k::text, %s) > 0", (key,)).fetchone()[0] == 0
        assert conn.execute("SELECT tenant_id, user_id FROM campaigns.authenticate_api_key(%s)", (key,)).fetchall() == [
            (t["tenant_id"], t["user_id"])
        ]
    assert a["tenant_id"] != b["tenant_id"] and a["api_key"] != b["api_key"]


def test_plaintext_key_is_in_no_text_column(conn):
    t = make_tenant(conn, "A")
    columns = [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'campaigns' "
        "AND table_name = 'api_keys' AND data_type IN ('text', 'character varying', 'character')"
    )]
    assert "key_prefix" in columns
    for column in columns:
        stmt = sql.SQL("SELECT count(*) FROM campaigns.api_keys WHERE strpos({}, %s) > 0").format(sql.Identifier(column))
        assert conn.execute(stmt, (t["api_key"],)).fetchone()[0] == 0, column


def test_wrong_and_revoked_keys_authenticate_nobody(conn):
    t = make_tenant(conn, "A")
    assert conn.execute("SELECT * FROM campaigns.authenticate_api_key(%s)", (t["api_key"] + "x",)).fetchall() == []
    assert conn.execute("SELECT * FROM campaigns.authenticate_api_key('')").fetchall() == []
    conn.execute("UPDATE campaigns.api_keys SET revoked_at = now() WHERE tenant_id = %s", (t["tenant_id"],))
    assert conn.execute("SELECT * FROM campaigns.authenticate_api_key(%s)", (t["api_key"],)).fetchall() == []


def test_create_tenant_rejects_empty_name(conn):
    with pytest.raises(psycopg.Error) as e:
        conn.execute("SELECT * FROM campaigns.create_tenant('')")
    assert e.value.sqlstate == "QC422"


# -- Row Level Security ----------------------------------------------------------------------------


def seed_tenant(conn: psycopg.Connection, name: str) -> dict:
    """One row or more in every tenant-owned table, inserted as the superuser."""
    t = make_tenant(conn, name)  # tenants, workspaces, users, api_keys
    tid, uid = t["tenant_id"], t["user_id"]
    contact = make_contact(conn, tid, first_name=name)
    segment = make_segment(conn, tid, [contact], workspace_id=t["workspace_id"], created_by=uid)
    template = insert(conn, "templates", tenant_id=tid, name=f"tpl {name}", subject="Hi", text_content="Hello")
    sender = make_sender(conn, tid)
    campaign = make_campaign(conn, tid, segment_id=segment, sender_account_id=sender, created_by=uid)
    step = make_step(conn, tid, campaign, template_id=template)
    enrollment = make_enrollment(conn, tid, campaign, contact, current_step_id=step)
    insert(conn, "campaign_approvals", tenant_id=tid, campaign_id=campaign, approver_id=uid, approval_role="campaign_manager")
    message = make_message(conn, tid, enrollment, step, sender_account_id=sender)
    insert(conn, "email_events", tenant_id=tid, message_id=message, campaign_id=campaign, step_id=step, contact_id=contact,
           event_type="open", occurred_at=datetime.now(timezone.utc))
    insert(conn, "suppressions", tenant_id=tid, email=f"gone-{name}@example.com", reason="manual", added_by=uid)
    insert(conn, "suppression_audit", tenant_id=tid, email=f"gone-{name}@example.com", action="added", reason="test", actor_id=uid)
    insert(conn, "campaign_analytics", tenant_id=tid, campaign_id=campaign, date=date(2024, 1, 1), emails_sent=1)
    insert(conn, "campaign_alerts", tenant_id=tid, campaign_id=campaign, kind="bounce_rate", value=6, threshold=5, action_taken="paused")
    test = insert(conn, "ab_tests", tenant_id=tid, campaign_id=campaign, step_id=step)
    variant = insert(conn, "ab_test_variants", tenant_id=tid, ab_test_id=test, variant_name="A")
    insert(conn, "ab_test_assignments", tenant_id=tid, ab_test_id=test, variant_id=variant, contact_id=contact,
           enrollment_id=enrollment)
    insert(conn, "blackout_dates", tenant_id=tid, name="holiday", starts_on=date(2026, 12, 25), ends_on=date(2026, 12, 26))
    insert(conn, "tenant_send_usage", tenant_id=tid, month=date(2026, 12, 1), sent=3)
    event = insert(conn, "contact_events", tenant_id=tid, contact_id=contact, name="signed_up",
                   occurred_at=datetime.now(timezone.utc))
    conn.execute("INSERT INTO campaigns.event_idempotency_keys (tenant_id, key, event_id, result) VALUES (%s, %s, %s, '{}')",
                 (tid, f"key-{name}", event))
    hook = insert(conn, "webhook_subscriptions", tenant_id=tid, url="https://hooks.example.com/in",
                  event_types=["message.opened"], secret="whsec_" + "A" * 44)
    insert(conn, "webhook_deliveries", tenant_id=tid, subscription_id=hook, event_id=f"evt_{name}",
           event_type="message.opened", payload=Jsonb({"type": "message.opened"}))
    insert(conn, "test_sends", tenant_id=tid, campaign_id=campaign, step_id=step, to_email=f"me-{name}@example.com",
           message=Jsonb({"subject_template": "Hi"}), smtp_message_id=f"<test-{name}@x>")
    return {**t, "contact": contact, "segment": segment, "campaign": campaign, "step": step}


@pytest.fixture
def two_tenants(conn):
    return seed_tenant(conn, "A"), seed_tenant(conn, "B")


def test_every_tenant_table_is_seeded_for_both(conn, two_tenants):
    """Guards the RLS tests below: a table added later must be seeded here, or this fails."""
    tables = tenant_tables(conn)
    assert len(tables) >= 17
    for t in two_tenants:
        empty = [table for table in tables if _count(conn, table, "tenant_id = %s", t["tenant_id"]) == 0]
        assert empty == []


def test_app_role_sees_only_its_tenant(conn, two_tenants):
    a, b = two_tenants
    tables = tenant_tables(conn)
    own = {table: _count(conn, table, "tenant_id = %s", a["tenant_id"]) for table in tables}
    with as_app(conn, a["tenant_id"]):
        assert {table: _count(conn, table, "tenant_id = %s", b["tenant_id"]) for table in tables} == dict.fromkeys(tables, 0)
        assert {table: _count(conn, table) for table in tables} == own
        assert conn.execute("SELECT id FROM campaigns.tenants").fetchall() == [(a["tenant_id"],)]


def test_app_role_cannot_insert_into_another_tenant(conn, two_tenants):
    a, b = two_tenants
    with pytest.raises(psycopg.Error) as e, as_app(conn, a["tenant_id"]):
        make_contact(conn, b["tenant_id"])
    assert e.value.sqlstate == "42501"
    with as_app(conn, a["tenant_id"]):  # the same insert for its own tenant passes
        make_contact(conn, a["tenant_id"])


def test_app_role_cannot_update_another_tenant(conn, two_tenants):
    a, b = two_tenants
    with as_app(conn, a["tenant_id"]):
        for table in ("campaigns", "segments", "tenants"):
            key = "id" if table == "tenants" else "tenant_id"
            stmt = sql.SQL("UPDATE campaigns.{} SET name = 'hijacked' WHERE {} = %s").format(sql.Identifier(table), sql.Identifier(key))
            assert conn.execute(stmt, (b["tenant_id"],)).rowcount == 0, table
            assert conn.execute(stmt, (a["tenant_id"],)).rowcount >= 1, table


@pytest.mark.commits
@pytest.mark.parametrize("setting", [None, ""])
def test_app_role_without_tenant_sees_nothing(db_url, conn, two_tenants, setting):
    tables = [*tenant_tables(conn), "tenants"]
    # A fresh connection: the setting has never been set in this session.
    with psycopg.connect(db_url) as fresh:
        with as_app(fresh):
            if setting is not None:
                fresh.execute("SELECT set_config('campaigns.tenant_id', %s, true)", (setting,))
            counts = {table: _count(fresh, table) for table in tables}
    assert counts == dict.fromkeys(counts, 0)


def test_readonly_role_reads_analytics_of_all_tenants_only(conn, two_tenants):
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL ROLE campaigns_readonly")
        seen = {r[0] for r in conn.execute("SELECT tenant_id FROM campaigns.campaign_analytics")}
        assert seen == {t["tenant_id"] for t in two_tenants}
    with pytest.raises(psycopg.Error) as e, conn.transaction():
        conn.execute("SET LOCAL ROLE campaigns_readonly")
        conn.execute("SELECT count(*) FROM campaigns.contacts")
    assert e.value.sqlstate == "42501"


# -- Composite foreign keys ----------------------------------------------------------------------


def _fails(conn, fn) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as e, conn.transaction():
        fn()
    return e.value


def test_campaign_cannot_use_another_tenants_segment(conn, two_tenants):
    a, b = two_tenants
    err = _fails(conn, lambda: make_campaign(conn, a["tenant_id"], segment_id=b["segment"]))
    assert (err.sqlstate, err.diag.constraint_name) == ("23503", "fk_campaigns_segment")
    make_campaign(conn, a["tenant_id"], segment_id=a["segment"])


def test_step_cannot_join_another_tenants_campaign(conn, two_tenants):
    a, b = two_tenants
    err = _fails(conn, lambda: make_step(conn, a["tenant_id"], b["campaign"], step_order=5))
    assert (err.sqlstate, err.diag.constraint_name) == ("23503", "fk_campaign_steps_campaign")


def test_step_cannot_point_to_a_step_of_another_campaign(conn, two_tenants):
    a, _ = two_tenants
    other_campaign = make_campaign(conn, a["tenant_id"])
    other_step = make_step(conn, a["tenant_id"], other_campaign)
    err = _fails(conn, lambda: make_step(conn, a["tenant_id"], a["campaign"], next_step_id=other_step))
    assert err.sqlstate == "QC203"  # the engine's own code, raised before the composite foreign key
    make_step(conn, a["tenant_id"], a["campaign"], next_step_id=a["step"])


def test_the_api_role_cannot_mint_keys_or_tenants_through_the_dba_functions(conn):
    """create_api_key and create_tenant check no tenant: they are the owner's tools, not the API's."""
    a, b = make_tenant(conn, "A"), make_tenant(conn, "B")
    for call, args in (("SELECT campaigns.create_api_key(%s)", (a["user_id"],)),
                       ("SELECT * FROM campaigns.create_tenant(%s)", ("Intruder",))):
        with pytest.raises(psycopg.Error) as e, conn.transaction():
            conn.execute("SET LOCAL ROLE campaigns_app")
            conn.execute("SELECT set_config('campaigns.tenant_id', %s, true)", (str(b["tenant_id"]),))
            conn.execute(call, args)
        assert e.value.sqlstate == "42501"
