-- Campaigns as they are edited: create, update with the editing rules of each status, delete (drafts
-- only) and clone. These run as the caller: through the API, Row Level Security confines them to the
-- API transaction's tenant (another tenant's campaign is simply not found, QC404).

-- The fields of a campaign document, in two parts: those editable while the campaign runs (active,
-- paused), its name and settings; and its structure, editable only before launch (draft, scheduled):
-- what decides who is enrolled and how. create_campaign takes both.
CREATE OR REPLACE FUNCTION campaigns._campaign_settings()
RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog
AS $$
    SELECT ARRAY[
        'name', 'description', 'end_date', 'timezone', 'track_opens', 'track_clicks', 'unsubscribe_enabled',
        'daily_limit', 'sending_days', 'sending_window_start', 'sending_window_end', 'window_missed_action',
        'on_reply', 'from_name', 'reply_to_email', 'refresh_audience', 'reentry', 'trigger_event', 'trigger_filter',
        'exit_events']
$$;

CREATE OR REPLACE FUNCTION campaigns._campaign_structure()
RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog
AS $$
    SELECT ARRAY[
        'campaign_type', 'workspace_id', 'segment_id', 'sender_account_id', 'from_email', 'start_date',
        'send_strategy', 'requires_approval', 'is_promotional']
$$;

CREATE OR REPLACE FUNCTION campaigns.create_campaign(p_campaign jsonb, p_as_of timestamptz DEFAULT now())
RETURNS campaigns.campaigns
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    c_fields CONSTANT text[] := campaigns._campaign_settings() || campaigns._campaign_structure();
    v_keys     text[] := campaigns._json_keys(p_campaign, c_fields, 'campaign');
    v_campaign campaigns.campaigns;
BEGIN
    PERFORM campaigns._check_timezone(p_campaign->>'timezone');
    -- A campaign created in a workspace without a timezone of its own takes the workspace's.
    IF NOT p_campaign ? 'timezone' AND p_campaign->>'workspace_id' IS NOT NULL THEN
        p_campaign := p_campaign || coalesce((
            SELECT jsonb_build_object('timezone', w.timezone) FROM campaigns.workspaces w
            WHERE w.id = (p_campaign->>'workspace_id')::uuid), '{}');
        v_keys := campaigns._json_keys(p_campaign, c_fields, 'campaign');
    END IF;
    IF (p_campaign->>'end_date')::timestamptz <= p_as_of THEN
        RAISE EXCEPTION USING ERRCODE = 'QC301', MESSAGE = 'end_date must be in the future',
            DETAIL = format('end_date=%s', p_campaign->>'end_date');
    END IF;
    -- Only the given columns are written, so every other one takes its table default; the values
    -- are typed by jsonb_populate_record, never spliced into the statement.
    EXECUTE format(
        'INSERT INTO campaigns.campaigns (tenant_id, created_by%s) SELECT $2, $3%s FROM jsonb_populate_record(NULL::campaigns.campaigns, $1) r RETURNING *',
        (SELECT string_agg(format(', %I', k), '') FROM unnest(v_keys) k),
        (SELECT string_agg(format(', r.%I', k), '') FROM unnest(v_keys) k))
    INTO v_campaign
    USING p_campaign, campaigns.current_tenant_id(), campaigns.current_user_id();
    RETURN v_campaign;
END
$$;
COMMENT ON FUNCTION campaigns.create_campaign(jsonb, timestamptz) IS
    'Creates a draft campaign of the current tenant from the fields in p_campaign (absent ones take their defaults: drip, immediate, the workspace''s timezone or else UTC, tracking and unsubscribe on), created_by = the API caller. QC302 for a bad timezone, QC301 for an end_date not in the future; a segment or sender of another tenant fails its foreign key.';

CREATE OR REPLACE FUNCTION campaigns.update_campaign(p_campaign_id uuid, p_changes jsonb, p_as_of timestamptz DEFAULT now())
RETURNS campaigns.campaigns
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    c_structure CONSTANT text[] := campaigns._campaign_structure();
    v_keys     text[] := campaigns._json_keys(p_changes, campaigns._campaign_settings() || c_structure, 'campaign');
    v_campaign campaigns.campaigns;
    v_blocked  text[];
