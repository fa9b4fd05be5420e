-- A/B tests on email steps: validation when saved, the API's create / replace / delete, the
-- reproducible split when enrollments first reach the step, and the routing of the working set
-- (process_due_steps calls _route_ab_tests for the rows at email steps).

DROP FUNCTION IF EXISTS campaigns._start_ab_tests(timestamptz);

CREATE OR REPLACE FUNCTION campaigns._validate_ab_test()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM campaigns.campaign_steps
                   WHERE tenant_id = NEW.tenant_id AND campaign_id = NEW.campaign_id AND id = NEW.step_id
                     AND step_type = 'email') THEN
        RAISE EXCEPTION USING ERRCODE = 'QC601', MESSAGE = 'an A/B test must be attached to an email step',
            DETAIL = format('step_id=%s', NEW.step_id);
    END IF;
    -- Settings are frozen once the sample is out; only the decision columns move after that.
    IF TG_OP = 'UPDATE' AND OLD.status <> 'draft'
       AND (NEW.step_id, NEW.sample_percent, NEW.duration_hours, NEW.win_metric, NEW.confidence_threshold,
            NEW.minimum_sample_size, NEW.if_no_winner)
           IS DISTINCT FROM
           (OLD.step_id, OLD.sample_percent, OLD.duration_hours, OLD.win_metric, OLD.confidence_threshold,
            OLD.minimum_sample_size, OLD.if_no_winner) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC602', MESSAGE = 'a running or decided A/B test cannot be changed',
            DETAIL = format('ab_test_id=%s status=%s', NEW.id, OLD.status);
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER trg_ab_tests_validate
    BEFORE INSERT OR UPDATE ON campaigns.ab_tests
    FOR EACH ROW EXECUTE FUNCTION campaigns._validate_ab_test();

CREATE OR REPLACE FUNCTION campaigns._validate_ab_variant()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_test_id uuid := coalesce(NEW.ab_test_id, OLD.ab_test_id);
    v_tenant  uuid := coalesce(NEW.tenant_id, OLD.tenant_id);
    v_status  text;
