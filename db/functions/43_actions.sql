-- Action steps: tags, fields, score, exit, move to another campaign, notify and webhook, applied
-- set-based to the processing run's working set.

CREATE OR REPLACE FUNCTION campaigns._run_action_steps(p_as_of timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
-- Batch plans over temp tables are badly estimated; JIT compiling them cost more than it saved.
SET jit = off
AS $$
DECLARE
    v_hooks bigint;
BEGIN
    -- The rows of the working set standing on an action step, with the step's configuration.
    IF to_regclass('pg_temp._due_actions') IS NULL THEN
    CREATE TEMP TABLE _due_actions (
        enrollment_id uuid, tenant_id uuid, campaign_id uuid, contact_id uuid,
        step_id uuid, action_type text, config jsonb, next_step_id uuid
    ) ON COMMIT DROP;
    END IF;
    TRUNCATE pg_temp._due_actions;
    INSERT INTO pg_temp._due_actions
    SELECT w.enrollment_id, w.tenant_id, w.campaign_id, w.contact_id, s.id, s.action_type, s.action_config, s.next_step_id
    FROM pg_temp._due_work w
    JOIN campaigns.campaign_steps s ON s.id = w.step_id
    WHERE w.status = 'run' AND NOT w.emailed AND s.step_type = 'action';
    IF NOT FOUND THEN
        RETURN;
    END IF;

    -- Contact changes are aggregated per contact: one contact may stand in several campaigns' batches.
    UPDATE campaigns.contacts c
    SET tags = ARRAY(SELECT DISTINCT t FROM unnest(c.tags || a.add_tags) t
                     WHERE t <> ALL (a.remove_tags) ORDER BY t),
        score = c.score + a.delta
    FROM (SELECT tenant_id, contact_id,
                 coalesce(array_agg(config->>'tag') FILTER (WHERE action_type = 'add_tag'), '{}') AS add_tags,
                 coalesce(array_agg(config->>'tag') FILTER (WHERE action_type = 'remove_tag'), '{}') AS remove_tags,
                 coalesce(sum((config->>'delta')::integer) FILTER (WHERE action_type = 'adjust_score'), 0) AS delta
          FROM pg_temp._due_actions
          WHERE action_type IN ('add_tag', 'remove_tag', 'adjust_score')
          GROUP BY tenant_id, contact_id) a
    WHERE c.tenant_id = a.tenant_id AND c.id = a.contact_id;

    UPDATE campaigns.contacts c
    SET first_name = CASE WHEN a.field = 'first_name' THEN a.value ELSE c.first_name END,
        last_name  = CASE WHEN a.field = 'last_name'  THEN a.value ELSE c.last_name END,
        company    = CASE WHEN a.field = 'company'    THEN a.value ELSE c.company END,
        job_title  = CASE WHEN a.field = 'job_title'  THEN a.value ELSE c.job_title END,
        city       = CASE WHEN a.field = 'city'       THEN a.value ELSE c.city END,
        state      = CASE WHEN a.field = 'state'      THEN a.value ELSE c.state END,
        country    = CASE WHEN a.field = 'country'    THEN a.value ELSE c.country END,
        custom_fields = CASE WHEN a.field ~ '^(custom|customField)\.'
            THEN jsonb_set(c.custom_fields, ARRAY[regexp_replace(a.field, '^(custom|customField)\.', '')], a.json_value)
            ELSE c.custom_fields END
    FROM (SELECT DISTINCT ON (tenant_id, contact_id) tenant_id, contact_id,
                 config->>'field' AS field, config->>'value' AS value, config->'value' AS json_value
          FROM pg_temp._due_actions WHERE action_type = 'update_field'
          ORDER BY tenant_id, contact_id, enrollment_id) a
    WHERE c.tenant_id = a.tenant_id AND c.id = a.contact_id;

    -- webhook: one delivery per enrollment into the webhook outbox (82_webhook_outbox.sql), to the
    -- step's URL; the enrollment advances at once and the sender POSTs it, signed with the tenant's
    -- action secret. Taken after the contact changes above, so it carries the contact as it is now.
    WITH hooks AS (
        INSERT INTO campaigns.webhook_deliveries (id, tenant_id, event_id, event_type, payload, url, step_id, enrollment_id,
                                                  on_failure, next_attempt_at, created_at, expires_at)
        SELECT h.id, h.tenant_id, 'evt_' || h.id, 'action.webhook',
               jsonb_build_object('type', 'action.webhook', 'timestamp', p_as_of, 'data', jsonb_build_object(
                   'contact', jsonb_build_object(
                       'id', ct.id, 'email', ct.email, 'first_name', ct.first_name, 'last_name', ct.last_name,
                       'company', ct.company, 'job_title', ct.job_title, 'city', ct.city, 'state', ct.state,
                       'country', ct.country, 'timezone', ct.timezone, 'status', ct.status, 'score', ct.score,
                       'tags', to_jsonb(ct.tags), 'custom_fields', ct.custom_fields),
                   'enrollment', jsonb_build_object(
                       'id', cc.id, 'contact_id', cc.contact_id, 'entry', cc.entry, 'enrolled_at', cc.enrolled_at,
                       'steps_completed', w.steps_completed),
                   'campaign_id', h.campaign_id, 'step_id', h.step_id,
                   'payload', coalesce(h.config->'payload', '{}'::jsonb))),
               h.config->>'url', h.step_id, h.enrollment_id, coalesce(h.config->>'on_failure', 'continue'),
               p_as_of, p_as_of, p_as_of + interval '3 days'
        FROM (SELECT campaigns.uuid_v7() AS id, a.* FROM pg_temp._due_actions a WHERE a.action_type = 'webhook') h
        JOIN pg_temp._due_work w ON w.enrollment_id = h.enrollment_id
        JOIN campaigns.campaign_contacts cc ON cc.tenant_id = h.tenant_id AND cc.id = h.enrollment_id
        JOIN campaigns.contacts ct ON ct.tenant_id = h.tenant_id AND ct.id = h.contact_id
        RETURNING 1
    )
    SELECT count(*) INTO v_hooks FROM hooks;
    IF v_hooks > 0 THEN
        PERFORM pg_notify('campaigns_webhooks', '');
    END IF;

    -- move_to_campaign: enroll in the target (same tenant, not completed) at its first step, due now.
    WITH moved AS (
        INSERT INTO campaigns.campaign_contacts
            (tenant_id, campaign_id, contact_id, status, current_step_id, enrolled_at, next_email_scheduled_at)
        SELECT a.tenant_id, t.id, a.contact_id, 'enrolled', first_step.id, p_as_of, p_as_of
        FROM pg_temp._due_actions a
        JOIN campaigns.campaigns t ON t.tenant_id = a.tenant_id AND t.id = (a.config->>'campaign_id')::uuid
                                  AND t.status <> 'completed'
        CROSS JOIN LATERAL (SELECT s.id FROM campaigns.campaign_steps s
                            WHERE s.tenant_id = t.tenant_id AND s.campaign_id = t.id
                            ORDER BY s.step_order LIMIT 1) first_step
        WHERE a.action_type = 'move_to_campaign'
        ON CONFLICT ON CONSTRAINT uq_campaign_contacts_contact DO NOTHING
        RETURNING tenant_id, campaign_id
    )
    UPDATE campaigns.campaigns c SET total_contacts = c.total_contacts + m.n
    FROM (SELECT tenant_id, campaign_id, count(*) AS n FROM moved GROUP BY 1, 2) m
    WHERE c.tenant_id = m.tenant_id AND c.id = m.campaign_id;

    PERFORM pg_notify('campaigns_actions', json_build_object(
                'tenant_id', a.tenant_id, 'campaign_id', a.campaign_id, 'contact_id', a.contact_id,
                'enrollment_id', a.enrollment_id, 'config', a.config)::text)
    FROM pg_temp._due_actions a WHERE a.action_type = 'notify';

    UPDATE pg_temp._due_work w
    SET status = CASE WHEN a.action_type IN ('exit', 'move_to_campaign') THEN 'exited' ELSE w.status END,
        exit_reason = CASE a.action_type
            WHEN 'exit' THEN coalesce(nullif(a.config->>'reason', ''), 'exit_action')
            WHEN 'move_to_campaign' THEN 'moved_to_campaign'
            ELSE w.exit_reason END,
        step_id = CASE WHEN a.action_type IN ('exit', 'move_to_campaign') THEN w.step_id ELSE a.next_step_id END
    FROM pg_temp._due_actions a
    WHERE w.enrollment_id = a.enrollment_id;
END
$$;
