-- Outgoing webhooks, the events: the facts that fan out into the webhook_deliveries outbox.
--
-- Events are taken where the facts are written, by triggers, so every path that changes them (the
-- engine, the API, a DBA by hand) is told the same way:
--   email_events INSERT         -> message.delivered/.opened/.clicked/.replied/.bounced/.complained/.unsubscribed
--   email_messages status sent  -> message.sent
--   campaign_contacts           -> enrollment.started (INSERT), .completed, .exited (status change)
--   campaigns status            -> campaign.launched, .paused (with the alert of an auto-pause), .completed
--   ab_tests winner deployed    -> ab_test.decided
-- The high-volume tables use statement triggers over transition tables (one set-based INSERT per
-- statement, and nothing but one probe of the subscriptions when no tenant subscribes); campaigns
-- and A/B tests use row triggers deferred to commit.

-- The deliveries for a set of events: one per event and enabled subscription of its tenant that
-- wants its type. Each event is (tenant, webhook-id, type, time, data).
CREATE OR REPLACE FUNCTION campaigns._enqueue_webhooks(p_events jsonb)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_count integer;
BEGIN
    INSERT INTO campaigns.webhook_deliveries (tenant_id, subscription_id, event_id, event_type, payload, next_attempt_at,
                                              created_at, expires_at)
    SELECT s.tenant_id, s.id, e.event_id, e.type,
           jsonb_build_object('type', e.type, 'timestamp', e.at, 'data', e.data), now(), now(), now() + interval '3 days'
    FROM jsonb_to_recordset(p_events) AS e(tenant_id uuid, event_id text, type text, at timestamptz, data jsonb)
    JOIN campaigns.webhook_subscriptions s ON s.tenant_id = e.tenant_id AND s.enabled AND e.type = ANY (s.event_types);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count > 0 THEN
        PERFORM pg_notify('campaigns_webhooks', '');
    END IF;
    RETURN v_count;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._webhooks_wanted(p_types text[])
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    -- The cheap guard of every event trigger: does any enabled subscription want one of these types?
    SELECT EXISTS (SELECT FROM campaigns.webhook_subscriptions s WHERE s.enabled AND s.event_types && p_types)
$$;

CREATE OR REPLACE FUNCTION campaigns._webhooks_on_email_events()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    IF NOT campaigns._webhooks_wanted(ARRAY['message.delivered', 'message.opened', 'message.clicked', 'message.replied',
                                            'message.bounced', 'message.complained', 'message.unsubscribed']) THEN
        RETURN NULL;
    END IF;
    PERFORM campaigns._enqueue_webhooks(coalesce(jsonb_agg(jsonb_build_object(
        'tenant_id', e.tenant_id, 'event_id', 'evt_' || e.id, 'at', e.occurred_at,
        'type', CASE e.event_type WHEN 'delivered' THEN 'message.delivered' WHEN 'open' THEN 'message.opened'
                                  WHEN 'click' THEN 'message.clicked' WHEN 'reply' THEN 'message.replied'
                                  WHEN 'bounce_hard' THEN 'message.bounced' WHEN 'bounce_soft' THEN 'message.bounced'
                                  WHEN 'complaint' THEN 'message.complained' ELSE 'message.unsubscribed' END,
        'data', jsonb_build_object(
            'message_id', e.message_id, 'campaign_id', e.campaign_id, 'step_id', e.step_id,
            'enrollment_id', m.enrollment_id, 'contact_id', e.contact_id, 'email', m.to_email,
            'event_type', e.event_type, 'occurred_at', e.occurred_at, 'details', e.details))), '[]'))
    FROM new_events e
    JOIN campaigns.email_messages m ON m.tenant_id = e.tenant_id AND m.id = e.message_id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._webhooks_on_messages_sent()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    IF NOT campaigns._webhooks_wanted(ARRAY['message.sent']) THEN
        RETURN NULL;
    END IF;
    PERFORM campaigns._enqueue_webhooks(coalesce(jsonb_agg(jsonb_build_object(
        'tenant_id', n.tenant_id, 'event_id', 'msg_sent_' || n.id, 'type', 'message.sent', 'at', n.sent_at,
        'data', jsonb_build_object(
            'message_id', n.id, 'campaign_id', n.campaign_id, 'step_id', n.step_id, 'enrollment_id', n.enrollment_id,
            'contact_id', n.contact_id, 'email', n.to_email, 'subject', n.subject, 'smtp_message_id', n.smtp_message_id,
            'sent_at', n.sent_at, 'smtp_reply', n.smtp_response))), '[]'))
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.status = 'sent' AND o.status <> 'sent';
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._webhooks_on_enrollments()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    IF NOT campaigns._webhooks_wanted(ARRAY['enrollment.started', 'enrollment.completed', 'enrollment.exited']) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM campaigns._enqueue_webhooks(coalesce(jsonb_agg(jsonb_build_object(
            'tenant_id', n.tenant_id, 'event_id', 'enr_started_' || n.id, 'type', 'enrollment.started', 'at', n.enrolled_at,
            'data', jsonb_build_object('enrollment_id', n.id, 'campaign_id', n.campaign_id, 'contact_id', n.contact_id,
                                       'email', c.email, 'status', n.status, 'enrolled_at', n.enrolled_at))), '[]'))
        FROM new_rows n
        JOIN campaigns.contacts c ON c.tenant_id = n.tenant_id AND c.id = n.contact_id;
    ELSE
        PERFORM campaigns._enqueue_webhooks(coalesce(jsonb_agg(jsonb_build_object(
            'tenant_id', n.tenant_id, 'event_id', 'enr_' || n.status || '_' || n.id, 'type', 'enrollment.' || n.status,
            'at', coalesce(n.completed_at, n.exited_at),
            'data', jsonb_build_object('enrollment_id', n.id, 'campaign_id', n.campaign_id, 'contact_id', n.contact_id,
                                       'email', c.email, 'status', n.status, 'exit_reason', n.exit_reason,
                                       'steps_completed', n.steps_completed,
                                       'ended_at', coalesce(n.completed_at, n.exited_at)))), '[]'))
        FROM new_rows n
        JOIN old_rows o ON o.id = n.id
        JOIN campaigns.contacts c ON c.tenant_id = n.tenant_id AND c.id = n.contact_id
        WHERE n.status IN ('completed', 'exited') AND o.status <> n.status;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._webhooks_on_campaigns()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_type  text;
    v_alert jsonb;
