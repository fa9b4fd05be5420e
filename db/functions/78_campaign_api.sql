-- Campaigns and steps as the API edits them: create / update with the editing rules of each status,
-- delete (drafts only), lifecycle actions, scheduling by instant or local time, step create / update /
-- delete / reorder with the rules for running campaigns, a manual exit, and the analytics report.
-- All run as the caller, so Row Level Security confines them to the API transaction's tenant (another
-- tenant's campaign is simply not found, QC404). The rules are written down in docs/api.md.

CREATE OR REPLACE FUNCTION campaigns._json_keys(p_doc jsonb, p_allowed text[], p_what text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog
AS $$
DECLARE
    v_keys    text[];
    v_unknown text[];
BEGIN
    IF p_doc IS NULL OR jsonb_typeof(p_doc) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = format('%s must be a JSON object', p_what);
    END IF;
    SELECT coalesce(array_agg(k ORDER BY k), '{}'),
           coalesce(array_agg(k ORDER BY k) FILTER (WHERE k <> ALL (p_allowed)), '{}')
      INTO v_keys, v_unknown
    FROM jsonb_object_keys(p_doc) AS j(k);
    IF cardinality(v_unknown) > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = format('unknown %s field(s): %s', p_what, array_to_string(v_unknown, ', '));
    END IF;
    RETURN v_keys;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._check_timezone(p_timezone text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    IF p_timezone IS NOT NULL AND NOT EXISTS (SELECT FROM campaigns.timezone_names WHERE name = p_timezone) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC302', MESSAGE = 'not an IANA timezone name', DETAIL = format('timezone=%s', p_timezone),
            HINT = 'For example Europe/Paris or America/New_York.';
    END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Campaigns
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION campaigns.create_campaign(p_campaign jsonb, p_as_of timestamptz DEFAULT now())
RETURNS campaigns.campaigns
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    c_fields CONSTANT text[] := ARRAY[
        'name', 'description', 'campaign_type', 'workspace_id', 'segment_id', 'sender_account_id', 'from_email',
        'from_name', 'reply_to_email', 'start_date', 'end_date', 'timezone', 'send_strategy', 'track_opens',
        'track_clicks', 'unsubscribe_enabled', 'daily_limit', 'sending_days', 'sending_window_start',
        'sending_window_end', 'window_missed_action', 'on_reply', 'requires_approval', 'is_promotional',
        'refresh_audience'];
    v_keys     text[] := campaigns._json_keys(p_campaign, c_fields, 'campaign');
    v_campaign campaigns.campaigns;
BEGIN
    PERFORM campaigns._check_timezone(p_campaign->>'timezone');
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
    'Creates a draft campaign of the current tenant from the fields in p_campaign (absent ones take their defaults: drip, immediate, UTC, tracking and unsubscribe on), created_by = the API caller. QC302 for a bad timezone, QC301 for an end_date not in the future; a segment or sender of another tenant fails its foreign key.';

CREATE OR REPLACE FUNCTION campaigns.update_campaign(p_campaign_id uuid, p_changes jsonb, p_as_of timestamptz DEFAULT now())
RETURNS campaigns.campaigns
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    -- Editable while the campaign runs (active, paused): its name and settings.
    c_settings CONSTANT text[] := ARRAY[
        'name', 'description', 'end_date', 'timezone', 'track_opens', 'track_clicks', 'unsubscribe_enabled',
        'daily_limit', 'sending_days', 'sending_window_start', 'sending_window_end', 'window_missed_action',
        'on_reply', 'from_name', 'reply_to_email', 'refresh_audience'];
    -- Editable only before launch (draft, scheduled): what decides who is enrolled and how.
    c_structure CONSTANT text[] := ARRAY[
        'campaign_type', 'workspace_id', 'segment_id', 'sender_account_id', 'from_email', 'start_date',
        'send_strategy', 'requires_approval', 'is_promotional'];
    v_keys     text[] := campaigns._json_keys(p_changes, c_settings || c_structure, 'campaign');
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
    IF cardinality(v_keys) = 0 THEN
        RETURN v_campaign;
    END IF;
    EXECUTE format(
        'UPDATE campaigns.campaigns c SET %s FROM jsonb_populate_record(NULL::campaigns.campaigns, $1) r WHERE c.id = $2 RETURNING c.*',
        (SELECT string_agg(format('%1$I = r.%1$I', k), ', ') FROM unnest(v_keys) k))
    INTO v_campaign
    USING p_changes, p_campaign_id;
    RETURN v_campaign;
END
$$;
COMMENT ON FUNCTION campaigns.update_campaign(uuid, jsonb, timestamptz) IS
    'Applies the fields present in p_changes. completed: nothing may change (QC205). active / paused: name, description and settings (end_date, timezone, tracking, unsubscribe, daily_limit, sending window, window_missed_action, on_reply, from_name, reply_to_email, refresh_audience); the audience, sender, type, start and approval fields only while draft or scheduled (QC205). QC301 for an end_date not in the future, QC302 for a bad timezone, QC404 when not visible.';

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

CREATE OR REPLACE FUNCTION campaigns.run_campaign_action(p_campaign_id uuid, p_action text, p_as_of timestamptz DEFAULT now())
RETURNS TABLE (affected integer, campaign campaigns.campaigns)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
#variable_conflict use_column
DECLARE
    v_affected integer := 0;
    v_id       uuid := p_campaign_id;
    v_segment  uuid;
BEGIN
    CASE p_action
    WHEN 'launch', 'start' THEN
        -- A dynamic segment is materialised as of now first, so launch enrolls who matches today.
        SELECT s.id INTO v_segment
        FROM campaigns.campaigns c JOIN campaigns.segments s ON s.tenant_id = c.tenant_id AND s.id = c.segment_id
        WHERE c.id = p_campaign_id AND c.status IN ('draft', 'scheduled') AND s.segment_type = 'dynamic';
        IF v_segment IS NOT NULL THEN
            PERFORM campaigns.refresh_segment(v_segment, p_as_of);
        END IF;
        v_affected := campaigns.launch_campaign(p_campaign_id, p_as_of);
    WHEN 'pause' THEN
        v_affected := campaigns.pause_campaign(p_campaign_id);
    WHEN 'resume' THEN
        v_affected := campaigns.resume_campaign(p_campaign_id, p_as_of);
    WHEN 'unschedule' THEN
        PERFORM campaigns.unschedule_campaign(p_campaign_id);
    WHEN 'clone' THEN
        v_id := campaigns.clone_campaign(p_campaign_id);
        SELECT count(*)::integer INTO v_affected FROM campaigns.campaign_steps s WHERE s.campaign_id = v_id;
    ELSE
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = format('unknown campaign action "%s"', p_action),
            HINT = 'launch (start), pause, resume, unschedule or clone.';
    END CASE;
    RETURN QUERY SELECT v_affected, c FROM campaigns.campaigns c WHERE c.id = v_id;
END
$$;
COMMENT ON FUNCTION campaigns.run_campaign_action(uuid, text, timestamptz) IS
    'One lifecycle action and the campaign afterwards: launch / start (refreshes a dynamic segment first; affected = enrolled), pause (affected = enrollments paused), resume (released), unschedule, clone (the new draft; affected = steps copied). The refusals are those of launch_campaign, pause_campaign, resume_campaign, unschedule_campaign and clone_campaign.';

CREATE OR REPLACE FUNCTION campaigns.schedule_campaign_at(
    p_campaign_id uuid, p_start_at timestamptz DEFAULT NULL, p_local_start timestamp DEFAULT NULL,
    p_timezone text DEFAULT NULL, p_as_of timestamptz DEFAULT now())
RETURNS campaigns.campaigns
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_timezone text;
    v_start    timestamptz;
    v_campaign campaigns.campaigns;
BEGIN
    IF (p_start_at IS NULL) = (p_local_start IS NULL) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'give exactly one of start_at (an instant) or local_start (+ timezone)';
    END IF;
    IF p_start_at IS NOT NULL AND p_timezone IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'timezone only applies to local_start';
    END IF;
    PERFORM campaigns._check_timezone(p_timezone);
    SELECT coalesce(p_timezone, c.timezone) INTO v_timezone FROM campaigns.campaigns c WHERE c.id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found', DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    -- A local wall-clock time in the zone (the campaign's unless given); a time skipped by a DST
    -- change resolves as PostgreSQL's AT TIME ZONE does (forward by the gap).
    v_start := coalesce(p_start_at, p_local_start AT TIME ZONE v_timezone);
    PERFORM campaigns.schedule_campaign(p_campaign_id, v_start, p_as_of);
    SELECT * INTO v_campaign FROM campaigns.campaigns WHERE id = p_campaign_id;
    RETURN v_campaign;
END
$$;
COMMENT ON FUNCTION campaigns.schedule_campaign_at(uuid, timestamptz, timestamp, text, timestamptz) IS
    'Schedules a draft (or reschedules a scheduled) campaign at an instant (p_start_at) or at a local wall-clock time (p_local_start) in p_timezone, default the campaign''s timezone. QC301 when the instant is not after p_as_of, QC302 for a bad timezone, QC422 unless exactly one form is given, QC409 from another status.';

-- ---------------------------------------------------------------------------------------------
-- Steps
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION campaigns._lock_campaign_for_steps(p_campaign_id uuid)
RETURNS campaigns.campaigns
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_campaign campaigns.campaigns;
BEGIN
    -- The validation trigger takes the same row (FOR NO KEY UPDATE); taking it first here orders
    -- concurrent step edits of one campaign.
    SELECT * INTO v_campaign FROM campaigns.campaigns WHERE id = p_campaign_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found', DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    IF v_campaign.status = 'completed' THEN
        RAISE EXCEPTION USING ERRCODE = 'QC205', MESSAGE = 'the steps of a completed campaign cannot change',
            DETAIL = format('campaign_id=%s', p_campaign_id), HINT = 'Clone it to send again.';
    END IF;
    RETURN v_campaign;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._lock_step(p_campaign campaigns.campaigns, p_step_id uuid)
RETURNS campaigns.campaign_steps
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_step campaigns.campaign_steps;
BEGIN
    SELECT * INTO v_step FROM campaigns.campaign_steps
    WHERE tenant_id = p_campaign.tenant_id AND campaign_id = p_campaign.id AND id = p_step_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'step not found in this campaign',
            DETAIL = format('campaign_id=%s step_id=%s', p_campaign.id, p_step_id);
    END IF;
    RETURN v_step;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._step_in_use(p_step campaigns.campaign_steps)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    -- Why a step of a running campaign must keep its identity, or NULL.
    SELECT CASE
        WHEN EXISTS (SELECT FROM campaigns.campaign_contacts cc
                     WHERE cc.tenant_id = p_step.tenant_id AND cc.campaign_id = p_step.campaign_id
                       AND cc.current_step_id = p_step.id AND cc.status IN ('enrolled', 'active', 'paused'))
            THEN 'contacts are standing on this step'
        WHEN EXISTS (SELECT FROM campaigns.email_messages m
                     WHERE m.tenant_id = p_step.tenant_id AND m.campaign_id = p_step.campaign_id AND m.step_id = p_step.id)
            THEN 'mail has been queued or sent from this step'
    END
$$;

CREATE OR REPLACE FUNCTION campaigns.create_step(p_campaign_id uuid, p_step jsonb, p_after_step_id uuid DEFAULT NULL)
RETURNS campaigns.campaign_steps
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    c_fields CONSTANT text[] := ARRAY[
        'step_order', 'step_name', 'step_type', 'template_id', 'subject_line', 'email_content', 'wait_duration_value',
        'wait_duration_unit', 'condition_rules', 'email_step_id', 'true_next_step_id', 'false_next_step_id',
        'action_type', 'action_config', 'next_step_id'];
    v_keys     text[] := campaigns._json_keys(p_step, c_fields, 'step');
    v_campaign campaigns.campaigns;
    v_after    campaigns.campaign_steps;
    v_step     campaigns.campaign_steps;
    v_doc      jsonb := p_step;
BEGIN
    v_campaign := campaigns._lock_campaign_for_steps(p_campaign_id);
    IF NOT v_doc ? 'step_order' OR v_doc->'step_order' = 'null'::jsonb THEN
        v_doc := v_doc || jsonb_build_object('step_order', (
            SELECT coalesce(max(s.step_order), 0) + 1 FROM campaigns.campaign_steps s
            WHERE s.tenant_id = v_campaign.tenant_id AND s.campaign_id = p_campaign_id));
    END IF;
    IF p_after_step_id IS NOT NULL THEN
        SELECT * INTO v_after FROM campaigns.campaign_steps
        WHERE tenant_id = v_campaign.tenant_id AND campaign_id = p_campaign_id AND id = p_after_step_id FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'QC203', MESSAGE = 'after_step_id must be a step of the same campaign',
                DETAIL = format('after_step_id=%s', p_after_step_id);
        END IF;
        IF v_after.step_type = 'condition' THEN
            RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'a condition step continues through its branches, not next_step_id',
                HINT = 'Set the condition''s true_next_step_id / false_next_step_id instead.';
        END IF;
        -- Inserted between the step and its successor, unless the new step says where it goes.
        IF NOT v_doc ? 'next_step_id' AND v_doc->>'step_type' IS DISTINCT FROM 'condition' THEN
            v_doc := v_doc || jsonb_build_object('next_step_id', v_after.next_step_id);
        END IF;
    END IF;
    v_keys := ARRAY(SELECT k FROM jsonb_object_keys(v_doc) AS j(k) ORDER BY k);
    EXECUTE format(
        'INSERT INTO campaigns.campaign_steps (tenant_id, campaign_id%s) SELECT $2, $3%s FROM jsonb_populate_record(NULL::campaigns.campaign_steps, $1) r RETURNING *',
        (SELECT string_agg(format(', %I', k), '') FROM unnest(v_keys) k),
        (SELECT string_agg(format(', r.%I', k), '') FROM unnest(v_keys) k))
    INTO v_step
    USING v_doc, v_campaign.tenant_id, p_campaign_id;
    IF p_after_step_id IS NOT NULL THEN
        UPDATE campaigns.campaign_steps SET next_step_id = v_step.id WHERE id = p_after_step_id;
    END IF;
    RETURN v_step;
END
$$;
COMMENT ON FUNCTION campaigns.create_step(uuid, jsonb, uuid) IS
    'Adds a step to a campaign that is not completed (QC205). step_order defaults to the next free one. With p_after_step_id the step is linked in after that step (which then points to it; the new step takes over its successor unless next_step_id is given). Validated by the step trigger: QC201 (over 20 steps), QC202 (rules / action), QC203 (targets), QC204 (cycle through an email); CHECK constraints for the wait and email fields.';

CREATE OR REPLACE FUNCTION campaigns.update_step(p_campaign_id uuid, p_step_id uuid, p_changes jsonb)
RETURNS campaigns.campaign_steps
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    c_fields CONSTANT text[] := ARRAY[
        'step_order', 'step_name', 'step_type', 'template_id', 'subject_line', 'email_content', 'wait_duration_value',
        'wait_duration_unit', 'condition_rules', 'email_step_id', 'true_next_step_id', 'false_next_step_id',
        'action_type', 'action_config', 'next_step_id'];
    v_keys     text[] := campaigns._json_keys(p_changes, c_fields, 'step');
    v_campaign campaigns.campaigns;
    v_step     campaigns.campaign_steps;
    v_reason   text;
BEGIN
    v_campaign := campaigns._lock_campaign_for_steps(p_campaign_id);
    v_step := campaigns._lock_step(v_campaign, p_step_id);
    IF p_changes ? 'step_type' AND p_changes->>'step_type' IS DISTINCT FROM v_step.step_type
       AND v_campaign.status IN ('active', 'paused') THEN
        v_reason := campaigns._step_in_use(v_step);
        IF v_reason IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'QC206', MESSAGE = 'the step type cannot change: ' || v_reason,
                DETAIL = format('campaign_id=%s step_id=%s', p_campaign_id, p_step_id),
                HINT = 'Add a new step and link it in instead.';
        END IF;
    END IF;
    IF cardinality(v_keys) = 0 THEN
        RETURN v_step;
    END IF;
    EXECUTE format(
        'UPDATE campaigns.campaign_steps s SET %s FROM jsonb_populate_record(NULL::campaigns.campaign_steps, $1) r WHERE s.id = $2 RETURNING s.*',
        (SELECT string_agg(format('%1$I = r.%1$I', k), ', ') FROM unnest(v_keys) k))
    INTO v_step
    USING p_changes, p_step_id;
    RETURN v_step;
END
$$;
COMMENT ON FUNCTION campaigns.update_step(uuid, uuid, jsonb) IS
    'Applies the fields present in p_changes to a step (null clears). Not on a completed campaign (QC205). On an active or paused campaign the step type cannot change while contacts stand on the step or mail was sent from it (QC206); content, waits, rules and links may. Validated as create_step.';

CREATE OR REPLACE FUNCTION campaigns.delete_step(p_campaign_id uuid, p_step_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_campaign campaigns.campaigns;
    v_step     campaigns.campaign_steps;
    v_reason   text;
BEGIN
    v_campaign := campaigns._lock_campaign_for_steps(p_campaign_id);
    v_step := campaigns._lock_step(v_campaign, p_step_id);
    IF v_campaign.status IN ('active', 'paused') THEN
        v_reason := campaigns._step_in_use(v_step);
        IF v_reason IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'QC206', MESSAGE = 'the step cannot be deleted: ' || v_reason,
                DETAIL = format('campaign_id=%s step_id=%s', p_campaign_id, p_step_id),
                HINT = 'Unlink it (point the steps before it elsewhere) so nobody reaches it.';
        END IF;
    END IF;
    -- Splice it out: whatever led to the step now leads to its successor (a condition has none, so
    -- its predecessors end there). A successor that would point at itself ends instead.
    UPDATE campaigns.campaign_steps s
    SET next_step_id = CASE WHEN s.next_step_id = v_step.id THEN NULLIF(v_step.next_step_id, s.id) ELSE s.next_step_id END,
        true_next_step_id = CASE WHEN s.true_next_step_id = v_step.id THEN NULLIF(v_step.next_step_id, s.id) ELSE s.true_next_step_id END,
        false_next_step_id = CASE WHEN s.false_next_step_id = v_step.id THEN NULLIF(v_step.next_step_id, s.id) ELSE s.false_next_step_id END
    WHERE s.tenant_id = v_step.tenant_id AND s.campaign_id = v_step.campaign_id AND s.id <> v_step.id
      AND v_step.id IN (s.next_step_id, s.true_next_step_id, s.false_next_step_id);
    DELETE FROM campaigns.campaign_steps WHERE id = v_step.id;
END
$$;
COMMENT ON FUNCTION campaigns.delete_step(uuid, uuid) IS
    'Deletes a step, splicing it out of the sequence (steps that led to it lead to its successor). Not on a completed campaign (QC205); on an active or paused one not while contacts stand on it or once mail was sent from it (QC206). QC404 when the step is not in the campaign.';

CREATE OR REPLACE FUNCTION campaigns.reorder_steps(p_campaign_id uuid, p_step_ids uuid[])
RETURNS SETOF campaigns.campaign_steps
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_campaign campaigns.campaigns;
BEGIN
    v_campaign := campaigns._lock_campaign_for_steps(p_campaign_id);
    IF p_step_ids IS NULL OR cardinality(p_step_ids) <> (SELECT count(DISTINCT x) FROM unnest(p_step_ids) x)
       OR array_position(p_step_ids, NULL) IS NOT NULL
       OR ARRAY(SELECT x FROM unnest(p_step_ids) x ORDER BY x) IS DISTINCT FROM
          ARRAY(SELECT s.id FROM campaigns.campaign_steps s
                WHERE s.tenant_id = v_campaign.tenant_id AND s.campaign_id = p_campaign_id ORDER BY s.id) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'step_ids must list every step of the campaign exactly once',
            DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    -- uq_campaign_steps_order is DEFERRABLE: the swap is checked once, after every row has moved.
    SET CONSTRAINTS campaigns.uq_campaign_steps_order DEFERRED;
    UPDATE campaigns.campaign_steps s SET step_order = o.ord
    FROM unnest(p_step_ids) WITH ORDINALITY AS o(id, ord)
    WHERE s.tenant_id = v_campaign.tenant_id AND s.campaign_id = p_campaign_id AND s.id = o.id
      AND s.step_order IS DISTINCT FROM o.ord;
    SET CONSTRAINTS campaigns.uq_campaign_steps_order IMMEDIATE;
    RETURN QUERY SELECT * FROM campaigns.campaign_steps s
                 WHERE s.tenant_id = v_campaign.tenant_id AND s.campaign_id = p_campaign_id ORDER BY s.step_order;
END
$$;
COMMENT ON FUNCTION campaigns.reorder_steps(uuid, uuid[]) IS
    'Sets step_order 1..n in the order of p_step_ids, which must list every step of the campaign once (QC422), in one transaction through the deferrable uq_campaign_steps_order. Display order only, except that the first step is where new enrollments start. Not on a completed campaign (QC205).';

-- ---------------------------------------------------------------------------------------------
-- Enrollments and analytics
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION campaigns.exit_enrollment(
    p_campaign_id uuid, p_contact_id uuid, p_reason text DEFAULT 'manual', p_as_of timestamptz DEFAULT now())
RETURNS campaigns.campaign_contacts
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_enrollment campaigns.campaign_contacts;
BEGIN
    -- The row lock waits for a processing run that holds the enrollment; its write is then seen.
    SELECT * INTO v_enrollment FROM campaigns.campaign_contacts
    WHERE campaign_id = p_campaign_id AND contact_id = p_contact_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'the contact is not enrolled in this campaign',
            DETAIL = format('campaign_id=%s contact_id=%s', p_campaign_id, p_contact_id);
    END IF;
    IF v_enrollment.status NOT IN ('enrolled', 'active', 'paused') THEN
        RAISE EXCEPTION USING ERRCODE = 'QC409', MESSAGE = format('the enrollment is already %s', v_enrollment.status),
            DETAIL = format('campaign_id=%s contact_id=%s status=%s', p_campaign_id, p_contact_id, v_enrollment.status);
    END IF;
    UPDATE campaigns.campaign_contacts
    SET status = 'exited', exit_reason = coalesce(nullif(btrim(p_reason), ''), 'manual'), exited_at = p_as_of,
        pause_reason = NULL, next_email_scheduled_at = NULL, updated_at = now()
    WHERE id = v_enrollment.id
    RETURNING * INTO v_enrollment;
    UPDATE campaigns.email_messages SET status = 'cancelled', last_error = v_enrollment.exit_reason
    WHERE tenant_id = v_enrollment.tenant_id AND enrollment_id = v_enrollment.id AND status = 'queued';
    RETURN v_enrollment;
END
$$;
COMMENT ON FUNCTION campaigns.exit_enrollment(uuid, uuid, text, timestamptz) IS
    'Exits one contact from a campaign by hand (exit_reason p_reason, default manual) and cancels its queued mail. QC404 when not enrolled (or not visible), QC409 when the enrollment already completed or exited.';

CREATE OR REPLACE FUNCTION campaigns.campaign_analytics_report(
    p_campaign_id uuid, p_start date DEFAULT NULL, p_end date DEFAULT NULL, p_group_by text DEFAULT 'day',
    p_days integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_campaign campaigns.campaigns;
    -- The end defaults to today (UTC); the start to p_days (default 30) days ending at the end.
    v_days     integer := coalesce(p_days, 30);
    v_end      date := coalesce(p_end, (now() AT TIME ZONE 'UTC')::date);
    v_start    date := coalesce(p_start, coalesce(p_end, (now() AT TIME ZONE 'UTC')::date) - (coalesce(p_days, 30) - 1));
BEGIN
    IF v_days < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'the number of days must be positive';
    END IF;
    SELECT * INTO v_campaign FROM campaigns.campaigns WHERE id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found', DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    IF v_start > v_end THEN
        RAISE EXCEPTION USING ERRCODE = 'QC301', MESSAGE = 'Start date must be before end date',
            DETAIL = format('startDate=%s endDate=%s', v_start, v_end);
    END IF;
    IF v_end - v_start > 3660 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC301', MESSAGE = 'the range is limited to 10 years',
            DETAIL = format('startDate=%s endDate=%s', v_start, v_end);
    END IF;
    IF p_group_by IS NULL OR p_group_by NOT IN ('day', 'week', 'month') THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'groupBy is day, week or month';
    END IF;
    RETURN (
        WITH rows AS (
            SELECT a.* FROM campaigns.campaign_analytics a
            WHERE a.tenant_id = v_campaign.tenant_id AND a.campaign_id = p_campaign_id AND a.date BETWEEN v_start AND v_end
        ), totals AS (
            SELECT coalesce(sum(emails_sent), 0)::bigint AS emails_sent, coalesce(sum(emails_delivered), 0)::bigint AS emails_delivered,
                   coalesce(sum(emails_bounced), 0)::bigint AS emails_bounced, coalesce(sum(unique_opens), 0)::bigint AS unique_opens,
                   coalesce(sum(total_opens), 0)::bigint AS total_opens, coalesce(sum(unique_clicks), 0)::bigint AS unique_clicks,
                   coalesce(sum(total_clicks), 0)::bigint AS total_clicks, coalesce(sum(replies), 0)::bigint AS replies,
                   coalesce(sum(spam_complaints), 0)::bigint AS spam_complaints, coalesce(sum(unsubscribes), 0)::bigint AS unsubscribes
            FROM rows
        ), series AS (
            SELECT date_trunc(p_group_by, r.date::timestamp)::date AS period_start,
                   sum(r.emails_sent) AS emails_sent, sum(r.emails_delivered) AS emails_delivered,
                   sum(r.emails_bounced) AS emails_bounced, sum(r.unique_opens) AS unique_opens,
                   sum(r.unique_clicks) AS unique_clicks, sum(r.replies) AS replies, sum(r.unsubscribes) AS unsubscribes
            FROM rows r GROUP BY 1
        )
        SELECT jsonb_build_object(
            'campaign_id', p_campaign_id,
            'start_date', v_start,
            'end_date', v_end,
            'group_by', p_group_by,
            'summary', (SELECT to_jsonb(t) || jsonb_build_object(
                            'delivery_rate', campaigns._rate(t.emails_delivered, t.emails_sent),
                            'open_rate', campaigns._rate(t.unique_opens, t.emails_delivered),
                            'click_rate', campaigns._rate(t.unique_clicks, t.emails_delivered),
                            'click_to_open_rate', campaigns._rate(t.unique_clicks, t.unique_opens),
                            'reply_rate', campaigns._rate(t.replies, t.emails_delivered),
                            'unsubscribe_rate', campaigns._rate(t.unsubscribes, t.emails_delivered),
                            'bounce_rate', campaigns._rate(t.emails_bounced, t.emails_sent),
                            'complaint_rate', campaigns._rate(t.spam_complaints, t.emails_delivered))
                        FROM totals t),
            'overall', coalesce((SELECT jsonb_agg(to_jsonb(r) - 'tenant_id' ORDER BY r.date) FROM rows r), '[]'::jsonb),
            'time_series', coalesce((SELECT jsonb_agg(to_jsonb(s) ORDER BY s.period_start) FROM series s), '[]'::jsonb),
            'byStep', coalesce((
                SELECT jsonb_agg(jsonb_build_object(
                        'step_id', s.id, 'step_order', s.step_order, 'step_name', s.step_name, 'step_type', s.step_type,
                        'emails_sent', s.emails_sent, 'emails_delivered', s.emails_delivered, 'opens', s.opens,
                        'clicks', s.clicks, 'replies', s.replies, 'unsubscribes', s.unsubscribes, 'bounces', s.bounces,
                        'open_rate', campaigns._rate(s.opens, s.emails_delivered),
                        'click_rate', campaigns._rate(s.clicks, s.emails_delivered),
                        'reply_rate', campaigns._rate(s.replies, s.emails_delivered))
                    ORDER BY s.step_order)
                FROM campaigns.campaign_steps s
                WHERE s.tenant_id = v_campaign.tenant_id AND s.campaign_id = p_campaign_id), '[]'::jsonb))
    );
END
$$;
COMMENT ON FUNCTION campaigns.campaign_analytics_report(uuid, date, date, text, integer) IS
    'The analytics API''s document for one campaign: overall = the campaign_analytics rows dated in [p_start, p_end] (inclusive; default the p_days, else 30, days ending today UTC), summary = their totals with the §2.12 rates, time_series = the same grouped by day, week or month, byStep = each step''s lifetime counters in step order. QC301 when start is after end, QC404 when not visible.';
