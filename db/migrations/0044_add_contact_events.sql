-- Contact events from applications (signed up, purchased, …), idempotency keys, and the campaigns they start and end.
-- depends: 0041_add_enrollment_reentry

-- One row per event an application reported. Partitioned by the event's time (a default partition
-- until partition maintenance adds monthly ones), so every key includes occurred_at; the
-- idempotency keys live apart (a unique key across partitions would have to include the time).
CREATE TABLE campaigns.contact_events (
    id             uuid        NOT NULL DEFAULT campaigns.uuid_v7(),
    tenant_id      uuid        NOT NULL,
    contact_id     uuid        NOT NULL,
    name           text        NOT NULL,
    properties     jsonb       NOT NULL DEFAULT '{}',
    occurred_at    timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_contact_events PRIMARY KEY (tenant_id, occurred_at, id),
    CONSTRAINT fk_contact_events_contact FOREIGN KEY (tenant_id, contact_id)
        REFERENCES campaigns.contacts (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT ck_contact_events_name CHECK (name ~ '^[A-Za-z0-9_.:\-]{1,100}$'),
    CONSTRAINT ck_contact_events_properties CHECK (jsonb_typeof(properties) = 'object' AND octet_length(properties::text) <= 65536)
) PARTITION BY RANGE (occurred_at);
CREATE TABLE campaigns.contact_events_default PARTITION OF campaigns.contact_events DEFAULT;
CREATE INDEX ix_contact_events_contact ON campaigns.contact_events (tenant_id, contact_id, occurred_at);

-- The first result of each idempotency key: a repeat returns it and changes nothing.
CREATE TABLE campaigns.event_idempotency_keys (
    tenant_id  uuid        NOT NULL,
    key        text        NOT NULL,
    event_id   uuid        NOT NULL,
    result     jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_event_idempotency_keys PRIMARY KEY (tenant_id, key),
    CONSTRAINT fk_event_idempotency_keys_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants (id) ON DELETE CASCADE,
    CONSTRAINT ck_event_idempotency_keys_key CHECK (length(key) BETWEEN 1 AND 255)
);

-- A triggered campaign enrolls a contact when an event of trigger_event arrives whose properties
-- match trigger_filter (the segment-rule language); an event named in exit_events ends the
-- contact's live enrollment with exit_reason goal.
ALTER TABLE campaigns.campaigns
    ADD COLUMN trigger_event text NULL,
    ADD COLUMN trigger_filter jsonb NULL,
    ADD COLUMN exit_events text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT ck_campaigns_trigger_event CHECK (trigger_event IS NULL OR trigger_event ~ '^[A-Za-z0-9_.:\-]{1,100}$'),
    ADD CONSTRAINT ck_campaigns_trigger_filter CHECK (trigger_filter IS NULL OR jsonb_typeof(trigger_filter) = 'object'),
    ADD CONSTRAINT ck_campaigns_exit_events CHECK (cardinality(exit_events) <= 20);
CREATE INDEX ix_campaigns_trigger_event ON campaigns.campaigns (tenant_id, trigger_event) WHERE trigger_event IS NOT NULL;

-- The event that started an enrollment, and its properties as they were (templates read them as
-- {{ event.<name> }}).
ALTER TABLE campaigns.campaign_contacts
    ADD COLUMN trigger_event_id uuid NULL,
    ADD COLUMN trigger_properties jsonb NULL;

ALTER TABLE campaigns.contact_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE campaigns.event_idempotency_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON campaigns.contact_events FOR ALL TO campaigns_app
    USING (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON campaigns.event_idempotency_keys FOR ALL TO campaigns_app
    USING (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid);
CREATE POLICY bi_read_all ON campaigns.contact_events FOR SELECT TO campaigns_readonly USING (true);
GRANT SELECT, INSERT ON campaigns.contact_events TO campaigns_app;
GRANT SELECT, INSERT, UPDATE ON campaigns.event_idempotency_keys TO campaigns_app;
GRANT SELECT ON campaigns.contact_events TO campaigns_readonly;
