-- Steps as the API edits them: create (optionally linked in after a step), update, delete (spliced
-- out), reorder, with the rules for running campaigns. Run as the caller (Row Level Security applies).
-- Each locks its campaign first (_lock_campaign): the steps of a completed campaign never change.

DROP FUNCTION IF EXISTS campaigns._lock_campaign_for_steps(uuid);
DROP FUNCTION IF EXISTS campaigns._step_in_use(campaigns.campaign_steps);

-- The fields a step document may carry, in create_step and update_step.
CREATE OR REPLACE FUNCTION campaigns._step_fields()
RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog
AS $$
    SELECT ARRAY[
        'step_order', 'step_name', 'step_type', 'template_id', 'subject_line', 'email_content', 'wait_duration_value',
        'wait_duration_unit', 'condition_rules', 'email_step_id', 'true_next_step_id', 'false_next_step_id',
        'action_type', 'action_config', 'next_step_id']
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

-- A step of a running (active, paused) campaign keeps its identity while contacts stand on it or
-- mail was queued or sent from it: QC206, "<p_refusal>: <why>", with p_hint.
CREATE OR REPLACE FUNCTION campaigns._check_step_not_in_use(
    p_campaign campaigns.campaigns, p_step campaigns.campaign_steps, p_refusal text, p_hint text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_reason text;
BEGIN
    IF p_campaign.status NOT IN ('active', 'paused') THEN
        RETURN;
    END IF;
    v_reason := CASE
        WHEN EXISTS (SELECT FROM campaigns.campaign_contacts cc
                     WHERE cc.tenant_id = p_step.tenant_id AND cc.campaign_id = p_step.campaign_id
                       AND cc.current_step_id = p_step.id AND cc.status IN ('enrolled', 'active', 'paused'))
            THEN 'contacts are standing on this step'
        WHEN EXISTS (SELECT FROM campaigns.email_messages m
                     WHERE m.tenant_id = p_step.tenant_id AND m.campaign_id = p_step.campaign_id AND m.step_id = p_step.id)
            THEN 'mail has been queued or sent from this step'
    END;
    IF v_reason IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC206', MESSAGE = p_refusal || ': ' || v_reason,
            DETAIL = format('campaign_id=%s step_id=%s', p_campaign.id, p_step.id), HINT = p_hint;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION campaigns.create_step(p_campaign_id uuid, p_step jsonb, p_after_step_id uuid DEFAULT NULL)
RETURNS campaigns.campaign_steps
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_keys     text[] := campaigns._json_keys(p_step, campaigns._step_fields(), 'step');
    v_campaign campaigns.campaigns;
    v_after    campaigns.campaign_steps;
    v_step     campaigns.campaign_steps;
    v_doc      jsonb := p_step;
BEGIN
    v_campaign := campaigns._lock_campaign(p_campaign_id, ARRAY['draft', 'scheduled', 'active', 'paused'],
                                          'change the steps of', 'QC205', 'Clone it to send again.');
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
    v_keys     text[] := campaigns._json_keys(p_changes, campaigns._step_fields(), 'step');
    v_campaign campaigns.campaigns;
    v_step     campaigns.campaign_steps;
BEGIN
    v_campaign := campaigns._lock_campaign(p_campaign_id, ARRAY['draft', 'scheduled', 'active', 'paused'],
                                          'change the steps of', 'QC205', 'Clone it to send again.');
    v_step := campaigns._lock_step(v_campaign, p_step_id);
    IF p_changes ? 'step_type' AND p_changes->>'step_type' IS DISTINCT FROM v_step.step_type THEN
        PERFORM campaigns._check_step_not_in_use(v_campaign, v_step, 'the step type cannot change',
                                                 'Add a new step and link it in instead.');
    END IF;
    RETURN campaigns._update_keys(v_step, p_changes, v_keys);
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
BEGIN
    v_campaign := campaigns._lock_campaign(p_campaign_id, ARRAY['draft', 'scheduled', 'active', 'paused'],
                                          'change the steps of', 'QC205', 'Clone it to send again.');
    v_step := campaigns._lock_step(v_campaign, p_step_id);
    PERFORM campaigns._check_step_not_in_use(v_campaign, v_step, 'the step cannot be deleted',
                                             'Unlink it (point the steps before it elsewhere) so nobody reaches it.');
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
    v_campaign := campaigns._lock_campaign(p_campaign_id, ARRAY['draft', 'scheduled', 'active', 'paused'],
                                          'change the steps of', 'QC205', 'Clone it to send again.');
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
