-- Create A/B tests on email steps: the test, its 2–5 variants, one assignment per contact, and the variant each message carries.
-- depends: 0003_add_audience_refresh_and_alerts

CREATE TABLE campaigns.ab_tests (
    id                   uuid         NOT NULL DEFAULT gen_random_uuid(),
    tenant_id            uuid         NOT NULL,
    campaign_id          uuid         NOT NULL,
    -- The email step whose subject / content / sender the variants replace.
    step_id              uuid         NOT NULL,
    test_name            text         NOT NULL DEFAULT 'A/B test',
    -- draft: being edited; running: the sample is assigned (first enrollment reached the step);
    -- winner_deployed: decided, and the held-back enrollments released with the winner.
    status               text         NOT NULL DEFAULT 'draft',
    -- Share of the step's audience in the test; the rest is held back for the winner.
    sample_percent       numeric(5,2) NOT NULL DEFAULT 20,
    duration_hours       numeric(6,2) NOT NULL DEFAULT 4,
    win_metric           text         NOT NULL DEFAULT 'open_rate',
    confidence_threshold numeric(5,2) NOT NULL DEFAULT 95,
    minimum_sample_size  integer      NOT NULL DEFAULT 100,
    -- Without a significant winner the control is sent to the rest (the only policy so far).
    if_no_winner         text         NOT NULL DEFAULT 'send_control',
    started_at           timestamptz  NULL,
    decided_at           timestamptz  NULL,
    -- manual: picked through choose_ab_winner; significant: by the z-test; no_winner: the control by default.
    decision             text         NULL,
    winner_variant_id    uuid         NULL,
    -- Per-variant figures at decision time (sent, delivered, opens, clicks, rates, confidence, lift).
    results_summary      jsonb        NULL,
    created_at           timestamptz  NOT NULL DEFAULT now(),
    updated_at           timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT pk_ab_tests PRIMARY KEY (id),
    CONSTRAINT uq_ab_tests_tenant_id UNIQUE (tenant_id, id),
    -- One test per email step.
    CONSTRAINT uq_ab_tests_step UNIQUE (tenant_id, step_id),
    CONSTRAINT fk_ab_tests_step FOREIGN KEY (tenant_id, campaign_id, step_id) REFERENCES campaigns.campaign_steps (tenant_id, campaign_id, id) ON DELETE CASCADE,
    CONSTRAINT ck_ab_tests_status CHECK (status IN ('draft', 'running', 'winner_deployed')),
    CONSTRAINT ck_ab_tests_sample CHECK (sample_percent > 0 AND sample_percent <= 100),
    CONSTRAINT ck_ab_tests_duration CHECK (duration_hours >= 2),
    CONSTRAINT ck_ab_tests_metric CHECK (win_metric IN ('open_rate', 'click_rate')),
    CONSTRAINT ck_ab_tests_confidence CHECK (confidence_threshold > 0 AND confidence_threshold < 100),
    CONSTRAINT ck_ab_tests_minimum_sample CHECK (minimum_sample_size >= 1),
    CONSTRAINT ck_ab_tests_if_no_winner CHECK (if_no_winner = 'send_control'),
    CONSTRAINT ck_ab_tests_decision CHECK (decision IS NULL OR decision IN ('manual', 'significant', 'no_winner')),
    CONSTRAINT ck_ab_tests_deployed CHECK ((status = 'winner_deployed') = (winner_variant_id IS NOT NULL AND decided_at IS NOT NULL)),
    CONSTRAINT ck_ab_tests_started CHECK (status = 'draft' OR started_at IS NOT NULL)
);