BEGIN
    -- Deferred to commit: NEW is the row as this statement left it; the campaign's status now is
    -- what counts (a launch and a pause in one transaction tell both).
    v_type := CASE WHEN NEW.status = 'active' AND OLD.status IN ('draft', 'scheduled') THEN 'campaign.launched'
                   WHEN NEW.status = 'paused' AND OLD.status <> 'paused' THEN 'campaign.paused'
                   WHEN NEW.status = 'completed' AND OLD.status <> 'completed' THEN 'campaign.completed' END;
    IF v_type IS NULL OR NOT campaigns._webhooks_wanted(ARRAY[v_type]) THEN
        RETURN NULL;
    END IF;
    IF v_type = 'campaign.paused' THEN
        -- An auto-pause leaves its alert in a transaction-local setting (check_deliverability).
        v_alert := coalesce(nullif(current_setting('campaigns.pause_alerts', true), ''), '{}')::jsonb -> NEW.id::text;
    END IF;
    PERFORM campaigns._enqueue_webhooks(jsonb_build_array(jsonb_build_object(
        'tenant_id', NEW.tenant_id, 'event_id', 'cmp_' || split_part(v_type, '.', 2) || '_' || NEW.id || '_' || txid_current(),
        'type', v_type, 'at', now(),
        'data', jsonb_build_object('campaign_id', NEW.id, 'name', NEW.name, 'status', NEW.status,
                                   'reason', CASE WHEN v_type <> 'campaign.paused' THEN NULL
                                                  WHEN v_alert IS NULL THEN 'manual' ELSE 'alert' END,
                                   'alert', v_alert))));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._webhooks_on_ab_tests()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    IF NOT (NEW.status = 'winner_deployed' AND OLD.status <> 'winner_deployed')
       OR NOT campaigns._webhooks_wanted(ARRAY['ab_test.decided']) THEN
        RETURN NULL;
    END IF;
    PERFORM campaigns._enqueue_webhooks(jsonb_build_array(jsonb_build_object(
        'tenant_id', NEW.tenant_id, 'event_id', 'abt_decided_' || NEW.id, 'type', 'ab_test.decided', 'at', NEW.decided_at,
        'data', jsonb_build_object('ab_test_id', NEW.id, 'campaign_id', NEW.campaign_id, 'step_id', NEW.step_id,
                                   'decision', NEW.decision, 'winner_variant_id', NEW.winner_variant_id,
                                   'winner_variant_name', (SELECT v.variant_name FROM campaigns.ab_test_variants v
                                                           WHERE v.tenant_id = NEW.tenant_id AND v.id = NEW.winner_variant_id),
                                   'decided_at', NEW.decided_at))));
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER trg_email_events_webhooks AFTER INSERT ON campaigns.email_events
    REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION campaigns._webhooks_on_email_events();
CREATE OR REPLACE TRIGGER trg_email_messages_webhooks AFTER UPDATE ON campaigns.email_messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaigns._webhooks_on_messages_sent();
CREATE OR REPLACE TRIGGER trg_campaign_contacts_webhooks_insert AFTER INSERT ON campaigns.campaign_contacts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaigns._webhooks_on_enrollments();
CREATE OR REPLACE TRIGGER trg_campaign_contacts_webhooks_update AFTER UPDATE ON campaigns.campaign_contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaigns._webhooks_on_enrollments();
-- Constraint triggers cannot be replaced in place: dropped and created again on every migrate.
DROP TRIGGER IF EXISTS trg_campaigns_webhooks ON campaigns.campaigns;
CREATE CONSTRAINT TRIGGER trg_campaigns_webhooks AFTER UPDATE OF status ON campaigns.campaigns
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION campaigns._webhooks_on_campaigns();
DROP TRIGGER IF EXISTS trg_ab_tests_webhooks ON campaigns.ab_tests;
CREATE CONSTRAINT TRIGGER trg_ab_tests_webhooks AFTER UPDATE OF status ON campaigns.ab_tests
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION campaigns._webhooks_on_ab_tests();