BEGIN
    -- The test row lock serialises variant changes, so the 5-variant limit holds.
    SELECT status INTO v_status FROM campaigns.ab_tests WHERE tenant_id = v_tenant AND id = v_test_id FOR NO KEY UPDATE;
    IF v_status <> 'draft' THEN
        RAISE EXCEPTION USING ERRCODE = 'QC602', MESSAGE = 'variants can only change while the A/B test is a draft',
            DETAIL = format('ab_test_id=%s status=%s', v_test_id, v_status);
    END IF;
    IF TG_OP <> 'DELETE' AND (SELECT count(*) FROM campaigns.ab_test_variants
                              WHERE tenant_id = v_tenant AND ab_test_id = v_test_id) > 5 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC601', MESSAGE = 'an A/B test has at most 5 variants',
            DETAIL = format('ab_test_id=%s', v_test_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER trg_ab_test_variants_validate
    AFTER INSERT OR UPDATE OR DELETE ON campaigns.ab_test_variants
    FOR EACH ROW EXECUTE FUNCTION campaigns._validate_ab_variant();

CREATE OR REPLACE FUNCTION campaigns._check_campaign_ab_tests(p_tenant_id uuid, p_campaign_id uuid)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_test uuid;
BEGIN
    SELECT t.id INTO v_test
    FROM campaigns.ab_tests t
    WHERE t.tenant_id = p_tenant_id AND t.campaign_id = p_campaign_id
      AND (SELECT count(*) FROM campaigns.ab_test_variants v WHERE v.tenant_id = t.tenant_id AND v.ab_test_id = t.id)
          NOT BETWEEN 2 AND 5
    LIMIT 1;
    IF v_test IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC601', MESSAGE = 'an A/B test needs 2 to 5 variants before launch',
            DETAIL = format('campaign_id=%s ab_test_id=%s', p_campaign_id, v_test);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION campaigns.ab_split_sizes(p_audience integer, p_sample_percent numeric, p_variants integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    -- Each variant gets floor(N * S / 100 / V) contacts; everyone else is held back for the winner.
    SELECT CASE WHEN p_variants < 1 THEN 0 ELSE floor(p_audience * p_sample_percent / 100.0 / p_variants)::integer END
$$;
COMMENT ON FUNCTION campaigns.ab_split_sizes(integer, numeric, integer) IS
    'The number of contacts per variant for an audience of p_audience, a sample of p_sample_percent and p_variants variants: floor(N * S / 100 / V).';

-- The sample of a test whose step enrollments reach for the first time: the campaign's current
-- audience in a fixed pseudo-random order (md5 of test and contact ids, so a re-run or a test gives
-- the same split), cut into contiguous slices A, B, … The caller holds the test's row lock.
CREATE OR REPLACE FUNCTION campaigns._assign_ab_sample(p_test campaigns.ab_tests, p_as_of timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    WITH audience AS (
        SELECT cc.id AS enrollment_id, cc.contact_id,
               row_number() OVER (ORDER BY md5(p_test.id::text || cc.contact_id::text)) AS r,
               count(*) OVER () AS n
        FROM campaigns.campaign_contacts cc
        WHERE cc.tenant_id = p_test.tenant_id AND cc.campaign_id = p_test.campaign_id
          AND cc.status IN ('enrolled', 'active', 'paused')
    ), variants AS (
        SELECT v.id, row_number() OVER (ORDER BY v.variant_name) - 1 AS slot, count(*) OVER () AS k
        FROM campaigns.ab_test_variants v
        WHERE v.tenant_id = p_test.tenant_id AND v.ab_test_id = p_test.id
    ), sized AS (
        SELECT a.*, campaigns.ab_split_sizes(a.n::integer, p_test.sample_percent, (SELECT max(k) FROM variants)::integer) AS per
        FROM audience a
    )
    INSERT INTO campaigns.ab_test_assignments (tenant_id, ab_test_id, variant_id, contact_id, enrollment_id, assigned_at)
    SELECT p_test.tenant_id, p_test.id, v.id, s.contact_id, s.enrollment_id, p_as_of
    FROM sized s JOIN variants v ON v.slot = (s.r - 1) / s.per
    WHERE s.per > 0 AND s.r <= s.per * v.k
    ON CONFLICT ON CONSTRAINT uq_ab_test_assignments_contact DO NOTHING;

    UPDATE campaigns.ab_tests SET status = 'running', started_at = p_as_of WHERE id = p_test.id;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._start_ab_tests(p_as_of timestamptz, p_wait boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_test campaigns.ab_tests;
BEGIN
    -- Draft tests whose step the working set has reached, locked in id order. A concurrent run that
    -- waits (p_wait) sees the test running once it gets the lock (the re-checked WHERE leaves it out),
    -- so the sample is assigned once; one that may not wait skips it (its contacts wait a pass).
    IF p_wait THEN
        FOR v_test IN
            SELECT t.* FROM campaigns.ab_tests t
            WHERE t.status = 'draft'
              AND (t.tenant_id, t.step_id) IN (SELECT tenant_id, step_id FROM pg_temp._due_work WHERE status = 'run')
            ORDER BY t.id
            FOR UPDATE
        LOOP
            PERFORM campaigns._assign_ab_sample(v_test, p_as_of);
        END LOOP;
    ELSE
        FOR v_test IN
            SELECT t.* FROM campaigns.ab_tests t
            WHERE t.status = 'draft'
              AND (t.tenant_id, t.step_id) IN (SELECT tenant_id, step_id FROM pg_temp._due_work WHERE status = 'run')
            ORDER BY t.id
            FOR UPDATE SKIP LOCKED
        LOOP
            PERFORM campaigns._assign_ab_sample(v_test, p_as_of);
        END LOOP;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._route_ab_tests(p_as_of timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    -- Whether this transaction holds an A/B test's row lock already (an earlier hop or batch).
    v_first  boolean := coalesce(current_setting('campaigns.ab_test_locked', true), '') = '';
    v_locked uuid[];
BEGIN
    IF NOT EXISTS (SELECT FROM campaigns.ab_tests t
                   WHERE (t.tenant_id, t.step_id) IN (SELECT tenant_id, step_id FROM pg_temp._due_work WHERE status = 'run')) THEN
        RETURN;  -- no test on the steps at hand: the common case costs one probe
    END IF;
    -- The lock order of A/B tests (docs/engine.md, A/B tests under concurrency): a processing run
    -- locks the tests of the steps at hand in id order, draft ones exclusively (_start_ab_tests assigns
    -- the sample) and then all of them shared, held to commit, and reads their status only after that.
    -- A deployment holds the test exclusively, so it either committed before (the statements below
    -- see winner_deployed and route to the winner) or waits for this batch to commit and then releases
    -- the contacts it held back. (Reading the status without the lock let a deployment commit in
    -- between and strand those contacts for good.)
    -- A run waits for these locks only while it holds none: in a later hop (other steps, other tests,
    -- not in id order any more) it takes what it can (SKIP LOCKED) and the contacts at a step whose
    -- test another transaction holds wait for the next pass; so a run never waits for a test while
    -- holding one, and cannot close a cycle with an evaluation deciding several tests in id order.
    -- Processing holds no enrollment lock that a foreign-key check (KEY SHARE) waits for (the claim is
    -- FOR NO KEY UPDATE), so a sample's assignment INSERT never waits on another run's claim while
    -- that run waits here for the test: two runs making the first pass cannot deadlock.
    PERFORM campaigns._start_ab_tests(p_as_of, v_first);
    IF v_first THEN
        PERFORM FROM campaigns.ab_tests t
        WHERE (t.tenant_id, t.step_id) IN (SELECT tenant_id, step_id FROM pg_temp._due_work WHERE status = 'run')
        ORDER BY t.id
        FOR SHARE;
    ELSE
        SELECT array_agg(x.id) INTO v_locked
        FROM (SELECT t.id FROM campaigns.ab_tests t
              WHERE (t.tenant_id, t.step_id) IN (SELECT tenant_id, step_id FROM pg_temp._due_work WHERE status = 'run')
              ORDER BY t.id
              FOR SHARE SKIP LOCKED) x;
        UPDATE pg_temp._due_work w SET status = 'stop'
        FROM campaigns.ab_tests t
        WHERE w.status = 'run' AND t.tenant_id = w.tenant_id AND t.step_id = w.step_id
          AND t.id <> ALL (coalesce(v_locked, '{}'));
    END IF;
    PERFORM set_config('campaigns.ab_test_locked', 'on', true);

    -- In the sample: the assigned variant.
    UPDATE pg_temp._due_work w SET ab_variant_id = a.variant_id
    FROM campaigns.ab_tests t
    JOIN campaigns.ab_test_assignments a ON a.tenant_id = t.tenant_id AND a.ab_test_id = t.id
    WHERE w.status = 'run' AND t.tenant_id = w.tenant_id AND t.step_id = w.step_id AND t.status <> 'draft'
      AND a.enrollment_id = w.enrollment_id;
    -- Held back: the winner once deployed; until then the enrollment waits at the step with no due
    -- time, and the deployment gives it one.
    UPDATE pg_temp._due_work w
    SET ab_variant_id = CASE WHEN t.status = 'winner_deployed' THEN t.winner_variant_id END,
        status = CASE WHEN t.status = 'winner_deployed' THEN w.status ELSE 'held' END
    FROM campaigns.ab_tests t
    WHERE w.status = 'run' AND w.ab_variant_id IS NULL AND t.tenant_id = w.tenant_id AND t.step_id = w.step_id
      AND t.status IN ('running', 'winner_deployed');
END
$$;

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