CREATE TABLE campaigns.ab_test_variants (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id     uuid        NOT NULL,
    ab_test_id    uuid        NOT NULL,
    -- 'A', 'B', …: the order of the slices of the sample.
    variant_name  text        NOT NULL,
    is_control    boolean     NOT NULL DEFAULT false,
    -- NULL = the step's own value.
    subject_line  text        NULL,
    email_content text        NULL,
    sender_name   text        NULL,
    sender_email  text        NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_ab_test_variants PRIMARY KEY (id),
    CONSTRAINT uq_ab_test_variants_tenant_id UNIQUE (tenant_id, id),
    CONSTRAINT uq_ab_test_variants_test_id UNIQUE (tenant_id, ab_test_id, id),
    CONSTRAINT uq_ab_test_variants_name UNIQUE (tenant_id, ab_test_id, variant_name),
    CONSTRAINT fk_ab_test_variants_test FOREIGN KEY (tenant_id, ab_test_id) REFERENCES campaigns.ab_tests (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT ck_ab_test_variants_name CHECK (variant_name ~ '^[A-Z]$'),
    CONSTRAINT ck_ab_test_variants_sender_email CHECK (sender_email IS NULL OR sender_email ~ '^[^@\s]+@[^@\s]+$')
);
-- At most one control per test.
CREATE UNIQUE INDEX uq_ab_test_variants_control ON campaigns.ab_test_variants (tenant_id, ab_test_id) WHERE is_control;

ALTER TABLE campaigns.ab_tests
    ADD CONSTRAINT fk_ab_tests_winner FOREIGN KEY (tenant_id, id, winner_variant_id)
        REFERENCES campaigns.ab_test_variants (tenant_id, ab_test_id, id);

CREATE TABLE campaigns.ab_test_assignments (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id     uuid        NOT NULL,
    ab_test_id    uuid        NOT NULL,
    variant_id    uuid        NOT NULL,
    contact_id    uuid        NOT NULL,
    enrollment_id uuid        NOT NULL,
    assigned_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_ab_test_assignments PRIMARY KEY (id),
    -- One variant per contact per test.
    CONSTRAINT uq_ab_test_assignments_contact UNIQUE (tenant_id, ab_test_id, contact_id),
    CONSTRAINT uq_ab_test_assignments_enrollment UNIQUE (tenant_id, ab_test_id, enrollment_id),
    CONSTRAINT fk_ab_test_assignments_variant FOREIGN KEY (tenant_id, ab_test_id, variant_id) REFERENCES campaigns.ab_test_variants (tenant_id, ab_test_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_ab_test_assignments_enrollment FOREIGN KEY (tenant_id, enrollment_id) REFERENCES campaigns.campaign_contacts (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_ab_test_assignments_contact FOREIGN KEY (tenant_id, contact_id) REFERENCES campaigns.contacts (tenant_id, id) ON DELETE CASCADE
);

-- The variant whose subject / content / sender this message carries (NULL: no test on its step).
ALTER TABLE campaigns.email_messages ADD COLUMN ab_variant_id uuid NULL;
ALTER TABLE campaigns.email_messages
    ADD CONSTRAINT fk_email_messages_ab_variant FOREIGN KEY (tenant_id, ab_variant_id) REFERENCES campaigns.ab_test_variants (tenant_id, id);
CREATE INDEX ix_email_messages_ab_variant ON campaigns.email_messages (tenant_id, ab_variant_id) WHERE ab_variant_id IS NOT NULL;

DO $rls$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['ab_tests', 'ab_test_variants', 'ab_test_assignments'] LOOP
        EXECUTE format('ALTER TABLE campaigns.%I ENABLE ROW LEVEL SECURITY', v_table);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON campaigns.%I FOR ALL TO campaigns_app
            USING (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid)
            WITH CHECK (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid)$p$, v_table);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON campaigns.%I TO campaigns_app', v_table);
    END LOOP;
END
$rls$;
GRANT SELECT ON campaigns.ab_tests, campaigns.ab_test_variants TO campaigns_readonly;
CREATE POLICY bi_read_all ON campaigns.ab_tests FOR SELECT TO campaigns_readonly USING (true);
CREATE POLICY bi_read_all ON campaigns.ab_test_variants FOR SELECT TO campaigns_readonly USING (true);
