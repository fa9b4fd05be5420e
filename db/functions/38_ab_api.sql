-- A/B tests as the API edits and reads them: one test per email step, replaced whole while the
-- campaign is a draft, read with its per-variant results.

CREATE OR REPLACE FUNCTION campaigns.put_ab_test(p_campaign_id uuid, p_step_id uuid, p_test jsonb)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_campaign campaigns.campaigns;
    v_test_id  uuid;
    v_count    integer := jsonb_array_length(coalesce(p_test->'variants', '[]'));
BEGIN
    SELECT * INTO v_campaign FROM campaigns.campaigns WHERE id = p_campaign_id FOR NO KEY UPDATE;
    IF NOT FOUND OR NOT EXISTS (SELECT FROM campaigns.campaign_steps
                                WHERE tenant_id = v_campaign.tenant_id AND campaign_id = p_campaign_id AND id = p_step_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'step not found',
            DETAIL = format('campaign_id=%s step_id=%s', p_campaign_id, p_step_id);
    END IF;
    IF v_campaign.status <> 'draft' THEN
        RAISE EXCEPTION USING ERRCODE = 'QC205', MESSAGE = 'A/B tests are edited while the campaign is a draft',
            DETAIL = format('campaign_id=%s status=%s', p_campaign_id, v_campaign.status);
    END IF;
    IF v_count NOT BETWEEN 2 AND 5 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC601', MESSAGE = 'an A/B test has 2 to 5 variants',
            DETAIL = format('variants=%s', v_count);
    END IF;
    IF (SELECT count(*) FROM jsonb_array_elements(p_test->'variants') v WHERE (v->>'is_control')::boolean) > 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC601', MESSAGE = 'an A/B test has at most one control';
    END IF;
    DELETE FROM campaigns.ab_tests WHERE tenant_id = v_campaign.tenant_id AND step_id = p_step_id;
    INSERT INTO campaigns.ab_tests (tenant_id, campaign_id, step_id, test_name, sample_percent, duration_hours,
                                    win_metric, confidence_threshold, minimum_sample_size)
    SELECT v_campaign.tenant_id, p_campaign_id, p_step_id, coalesce(r.test_name, 'A/B test'),
           coalesce(r.sample_percent, 20), coalesce(r.duration_hours, 4), coalesce(r.win_metric, 'open_rate'),
           coalesce(r.confidence_threshold, 95), coalesce(r.minimum_sample_size, 100)
    FROM jsonb_populate_record(NULL::campaigns.ab_tests, p_test - 'variants') r
    RETURNING id INTO v_test_id;
    -- Variants are named A, B, … in the order given; the first is the control unless one is marked.
    INSERT INTO campaigns.ab_test_variants (tenant_id, ab_test_id, variant_name, is_control, subject_line,
                                            email_content, sender_name, sender_email)
    SELECT v_campaign.tenant_id, v_test_id, chr(64 + v.n::integer),
           CASE WHEN EXISTS (SELECT FROM jsonb_array_elements(p_test->'variants') x WHERE (x->>'is_control')::boolean)
                THEN coalesce((v.doc->>'is_control')::boolean, false) ELSE v.n = 1 END,
           v.doc->>'subject_line', v.doc->>'email_content', v.doc->>'sender_name', v.doc->>'sender_email'
    FROM jsonb_array_elements(p_test->'variants') WITH ORDINALITY AS v(doc, n);
    RETURN v_test_id;
END
$$;
COMMENT ON FUNCTION campaigns.put_ab_test(uuid, uuid, jsonb) IS
    'Creates or replaces the A/B test of an email step while the campaign is a draft (QC205 otherwise): settings (test_name, sample_percent, duration_hours, win_metric, confidence_threshold, minimum_sample_size) and 2 to 5 variants (subject_line, email_content, sender_name, sender_email, is_control), named A, B, … in order; the first is the control unless one is marked. QC404 for a step not in the campaign, QC601 for a non-email step or a wrong variant count. Returns the test id.';

CREATE OR REPLACE FUNCTION campaigns.ab_test_doc(p_campaign_id uuid, p_step_id uuid)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    SELECT to_jsonb(t) - 'tenant_id' - 'results_summary'
           || jsonb_build_object(
               'variants', (SELECT jsonb_agg(to_jsonb(v) - 'tenant_id' - 'ab_test_id' ORDER BY v.variant_name)
                            FROM campaigns.ab_test_variants v WHERE v.tenant_id = t.tenant_id AND v.ab_test_id = t.id),
               'results', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.variant_name), '[]')
                           FROM campaigns.ab_test_results(t.id) r))
    FROM campaigns.ab_tests t
    WHERE t.campaign_id = p_campaign_id AND t.step_id = p_step_id
$$;
COMMENT ON FUNCTION campaigns.ab_test_doc(uuid, uuid) IS
    'The A/B test of an email step as one JSON document: its settings and state, its variants and their live results (campaigns.ab_test_results). NULL when the step has no test.';

CREATE OR REPLACE FUNCTION campaigns._step_ab_test(p_campaign_id uuid, p_step_id uuid)
RETURNS campaigns.ab_tests
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_test campaigns.ab_tests;
BEGIN
    SELECT * INTO v_test FROM campaigns.ab_tests WHERE campaign_id = p_campaign_id AND step_id = p_step_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'A/B test not found',
            DETAIL = format('campaign_id=%s step_id=%s', p_campaign_id, p_step_id);
    END IF;
    RETURN v_test;
END
$$;

CREATE OR REPLACE FUNCTION campaigns.delete_ab_test(p_campaign_id uuid, p_step_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_test campaigns.ab_tests := campaigns._step_ab_test(p_campaign_id, p_step_id);
BEGIN
    PERFORM campaigns._lock_campaign(p_campaign_id, ARRAY['draft'], 'edit the A/B test of');
    DELETE FROM campaigns.ab_tests WHERE id = v_test.id;
END
$$;
COMMENT ON FUNCTION campaigns.delete_ab_test(uuid, uuid) IS
    'Removes the A/B test of an email step while the campaign is a draft (QC409 otherwise, QC404 when there is none).';

CREATE OR REPLACE FUNCTION campaigns.choose_step_ab_winner(p_campaign_id uuid, p_step_id uuid, p_variant_id uuid,
                                                           p_as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
    SELECT campaigns.choose_ab_winner((campaigns._step_ab_test(p_campaign_id, p_step_id)).id, p_variant_id, p_as_of)
$$;
COMMENT ON FUNCTION campaigns.choose_step_ab_winner(uuid, uuid, uuid, timestamptz) IS
    'choose_ab_winner for the A/B test of a campaign''s email step (QC404 when the step has none).';
