-- What happened to one contact, newest first: its enrollments (with how they ended), the messages
-- queued for it (status, times, the relay's last reply), the email events of those messages and the
-- events applications reported for it.
-- Read under the caller's Row Level Security (SECURITY INVOKER): a tenant sees its own contact only.

CREATE OR REPLACE FUNCTION campaigns.contact_timeline(p_contact_id uuid)
RETURNS TABLE (
    occurred_at timestamptz, kind text, campaign_id uuid, campaign_name text, enrollment_id uuid, step_id uuid,
    message_id uuid, status text, exit_reason text, ended_at timestamptz, subject text, sent_at timestamptz,
    smtp_reply text, last_error text, event_type text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    -- Each branch walks the contact's own index (ix_campaign_contacts_contact,
    -- ix_email_messages_contact, then ix_email_events_message per message): a contact's history is
    -- read without touching anyone else's rows.
    SELECT cc.enrolled_at, 'enrollment', cc.campaign_id, c.name, cc.id, cc.current_step_id, NULL::uuid, cc.status,
           cc.exit_reason, coalesce(cc.completed_at, cc.exited_at), NULL, NULL::timestamptz, NULL, NULL, NULL
    FROM campaigns.campaign_contacts cc
    JOIN campaigns.campaigns c ON c.tenant_id = cc.tenant_id AND c.id = cc.campaign_id
    JOIN campaigns.contacts ct ON ct.tenant_id = cc.tenant_id AND ct.id = cc.contact_id
    WHERE ct.id = p_contact_id AND cc.contact_id = p_contact_id
    UNION ALL
    SELECT m.queued_at, 'message', m.campaign_id, c.name, m.enrollment_id, m.step_id, m.id, m.status,
           NULL, NULL, m.subject, m.sent_at, m.smtp_response, m.last_error, NULL
    FROM campaigns.email_messages m
    JOIN campaigns.campaigns c ON c.tenant_id = m.tenant_id AND c.id = m.campaign_id
    JOIN campaigns.contacts ct ON ct.tenant_id = m.tenant_id AND ct.id = m.contact_id
    WHERE ct.id = p_contact_id AND m.contact_id = p_contact_id
    UNION ALL
    SELECT e.occurred_at, 'email_event', e.campaign_id, c.name, m.enrollment_id, e.step_id, e.message_id, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, e.event_type
    FROM campaigns.email_messages m
    JOIN campaigns.contacts ct ON ct.tenant_id = m.tenant_id AND ct.id = m.contact_id
    JOIN campaigns.email_events e ON e.tenant_id = m.tenant_id AND e.message_id = m.id
    JOIN campaigns.campaigns c ON c.tenant_id = e.tenant_id AND c.id = e.campaign_id
    WHERE ct.id = p_contact_id AND m.contact_id = p_contact_id
    UNION ALL
    -- What the contact did, as applications reported it (POST /api/events): not tied to a campaign.
    SELECT ev.occurred_at, 'contact_event', NULL::uuid, NULL, NULL::uuid, NULL::uuid, NULL::uuid, NULL,
           NULL, NULL, NULL, NULL::timestamptz, NULL, NULL, ev.name
    FROM campaigns.contact_events ev
    JOIN campaigns.contacts ct ON ct.tenant_id = ev.tenant_id AND ct.id = ev.contact_id
    WHERE ct.id = p_contact_id AND ev.contact_id = p_contact_id
$$;
COMMENT ON FUNCTION campaigns.contact_timeline(uuid) IS
    'One contact''s history, one row per item (unordered; sort by occurred_at DESC): kind enrollment (occurred_at = enrolled_at; status, exit_reason, ended_at = completed or exited time), message (occurred_at = queued_at; status, subject, sent_at, smtp_reply = the relay''s last reply, last_error) email_event (occurred_at; event_type: delivered, open, click, reply, bounce_hard, bounce_soft, complaint, unsubscribe), each with its campaign, enrollment, step and message ids, and contact_event (an application''s event: occurred_at, event_type = its name; no campaign). Runs as the caller: under Row Level Security a tenant sees its own contact only; an unknown contact gives no rows.';
