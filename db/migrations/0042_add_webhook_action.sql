-- The webhook action step: deliveries to a step's URL through the webhook outbox, signed with a per-tenant action secret.
-- depends: 0041_add_enrollment_reentry

-- The secret the tenant's webhook action deliveries are signed with (they have no subscription, so
-- no secret of their own): Standard Webhooks' "whsec_" + base64 of 32 random bytes, as
-- campaigns._webhook_secret() writes it (inlined: the functions files are applied after the migrations).
ALTER TABLE campaigns.tenants
    ADD COLUMN webhook_secret text NOT NULL
        DEFAULT 'whsec_' || encode(decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'), 'base64'),
    ADD CONSTRAINT ck_tenants_webhook_secret CHECK (webhook_secret ~ '^whsec_[A-Za-z0-9+/=]{32,}$');
-- Rotated by an admin through campaigns.rotate_webhook_action_secret.
GRANT UPDATE (webhook_secret) ON campaigns.tenants TO campaigns_app;

ALTER TABLE campaigns.campaign_steps DROP CONSTRAINT ck_campaign_steps_action;
ALTER TABLE campaigns.campaign_steps ADD CONSTRAINT ck_campaign_steps_action CHECK (
    step_type <> 'action' OR coalesce(action_type IN ('add_tag', 'remove_tag', 'update_field', 'adjust_score', 'exit',
                                                      'move_to_campaign', 'notify', 'webhook'), false));

-- A delivery is either an event for a subscription (subscription_id) or a webhook action step's POST
-- (url, step_id, enrollment_id, on_failure: what a final failure does to the enrollment).
ALTER TABLE campaigns.webhook_deliveries
    ALTER COLUMN subscription_id DROP NOT NULL,
    ADD COLUMN url           text NULL,
    ADD COLUMN step_id       uuid NULL,
    ADD COLUMN enrollment_id uuid NULL,
    ADD COLUMN on_failure    text NULL,
    ADD CONSTRAINT ck_webhook_deliveries_target CHECK ((subscription_id IS NULL) <> (url IS NULL)),
    ADD CONSTRAINT ck_webhook_deliveries_action CHECK (
        (url IS NULL) = (step_id IS NULL) AND (url IS NULL) = (enrollment_id IS NULL) AND (url IS NULL) = (on_failure IS NULL)),
    ADD CONSTRAINT ck_webhook_deliveries_url CHECK (url ~ '^https?://[^/?#\s]+' AND length(url) <= 2048),
    ADD CONSTRAINT ck_webhook_deliveries_on_failure CHECK (on_failure IN ('continue', 'exit')),
    -- The step's and the enrollment's log go with them, as a subscription's does.
    ADD CONSTRAINT fk_webhook_deliveries_step FOREIGN KEY (tenant_id, step_id)
        REFERENCES campaigns.campaign_steps (tenant_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT fk_webhook_deliveries_enrollment FOREIGN KEY (tenant_id, enrollment_id)
        REFERENCES campaigns.campaign_contacts (tenant_id, id) ON DELETE CASCADE;
-- The step's delivery log, and the foreign keys' cascades.
CREATE INDEX ix_webhook_deliveries_step ON campaigns.webhook_deliveries (tenant_id, step_id, created_at) WHERE step_id IS NOT NULL;
CREATE INDEX ix_webhook_deliveries_enrollment ON campaigns.webhook_deliveries (tenant_id, enrollment_id) WHERE enrollment_id IS NOT NULL;
