-- Outgoing webhooks: per-tenant subscriptions and the delivery outbox the worker sends from.
-- depends: 0033_widen_analytics_counters

-- A subscription: where to POST which event types, signed with its own secret (Standard Webhooks:
-- "whsec_" + base64 of 32 random bytes). failing_since starts a run of failed deliveries and is
-- cleared by a success; a run longer than the retry lifetime (3 days) disables the subscription.
CREATE TABLE campaigns.webhook_subscriptions (
    id              uuid        NOT NULL DEFAULT campaigns.uuid_v7(),
    tenant_id       uuid        NOT NULL,
    url             text        NOT NULL,
    event_types     text[]      NOT NULL,
    description     text        NULL,
    secret          text        NOT NULL,
    enabled         boolean     NOT NULL DEFAULT true,
    disabled_at     timestamptz NULL,
    disabled_reason text        NULL,
    failing_since   timestamptz NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_webhook_subscriptions PRIMARY KEY (id),
    CONSTRAINT uq_webhook_subscriptions_tenant_id UNIQUE (tenant_id, id),
    CONSTRAINT fk_webhook_subscriptions_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants (id) ON DELETE CASCADE,
    CONSTRAINT ck_webhook_subscriptions_url CHECK (url ~ '^https?://[^/?#\s]+' AND length(url) <= 2048),
    CONSTRAINT ck_webhook_subscriptions_event_types CHECK (
        cardinality(event_types) BETWEEN 1 AND 32 AND event_types <@ ARRAY[
            'message.sent', 'message.delivered', 'message.opened', 'message.clicked', 'message.replied',
            'message.bounced', 'message.complained', 'message.unsubscribed', 'enrollment.started',
            'enrollment.completed', 'enrollment.exited', 'campaign.launched', 'campaign.paused',
            'campaign.completed', 'ab_test.decided']),
    CONSTRAINT ck_webhook_subscriptions_secret CHECK (secret ~ '^whsec_[A-Za-z0-9+/=]{32,}$'),
    CONSTRAINT ck_webhook_subscriptions_disabled CHECK (enabled = (disabled_at IS NULL))
);

-- One row per (subscription, event): queued --claim--> sending --result--> delivered | queued (retry)
-- | failed (lifetime over, or the subscription was disabled). event_id is the Standard Webhooks
-- `webhook-id`: the same for every try and for a manual redelivery, so receivers can de-duplicate.
CREATE TABLE campaigns.webhook_deliveries (
    id               uuid        NOT NULL DEFAULT campaigns.uuid_v7(),
    tenant_id        uuid        NOT NULL,
    subscription_id  uuid        NOT NULL,
    event_id         text        NOT NULL,
    event_type       text        NOT NULL,
    payload          jsonb       NOT NULL,
    status           text        NOT NULL DEFAULT 'queued',
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz NULL,
    locked_by        text        NULL,
    response_status  integer     NULL,
    response_body    text        NULL,
    latency_ms       integer     NULL,
    last_error       text        NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL DEFAULT now() + interval '3 days',
    delivered_at     timestamptz NULL,
    failed_at        timestamptz NULL,
    CONSTRAINT pk_webhook_deliveries PRIMARY KEY (id),
    CONSTRAINT uq_webhook_deliveries_tenant_id UNIQUE (tenant_id, id),
    CONSTRAINT fk_webhook_deliveries_subscription FOREIGN KEY (tenant_id, subscription_id)
        REFERENCES campaigns.webhook_subscriptions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT ck_webhook_deliveries_status CHECK (status IN ('queued', 'sending', 'delivered', 'failed')),
    CONSTRAINT ck_webhook_deliveries_lease CHECK ((status = 'sending') = (lease_expires_at IS NOT NULL)),
    CONSTRAINT ck_webhook_deliveries_attempts CHECK (attempts >= 0),
    CONSTRAINT ck_webhook_deliveries_payload CHECK (jsonb_typeof(payload) = 'object')
);
CREATE INDEX ix_webhook_deliveries_claim ON campaigns.webhook_deliveries (next_attempt_at) WHERE status = 'queued';
CREATE INDEX ix_webhook_deliveries_lease ON campaigns.webhook_deliveries (lease_expires_at) WHERE status = 'sending';
CREATE INDEX ix_webhook_deliveries_subscription ON campaigns.webhook_deliveries (tenant_id, subscription_id, created_at);

ALTER TABLE campaigns.webhook_subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE campaigns.webhook_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON campaigns.webhook_subscriptions FOR ALL TO campaigns_app
    USING (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON campaigns.webhook_deliveries FOR ALL TO campaigns_app
    USING (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid);
-- Written through the webhook functions (db/functions/8*_webhook_*.sql) under the tenant's RLS; the secret is not for
-- BI, so the read-only role gets neither table.
GRANT SELECT ON campaigns.webhook_subscriptions, campaigns.webhook_deliveries TO campaigns_app;
GRANT INSERT, UPDATE, DELETE ON campaigns.webhook_subscriptions TO campaigns_app;
GRANT INSERT ON campaigns.webhook_deliveries TO campaigns_app;
