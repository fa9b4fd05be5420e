-- A/B results and decisions: per-variant figures, the winner by a two-proportion z-test (or by hand),
-- and the release of the held-back enrollments with the winner.

CREATE OR REPLACE FUNCTION campaigns._normal_cdf(p_z double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    -- Φ(z) from erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7).
    WITH x AS (SELECT abs(p_z) / sqrt(2.0) AS x),
         t AS (SELECT x, 1.0 / (1.0 + 0.3275911 * x) AS t FROM x),
         e AS (SELECT 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
                          * exp(-x * x) AS erf FROM t)
    SELECT CASE WHEN p_z >= 0 THEN 0.5 * (1.0 + erf) ELSE 0.5 * (1.0 - erf) END FROM e
$$;

CREATE OR REPLACE FUNCTION campaigns.ab_test_results(p_ab_test_id uuid)
RETURNS TABLE (variant_id uuid, variant_name text, is_control boolean, sent bigint, delivered bigint,
               unique_opens bigint, unique_clicks bigint, open_rate numeric, click_rate numeric,
               confidence numeric, lift numeric, is_winner boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    WITH t AS (
        SELECT * FROM campaigns.ab_tests WHERE id = p_ab_test_id
    ), stats AS (
        -- The sample's mail only: once the winner is deployed its variant also goes to the held-back
        -- contacts, whose mail must not move the comparison.
        SELECT v.id, v.variant_name, v.is_control,
               count(m.id) FILTER (WHERE m.sent_at IS NOT NULL) AS sent,
               count(m.id) FILTER (WHERE m.delivered_at IS NOT NULL) AS delivered,
               count(m.id) FILTER (WHERE m.delivered_at IS NOT NULL AND m.first_opened_at IS NOT NULL) AS opens,
               count(m.id) FILTER (WHERE m.delivered_at IS NOT NULL AND m.first_clicked_at IS NOT NULL) AS clicks
        FROM t
        JOIN campaigns.ab_test_variants v ON v.tenant_id = t.tenant_id AND v.ab_test_id = t.id
        LEFT JOIN campaigns.ab_test_assignments a ON a.tenant_id = v.tenant_id AND a.variant_id = v.id
        LEFT JOIN campaigns.email_messages m ON m.tenant_id = a.tenant_id AND m.enrollment_id = a.enrollment_id
                                           AND m.step_id = t.step_id
        GROUP BY v.id, v.variant_name, v.is_control
    ), rated AS (
        SELECT s.*,
               CASE WHEN s.delivered = 0 THEN 0 ELSE s.opens::numeric / s.delivered END AS p_open,
               CASE WHEN s.delivered = 0 THEN 0 ELSE s.clicks::numeric / s.delivered END AS p_click,
               CASE WHEN s.delivered = 0 THEN 0
                    WHEN (SELECT win_metric FROM t) = 'click_rate' THEN s.clicks::numeric / s.delivered
                    ELSE s.opens::numeric / s.delivered END AS p
        FROM stats s
    ), ranked AS (
        SELECT r.*, row_number() OVER (ORDER BY r.p DESC, r.is_control DESC, r.variant_name) AS rank
        FROM rated r
    ), top2 AS (
        SELECT (SELECT p FROM ranked WHERE rank = 1) AS p1, (SELECT delivered FROM ranked WHERE rank = 1) AS n1,
               (SELECT p FROM ranked WHERE rank = 2) AS p2, (SELECT delivered FROM ranked WHERE rank = 2) AS n2
    ), z AS (
        -- Two-proportion z-test between the leader and the runner-up; a zero standard error
        -- (equal rates of 0% or 100%, or an empty variant) gives no confidence rather than an error.
        SELECT CASE WHEN n1 > 0 AND n2 > 0 AND pooled > 0 AND pooled < 1
                    THEN abs(p1 - p2) / sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2)) END AS z
        FROM (SELECT p1, n1, p2, n2, (p1 * n1 + p2 * n2) / nullif(n1 + n2, 0) AS pooled FROM top2) x
    ), control AS (
        SELECT coalesce((SELECT p FROM ranked WHERE is_control), (SELECT p FROM ranked ORDER BY variant_name LIMIT 1)) AS p
    )
    SELECT r.id, r.variant_name, r.is_control, r.sent, r.delivered, r.opens, r.clicks,
           round(100 * r.p_open, 2), round(100 * r.p_click, 2),
           -- Two-sided confidence that the leader beats the runner-up, in percent; shown on the leader.
           CASE WHEN r.rank = 1 THEN round((100 * (2 * campaigns._normal_cdf(coalesce((SELECT z FROM z), 0)) - 1))::numeric, 2) END,
           CASE WHEN (SELECT p FROM control) > 0 THEN round(100 * (r.p - (SELECT p FROM control)) / (SELECT p FROM control), 2) END,
           r.id = (SELECT winner_variant_id FROM t)
    FROM ranked r
    ORDER BY r.variant_name
$$;
COMMENT ON FUNCTION campaigns.ab_test_results(uuid) IS
    'Per-variant results of an A/B test''s sample: sent, delivered, unique opens and clicks (of delivered mail), open and click rates in percent, the leader''s two-sided confidence against the runner-up (two-proportion z-test on the win metric), lift against the control ((variant - control) / control, percent), and whether it is the deployed winner.';

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