BEGIN
    SELECT * INTO v_campaign FROM campaigns.campaigns WHERE id = p_campaign_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found', DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    IF v_campaign.status = 'completed' THEN
        RAISE EXCEPTION USING ERRCODE = 'QC205', MESSAGE = 'a completed campaign cannot be edited',
            DETAIL = format('campaign_id=%s', p_campaign_id), HINT = 'Clone it to send again.';
    END IF;
    IF v_campaign.status IN ('active', 'paused') THEN
        v_blocked := ARRAY(SELECT k FROM unnest(v_keys) k WHERE k = ANY (c_structure));
        IF cardinality(v_blocked) > 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'QC205',
                MESSAGE = format('cannot change %s of a %s campaign', array_to_string(v_blocked, ', '), v_campaign.status),
                DETAIL = format('campaign_id=%s status=%s', p_campaign_id, v_campaign.status),
                HINT = 'Only the name, description and settings change after launch; clone the campaign for the rest.';
        END IF;
    END IF;
    PERFORM campaigns._check_timezone(p_changes->>'timezone');
    IF p_changes ? 'timezone' AND p_changes->'timezone' = 'null'::jsonb THEN
        RAISE EXCEPTION USING ERRCODE = 'QC302', MESSAGE = 'a campaign always has a timezone';
    END IF;
    IF (p_changes->>'end_date')::timestamptz <= p_as_of THEN
        RAISE EXCEPTION USING ERRCODE = 'QC301', MESSAGE = 'end_date must be in the future',
            DETAIL = format('end_date=%s', p_changes->>'end_date');
    END IF;
    RETURN campaigns._update_keys(v_campaign, p_changes, v_keys);
END
$$;
COMMENT ON FUNCTION campaigns.update_campaign(uuid, jsonb, timestamptz) IS
    'Applies the fields present in p_changes. completed: nothing may change (QC205). active / paused: name, description and settings (end_date, timezone, tracking, unsubscribe, daily_limit, sending window, window_missed_action, on_reply, from_name, reply_to_email, refresh_audience, reentry, trigger_event, trigger_filter, exit_events); the audience, sender, type, start and approval fields only while draft or scheduled (QC205). QC301 for an end_date not in the future, QC302 for a bad timezone, QC404 when not visible.';

