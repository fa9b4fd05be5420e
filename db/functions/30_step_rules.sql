-- Campaign steps as saved: the 20-step limit, condition rules and action configurations, same-campaign
-- targets, and no cycle through an email step, enforced by triggers on campaign_steps.

CREATE OR REPLACE FUNCTION campaigns._raise_invalid_rule(p_errcode text, p_message text, p_step_id uuid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = p_errcode, MESSAGE = p_message, DETAIL = format('step_id=%s', p_step_id);
END
$$;

CREATE OR REPLACE FUNCTION campaigns._condition_rules_error(p_rules jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog
AS $$
    -- NULL when the rules are valid, else what is wrong with them.
    SELECT CASE
        WHEN jsonb_typeof(p_rules) <> 'object' THEN 'condition_rules must be an object'
        WHEN p_rules->>'type' IN ('email_opened', 'email_clicked', 'email_replied') THEN NULL
        WHEN p_rules->>'type' = 'lead_score' THEN
            CASE WHEN jsonb_typeof(p_rules->'threshold') = 'number' THEN NULL ELSE 'lead_score needs a numeric threshold' END
        WHEN p_rules->>'type' = 'contact_attribute' THEN
            CASE
                WHEN jsonb_typeof(p_rules->'field') <> 'string' OR NOT (
                        p_rules->>'field' IN ('email', 'first_name', 'last_name', 'company', 'job_title', 'city',
                                              'state', 'country', 'timezone', 'status', 'score')
                        OR p_rules->>'field' ~ '^(custom|customField|event)\.[A-Za-z0-9_\-]+$')
                    THEN 'contact_attribute needs a standard field, custom.<name> or event.<name>'
                WHEN NOT coalesce(p_rules->>'operator' IN ('equals', 'not_equals', 'contains', 'greater_than',
                                                           'less_than', 'in', 'not_in'), false)
                    THEN 'unknown contact_attribute operator'
                WHEN p_rules->>'operator' IN ('in', 'not_in') AND jsonb_typeof(p_rules->'value') <> 'array'
                    THEN 'in / not_in need an array value'
                WHEN p_rules->>'operator' NOT IN ('in', 'not_in')
                     AND coalesce(jsonb_typeof(p_rules->'value'), 'null') NOT IN ('string', 'number', 'boolean')
                    THEN 'the operator needs a scalar value'
                ELSE NULL
            END
        ELSE 'unknown condition type'
    END
$$;

CREATE OR REPLACE FUNCTION campaigns._action_config_error(p_tenant_id uuid, p_campaign_id uuid, p_action text, p_config jsonb)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    SELECT CASE p_action
        WHEN 'add_tag' THEN CASE WHEN length(p_config->>'tag') > 0 THEN NULL ELSE 'add_tag needs a tag' END
        WHEN 'remove_tag' THEN CASE WHEN length(p_config->>'tag') > 0 THEN NULL ELSE 'remove_tag needs a tag' END
        WHEN 'update_field' THEN
            CASE WHEN (p_config->>'field' IN ('first_name', 'last_name', 'company', 'job_title', 'city', 'state', 'country')
                       OR p_config->>'field' ~ '^(custom|customField)\.[A-Za-z0-9_\-]+$')
                      AND p_config ? 'value'
                 THEN NULL ELSE 'update_field needs a writable field and a value' END
        WHEN 'adjust_score' THEN
            CASE WHEN jsonb_typeof(p_config->'delta') = 'number' AND (p_config->>'delta') ~ '^-?[0-9]+$'
                 THEN NULL ELSE 'adjust_score needs an integer delta' END
        WHEN 'exit' THEN
            CASE WHEN p_config->'reason' IS NULL OR jsonb_typeof(p_config->'reason') = 'string'
                 THEN NULL ELSE 'exit reason must be a string' END
        WHEN 'notify' THEN NULL
        WHEN 'move_to_campaign' THEN
            CASE WHEN coalesce((p_config->>'campaign_id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', true)
                     THEN 'move_to_campaign needs a campaign_id'
                 WHEN (p_config->>'campaign_id')::uuid = p_campaign_id THEN 'move_to_campaign cannot target its own campaign'
                 ELSE NULL END
        WHEN 'webhook' THEN
            CASE WHEN jsonb_typeof(p_config->'url') IS DISTINCT FROM 'string' OR p_config->>'url' !~ '^https?://[^/?#\s]+\S*$'
                      OR length(p_config->>'url') > 2048
                     THEN 'webhook needs an http(s) url of at most 2048 characters'
                 WHEN p_config ? 'payload' AND (jsonb_typeof(p_config->'payload') <> 'object'
                                               OR octet_length((p_config->'payload')::text) > 65536)
                     THEN 'webhook payload must be an object of at most 64 KB'
                 WHEN p_config ? 'on_failure' AND coalesce(p_config->>'on_failure' NOT IN ('continue', 'exit'), true)
                     THEN 'webhook on_failure must be continue or exit'
                 ELSE NULL END
        ELSE 'unknown action type'
    END
$$;

CREATE OR REPLACE FUNCTION campaigns._validate_campaign_graph(p_tenant_id uuid, p_campaign_id uuid, p_errcode text DEFAULT 'QC204')
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_email_step uuid;
BEGIN
    -- Walk every edge from each email step; reaching the same email step again means some
    -- enrollment could be sent that email twice. At most 20 steps, so paths stay short.
    WITH RECURSIVE edges AS (
        SELECT s.id AS src, t.dst
        FROM campaigns.campaign_steps s
        CROSS JOIN LATERAL (VALUES (s.next_step_id), (s.true_next_step_id), (s.false_next_step_id)) AS t(dst)
        WHERE s.tenant_id = p_tenant_id AND s.campaign_id = p_campaign_id AND t.dst IS NOT NULL
    ), walk (origin, node, path) AS (
        SELECT s.id, e.dst, ARRAY[s.id]
        FROM campaigns.campaign_steps s JOIN edges e ON e.src = s.id
        WHERE s.tenant_id = p_tenant_id AND s.campaign_id = p_campaign_id AND s.step_type = 'email'
        UNION ALL
        SELECT w.origin, e.dst, w.path || w.node
        FROM walk w JOIN edges e ON e.src = w.node
        WHERE w.node <> w.origin AND NOT w.node = ANY (w.path)
    )
    SELECT origin INTO v_email_step FROM walk WHERE node = origin LIMIT 1;
    IF v_email_step IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = p_errcode,
            MESSAGE = 'the steps form a cycle through an email step, which could send it twice',
            DETAIL = format('campaign_id=%s email_step_id=%s', p_campaign_id, v_email_step),
            HINT = 'Point next_step_id / branch targets forward, or end the branch.';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._validate_step()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_error text;
BEGIN
    -- Serialise step changes per campaign so the 20-step limit holds under concurrent inserts.
    PERFORM FROM campaigns.campaigns WHERE tenant_id = NEW.tenant_id AND id = NEW.campaign_id FOR NO KEY UPDATE;
    IF (SELECT count(*) FROM campaigns.campaign_steps
        WHERE tenant_id = NEW.tenant_id AND campaign_id = NEW.campaign_id) > 20 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC201', MESSAGE = 'a campaign may have at most 20 steps',
            DETAIL = format('campaign_id=%s', NEW.campaign_id);
    END IF;

    IF NEW.email_step_id IS NOT NULL AND NOT EXISTS (
            SELECT FROM campaigns.campaign_steps WHERE id = NEW.email_step_id AND step_type = 'email') THEN
        PERFORM campaigns._raise_invalid_rule('QC203', 'email_step_id must name an email step of the same campaign', NEW.id);
    END IF;
    -- An email step that a condition is scoped to cannot stop being an email step.
    IF TG_OP = 'UPDATE' AND OLD.step_type = 'email' AND NEW.step_type <> 'email' AND EXISTS (
            SELECT FROM campaigns.campaign_steps
            WHERE tenant_id = NEW.tenant_id AND campaign_id = NEW.campaign_id AND email_step_id = NEW.id) THEN
        PERFORM campaigns._raise_invalid_rule('QC203', 'a condition is scoped to this email step', NEW.id);
    END IF;

    IF NEW.step_type = 'condition' THEN
        v_error := campaigns._condition_rules_error(NEW.condition_rules);
    ELSIF NEW.step_type = 'action' THEN
        v_error := campaigns._action_config_error(NEW.tenant_id, NEW.campaign_id, NEW.action_type, NEW.action_config);
        IF v_error IS NULL AND NEW.action_type = 'move_to_campaign' AND NOT EXISTS (
                SELECT FROM campaigns.campaigns
                WHERE tenant_id = NEW.tenant_id AND id = (NEW.action_config->>'campaign_id')::uuid) THEN
            PERFORM campaigns._raise_invalid_rule('QC203', 'move_to_campaign must name a campaign of the same tenant', NEW.id);
        END IF;
    END IF;
    IF v_error IS NOT NULL THEN
        PERFORM campaigns._raise_invalid_rule('QC202', v_error, NEW.id);
    END IF;

    PERFORM campaigns._validate_campaign_graph(NEW.tenant_id, NEW.campaign_id, 'QC204');
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._check_step_targets()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_target uuid;
BEGIN
    -- A target that exists in another campaign gets the engine's SQLSTATE before the composite
    -- foreign key (which runs after this and would say 23503) can. A target that does not exist yet
    -- may be a row of the same statement (clone); the foreign key settles that at statement end.
    FOREACH v_target IN ARRAY ARRAY[NEW.next_step_id, NEW.true_next_step_id, NEW.false_next_step_id, NEW.email_step_id] LOOP
        CONTINUE WHEN v_target IS NULL;
        IF EXISTS (SELECT FROM campaigns.campaign_steps
                   WHERE id = v_target AND (tenant_id, campaign_id) IS DISTINCT FROM (NEW.tenant_id, NEW.campaign_id)) THEN
            PERFORM campaigns._raise_invalid_rule('QC203', 'a step target must be a step of the same campaign', NEW.id);
        END IF;
    END LOOP;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER trg_campaign_steps_targets
    BEFORE INSERT OR UPDATE OF campaign_id, email_step_id, next_step_id, true_next_step_id, false_next_step_id
    ON campaigns.campaign_steps
    FOR EACH ROW EXECUTE FUNCTION campaigns._check_step_targets();

-- AFTER the statement's rows are in place, so a set of steps inserted together (clone, import) may
-- point at one another.
CREATE OR REPLACE TRIGGER trg_campaign_steps_validate
    AFTER INSERT OR UPDATE OF campaign_id, step_type, condition_rules, email_step_id, action_type, action_config,
        next_step_id, true_next_step_id, false_next_step_id
    ON campaigns.campaign_steps
    FOR EACH ROW EXECUTE FUNCTION campaigns._validate_step();
