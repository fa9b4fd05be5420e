"""The demo tenant's data: contacts, a segment and a short branching sequence, launched once.

Waits are minutes and steps are processed every minute, so mail reaches the local catcher within a
minute of the first run and the branch a few minutes later. Running the demo again finds the
campaign and leaves it as it is.
"""

from __future__ import annotations

import json
from uuid import UUID

import psycopg

CAMPAIGN_NAME = "Demo: welcome sequence"
PEOPLE = [
    ("Ada", "Lovelace", "Analytical Engines", "Europe/London"),
    ("Grace", "Hopper", "Navy Labs", "America/New_York"),
    ("Alan", "Turing", "Bletchley", "Europe/London"),
    ("Katherine", "Johnson", "NASA", "America/New_York"),
    ("Edsger", "Dijkstra", None, "Europe/Amsterdam"),
    ("Barbara", "Liskov", "MIT", "America/New_York"),
    ("Donald", "Knuth", "Stanford", "America/Los_Angeles"),
    ("Margaret", "Hamilton", "Apollo", "America/New_York"),
    ("Tim", "Berners-Lee", "CERN", "Europe/Zurich"),
    ("Radia", "Perlman", None, "America/Los_Angeles"),
    ("Ken", "Thompson", "Bell Labs", None),
    ("Frances", "Allen", "IBM", "America/New_York"),
]

WELCOME = """<p>Hi {{ first_name | default: "there" }},</p>
<p>Welcome to the demo{% if company %} — and hello to everyone at {{ company }}{% endif %}!</p>
<p><a href="https://example.com/getting-started">Read the getting-started guide</a></p>"""
THANKS = "<p>Thanks for opening our welcome mail, {{ first_name }}. Here is what comes next.</p>"
NUDGE = """<p>Hi {{ first_name | default: "there" }}, did you miss our welcome?</p>
<p><a href="https://example.com/getting-started">The guide is one click away</a></p>"""


def seed_demo_campaign(url: str, tenant_id: str) -> UUID:
    """Create and launch the demo campaign unless it exists; returns its id."""
    with psycopg.connect(url) as conn:
        existing = conn.execute("SELECT id FROM campaigns.campaigns WHERE tenant_id = %s AND name = %s",
                                (tenant_id, CAMPAIGN_NAME)).fetchone()
        if existing:
            return existing[0]
        conn.execute(
            "INSERT INTO campaigns.contacts (tenant_id, email, first_name, last_name, company, timezone) "
            "SELECT %s, lower(p->>0) || '.' || lower(replace(p->>1, '-', '')) || '@demo.example', p->>0, p->>1, p->>2, p->>3 "
            "FROM jsonb_array_elements(%s::jsonb) p ON CONFLICT DO NOTHING",
            (tenant_id, json.dumps(PEOPLE)),
        )
        segment = conn.execute("INSERT INTO campaigns.segments (tenant_id, name) VALUES (%s, 'Demo contacts') RETURNING id",
                               (tenant_id,)).fetchone()[0]
        conn.execute("INSERT INTO campaigns.segment_contacts (tenant_id, segment_id, contact_id) "
                     "SELECT tenant_id, %s, id FROM campaigns.contacts WHERE tenant_id = %s", (segment, tenant_id))
        sender = conn.execute(
            "INSERT INTO campaigns.sender_accounts (tenant_id, from_email, from_name, reply_to_email) "
            "VALUES (%s, 'hello@demo.example', 'Demo Team', 'replies@demo.example') "
            "ON CONFLICT (tenant_id, lower(from_email)) DO UPDATE SET from_name = EXCLUDED.from_name RETURNING id",
            (tenant_id,)).fetchone()[0]
        campaign = conn.execute(
            "INSERT INTO campaigns.campaigns (tenant_id, name, description, segment_id, sender_account_id, campaign_type) "
            "VALUES (%s, %s, 'Welcome, wait 2 minutes, branch on the open.', %s, %s, 'drip') RETURNING id",
            (tenant_id, CAMPAIGN_NAME, segment, sender)).fetchone()[0]

        def step(order: int, **cols) -> UUID:
            cols = {"tenant_id": tenant_id, "campaign_id": campaign, "step_order": order, **cols}
            names = ", ".join(cols)
            marks = ", ".join(["%s"] * len(cols))
            return conn.execute(f"INSERT INTO campaigns.campaign_steps ({names}) VALUES ({marks}) RETURNING id",
                                list(cols.values())).fetchone()[0]

        tag = step(7, step_type="action", step_name="Tag for nurturing", action_type="add_tag",
                   action_config=json.dumps({"tag": "nurture"}))
        nudge = step(6, step_type="email", step_name="Nudge", subject_line="Did you miss this, {{ first_name | default: \"there\" }}?",
                     email_content=NUDGE, next_step_id=tag)
        thanks = step(5, step_type="email", step_name="Thanks", subject_line="Thanks for reading, {{ first_name }}",
                      email_content=THANKS)
        welcome = step(1, step_type="email", step_name="Welcome", subject_line="Welcome, {{ first_name | default: \"there\" }}!",
                       email_content=WELCOME)
        branch = step(3, step_type="condition", step_name="Opened the welcome?",
                      condition_rules=json.dumps({"type": "email_opened"}), email_step_id=welcome,
                      true_next_step_id=thanks, false_next_step_id=nudge)
        wait = step(2, step_type="wait", step_name="Wait 2 minutes", wait_duration_value=2, wait_duration_unit="minutes",
                    next_step_id=branch)
        conn.execute("UPDATE campaigns.campaign_steps SET next_step_id = %s WHERE id = %s", (wait, welcome))
        conn.execute("SELECT campaigns.launch_campaign(%s)", (campaign,))
        return campaign


def process_every_minute(url: str) -> bool:
    """The demo processes steps every minute (production default: every 5); False without pg_cron."""
    with psycopg.connect(url, autocommit=True) as conn:
        has_cron = conn.execute("SELECT to_regclass('cron.job') IS NOT NULL").fetchone()[0]
        if has_cron:
            conn.execute("SELECT campaigns.schedule_jobs('* * * * *')")
        return has_cron