CREATE OR REPLACE FUNCTION campaigns.delete_campaign(p_campaign_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_campaign campaigns.campaigns;
BEGIN
    SELECT * INTO v_campaign FROM campaigns.campaigns WHERE id = p_campaign_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found', DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    IF v_campaign.status <> 'draft' THEN
        RAISE EXCEPTION USING ERRCODE = 'QC205', MESSAGE = format('only a draft campaign can be deleted (this one is %s)', v_campaign.status),
            DETAIL = format('campaign_id=%s status=%s', p_campaign_id, v_campaign.status),
            HINT = 'Cancel a schedule first; a launched campaign keeps its history.';
    END IF;
    DELETE FROM campaigns.campaigns WHERE id = p_campaign_id;
END
$$;
COMMENT ON FUNCTION campaigns.delete_campaign(uuid) IS
    'Deletes a draft campaign with its steps and approvals; any other status is refused (QC205) so sent history is never lost. QC404 when not visible.';

CREATE OR REPLACE FUNCTION campaigns.clone_campaign(p_campaign_id uuid)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_source campaigns.campaigns;
    v_new_id uuid := gen_random_uuid();
    -- The caller (set by the API per request); a DBA's clone keeps the original's creator.
    v_caller uuid := NULLIF(current_setting('campaigns.user_id', true), '')::uuid;
    -- Old and new ids of the steps and A/B tests (element i of one pairs with element i of the other).
    v_old_steps uuid[];
    v_new_steps uuid[];
    v_old_tests uuid[];
    v_new_tests uuid[];
BEGIN
    SELECT * INTO v_source FROM campaigns.campaigns WHERE id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found', DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    INSERT INTO campaigns.campaigns (
        id, tenant_id, workspace_id, name, description, campaign_type, status, segment_id, sender_account_id,
        from_email, from_name, reply_to_email, start_date, end_date, timezone, send_strategy, track_opens,
        track_clicks, unsubscribe_enabled, daily_limit, sending_days, sending_window_start, sending_window_end,
        window_missed_action, on_reply, requires_approval, is_promotional, refresh_audience, reentry, trigger_event,
        trigger_filter, exit_events, created_by)
    SELECT v_new_id, tenant_id, workspace_id, left(name || ' (Copy)', 255), description, campaign_type, 'draft',
        segment_id, sender_account_id, from_email, from_name, reply_to_email, start_date, end_date, timezone,
        send_strategy, track_opens, track_clicks, unsubscribe_enabled, daily_limit, sending_days,
        sending_window_start, sending_window_end, window_missed_action, on_reply, requires_approval,
        is_promotional, refresh_audience, reentry, trigger_event, trigger_filter, exit_events, coalesce(v_caller, created_by)
    FROM campaigns.campaigns WHERE id = p_campaign_id;

    -- New ids first, so every target (next, true, false, scope) maps to the copy, never the original.
    SELECT array_agg(s.id), array_agg(gen_random_uuid()) INTO v_old_steps, v_new_steps
    FROM campaigns.campaign_steps s
    WHERE s.tenant_id = v_source.tenant_id AND s.campaign_id = p_campaign_id;
    WITH map AS (
        SELECT * FROM unnest(v_old_steps, v_new_steps) AS m(old_id, new_id)
    )
    INSERT INTO campaigns.campaign_steps (
        id, tenant_id, campaign_id, step_order, step_name, step_type, template_id, subject_line, email_content,
        wait_duration_value, wait_duration_unit, condition_rules, email_step_id, true_next_step_id,
        false_next_step_id, action_type, action_config, next_step_id)
    SELECT m.new_id, s.tenant_id, v_new_id, s.step_order, s.step_name, s.step_type, s.template_id, s.subject_line,
        s.email_content, s.wait_duration_value, s.wait_duration_unit, s.condition_rules,
        (SELECT new_id FROM map WHERE old_id = s.email_step_id),
        (SELECT new_id FROM map WHERE old_id = s.true_next_step_id),
        (SELECT new_id FROM map WHERE old_id = s.false_next_step_id),
        s.action_type, s.action_config,
        (SELECT new_id FROM map WHERE old_id = s.next_step_id)
    FROM campaigns.campaign_steps s JOIN map m ON m.old_id = s.id;

    -- A/B tests come along as drafts (settings and variants; no sample, decision or winner), on the
    -- copies of their steps.
    SELECT array_agg(t.id), array_agg(gen_random_uuid()) INTO v_old_tests, v_new_tests
    FROM campaigns.ab_tests t
    WHERE t.tenant_id = v_source.tenant_id AND t.campaign_id = p_campaign_id;
    INSERT INTO campaigns.ab_tests (
        id, tenant_id, campaign_id, step_id, test_name, sample_percent, duration_hours, win_metric,
        confidence_threshold, minimum_sample_size, if_no_winner)
    SELECT tm.new_id, t.tenant_id, v_new_id, sm.new_id, t.test_name, t.sample_percent, t.duration_hours,
        t.win_metric, t.confidence_threshold, t.minimum_sample_size, t.if_no_winner
    FROM campaigns.ab_tests t
    JOIN unnest(v_old_tests, v_new_tests) AS tm(old_id, new_id) ON tm.old_id = t.id
    JOIN unnest(v_old_steps, v_new_steps) AS sm(old_id, new_id) ON sm.old_id = t.step_id;
    INSERT INTO campaigns.ab_test_variants (
        tenant_id, ab_test_id, variant_name, is_control, subject_line, email_content, sender_name, sender_email)
    SELECT v.tenant_id, tm.new_id, v.variant_name, v.is_control, v.subject_line, v.email_content, v.sender_name,
        v.sender_email
    FROM campaigns.ab_test_variants v
    JOIN unnest(v_old_tests, v_new_tests) AS tm(old_id, new_id) ON tm.old_id = v.ab_test_id
    WHERE v.tenant_id = v_source.tenant_id;
    RETURN v_new_id;
END
$$;
COMMENT ON FUNCTION campaigns.clone_campaign(uuid) IS
    'Copies a campaign as a draft named "<name> (Copy)" with its steps under new ids (branch, next and scope targets remapped to the copies), counters zeroed, and its A/B tests as drafts with their variants (settings kept; no sample, decision or winner); no enrollments, analytics or approvals. created_by is the caller (campaigns.user_id setting) or the original''s creator. Returns the new id.';
