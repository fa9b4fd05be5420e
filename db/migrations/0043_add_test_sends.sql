-- Test sends: one real mail of a step, to an address a user gives, in an outbox of its own.
-- depends: 0041_add_enrollment_reentry

-- Not email_messages rows: a test has no enrollment, may have no contact, must not count in
-- analytics or step counters, must not be cancelled by the real contact's suppression and must not
-- collide with the real send of the step (uq_email_messages_enrollment_step). A table of its own
-- keeps all of that out of the outbox's claim, results and roll-ups, which stay as they were.
-- `message` is what the worker composes from (the claim's row, rendered data included), taken when
-- the test was asked for: the mail shows the content as it was then.
-- Lifecycle: queued --claim--> sending --result--> sent | queued (retry, at most 3 attempts) | failed.
CREATE TABLE campaigns.test_sends (
    id               uuid        NOT NULL DEFAULT campaigns.uuid_v7(),
    tenant_id        uuid        NOT NULL,
    campaign_id      uuid        NOT NULL,
    step_id          uuid        NOT NULL,
    contact_id       uuid        NULL,
    variant_name     text        NULL,
    to_email         text        NOT NULL,
    message          jsonb       NOT NULL,
    smtp_message_id  text        NOT NULL,
    status           text        NOT NULL DEFAULT 'queued',
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz NULL,
    locked_by        text        NULL,
    last_error       text        NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz NULL,
    failed_at        timestamptz NULL,
    CONSTRAINT pk_test_sends PRIMARY KEY (id),
    CONSTRAINT uq_test_sends_tenant_id UNIQUE (tenant_id, id),
    CONSTRAINT fk_test_sends_campaign FOREIGN KEY (tenant_id, campaign_id)
        REFERENCES campaigns.campaigns (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_test_sends_step FOREIGN KEY (tenant_id, step_id)
        REFERENCES campaigns.campaign_steps (tenant_id, id) ON DELETE CASCADE,
    -- contact_id: whose data was rendered, for the record; no foreign key (the data is in `message`).
    CONSTRAINT ck_test_sends_status CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    CONSTRAINT ck_test_sends_lease CHECK ((status = 'sending') = (lease_expires_at IS NOT NULL)),
    CONSTRAINT ck_test_sends_attempts CHECK (attempts >= 0),
    CONSTRAINT ck_test_sends_to_email CHECK (to_email ~ '^[^@\s]+@[^@\s]+$' AND length(to_email) <= 320),
    CONSTRAINT ck_test_sends_message CHECK (jsonb_typeof(message) = 'object')
);
CREATE INDEX ix_test_sends_claim ON campaigns.test_sends (next_attempt_at) WHERE status = 'queued';
CREATE INDEX ix_test_sends_lease ON campaigns.test_sends (lease_expires_at) WHERE status = 'sending';
-- The rate limit counts a tenant's tests of the last hour.
CREATE INDEX ix_test_sends_tenant_created ON campaigns.test_sends (tenant_id, created_at);

ALTER TABLE campaigns.test_sends ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON campaigns.test_sends FOR ALL TO campaigns_app
    USING (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid);
-- Queued through campaigns.enqueue_test_send under the tenant's RLS; claimed and recorded by the worker
-- through SECURITY DEFINER functions. The message holds contact data: not for BI.
GRANT SELECT, INSERT ON campaigns.test_sends TO campaigns_app;