CREATE OR REPLACE FUNCTION campaigns._deploy_ab_winner(p_test campaigns.ab_tests, p_winner uuid, p_decision text, p_as_of timestamptz)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_released integer;
BEGIN
    -- Deciding and releasing in one transaction: a crash leaves neither, and the next run decides
    -- again; a deployed test is never deployed twice. The caller holds the test's row lock, which
    -- every processing batch routing into the step holds shared to its commit (_route_ab_tests): the
    -- release sees every contact held back before, and no batch holds one back after.
    UPDATE campaigns.ab_tests
    SET status = 'winner_deployed', winner_variant_id = p_winner, decided_at = p_as_of, decision = p_decision
    WHERE id = p_test.id AND status = 'running';
    -- The figures the decision was taken on (computed after the winner is set, so is_winner is right).
    UPDATE campaigns.ab_tests
    SET results_summary = (SELECT jsonb_agg(to_jsonb(r) ORDER BY r.variant_name) FROM campaigns.ab_test_results(p_test.id) r)
    WHERE id = p_test.id;
    UPDATE campaigns.campaign_contacts
    SET next_email_scheduled_at = p_as_of, updated_at = now()
    WHERE tenant_id = p_test.tenant_id AND campaign_id = p_test.campaign_id AND current_step_id = p_test.step_id
      AND status IN ('enrolled', 'active', 'paused') AND next_email_scheduled_at IS NULL;
    GET DIAGNOSTICS v_released = ROW_COUNT;
    RETURN v_released;
END
$$;

CREATE OR REPLACE FUNCTION campaigns.evaluate_ab_tests(p_as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
SET jit = off
AS $$
DECLARE
    v_id       uuid;
    v_test     campaigns.ab_tests;
    v_leader   record;
    v_control  uuid;
    v_decided  integer := 0;
    v_enough   boolean;
BEGIN
    -- Each test under its row lock, taken in id order (the order processing takes them in, so the two
    -- cannot deadlock) and waited for: a processing batch routing contacts into the step holds it
    -- shared until it commits, and the release below must see the contacts that batch held back.
    -- Re-checked under the lock: a concurrent evaluation or choose_ab_winner may have decided it.
    FOR v_id IN
        SELECT id FROM campaigns.ab_tests
        WHERE status = 'running' AND started_at + make_interval(secs => duration_hours * 3600) <= p_as_of
        ORDER BY id
    LOOP
        SELECT * INTO v_test FROM campaigns.ab_tests WHERE id = v_id AND status = 'running' FOR UPDATE;
        CONTINUE WHEN NOT FOUND;
        SELECT * INTO v_leader FROM campaigns.ab_test_results(v_test.id) r WHERE r.confidence IS NOT NULL;
        SELECT bool_and(r.delivered >= v_test.minimum_sample_size) INTO v_enough FROM campaigns.ab_test_results(v_test.id) r;
        SELECT coalesce((SELECT id FROM campaigns.ab_test_variants WHERE tenant_id = v_test.tenant_id AND ab_test_id = v_test.id AND is_control),
                        (SELECT id FROM campaigns.ab_test_variants WHERE tenant_id = v_test.tenant_id AND ab_test_id = v_test.id
                         ORDER BY variant_name LIMIT 1))
          INTO v_control;
        IF v_leader.variant_id IS NOT NULL AND v_enough AND v_leader.confidence >= v_test.confidence_threshold THEN
            PERFORM campaigns._deploy_ab_winner(v_test, v_leader.variant_id, 'significant', p_as_of);
        ELSE
            PERFORM campaigns._deploy_ab_winner(v_test, v_control, 'no_winner', p_as_of);
        END IF;
        v_decided := v_decided + 1;
    END LOOP;
    RETURN v_decided;
END
$$;
COMMENT ON FUNCTION campaigns.evaluate_ab_tests(timestamptz) IS
    'Decides every running A/B test whose duration has elapsed at p_as_of: the leader on the win metric wins when its two-sided confidence against the runner-up reaches confidence_threshold and every variant has minimum_sample_size delivered; otherwise the control (send_control). Deploying releases the held-back enrollments with the winner''s content in the same transaction, so it happens exactly once. Each test is decided under its row lock, taken in id order and waited for while a processing batch routes contacts into its step (the batch holds it shared to its commit), so no contact is held back after the release. Returns the number decided. Run by pg_cron every 15 minutes.';

CREATE OR REPLACE FUNCTION campaigns.choose_ab_winner(p_ab_test_id uuid, p_variant_id uuid, p_as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_test campaigns.ab_tests;
BEGIN
    SELECT * INTO v_test FROM campaigns.ab_tests WHERE id = p_ab_test_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'A/B test not found', DETAIL = format('ab_test_id=%s', p_ab_test_id);
    END IF;
    IF v_test.status <> 'running' THEN
        RAISE EXCEPTION USING ERRCODE = 'QC602', MESSAGE = 'only a running A/B test can be decided',
            DETAIL = format('ab_test_id=%s status=%s', p_ab_test_id, v_test.status);
    END IF;
    IF NOT EXISTS (SELECT FROM campaigns.ab_test_variants WHERE tenant_id = v_test.tenant_id AND ab_test_id = v_test.id AND id = p_variant_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'variant not found in this A/B test',
            DETAIL = format('ab_test_id=%s variant_id=%s', p_ab_test_id, p_variant_id);
    END IF;
    RETURN campaigns._deploy_ab_winner(v_test, p_variant_id, 'manual', p_as_of);
END
$$;
COMMENT ON FUNCTION campaigns.choose_ab_winner(uuid, uuid, timestamptz) IS
    'Picks the winner of a running A/B test by hand and deploys it at once (held-back enrollments released with its content). QC404 for an unknown test or a variant of another test, QC602 when the test is not running. Returns the number of enrollments released.';

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
