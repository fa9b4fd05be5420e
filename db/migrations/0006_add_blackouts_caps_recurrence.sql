-- Add blackout dates, per-contact frequency caps (tenant settings) and recurring campaign schedules.
-- depends: 0005_create_bi_views

-- Opt-in (NULL = none): campaign emails a contact may receive per 24 hours across the tenant's
-- campaigns, and the minimum hours between two of them. The cold-email preset is 2 and 4.
ALTER TABLE campaigns.tenants ADD COLUMN max_emails_per_contact_per_day integer NULL;
ALTER TABLE campaigns.tenants ADD COLUMN min_hours_between_emails numeric(5,2) NULL;
ALTER TABLE campaigns.tenants
    ADD CONSTRAINT ck_tenants_contact_cap CHECK (max_emails_per_contact_per_day IS NULL OR max_emails_per_contact_per_day > 0),
    ADD CONSTRAINT ck_tenants_contact_gap CHECK (min_hours_between_emails IS NULL OR min_hours_between_emails > 0);

CREATE TABLE campaigns.blackout_dates (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id    uuid        NOT NULL,
    name         text        NOT NULL,
    -- Local calendar days (the recipient's timezone), inclusive.
    starts_on    date        NOT NULL,
    ends_on      date        NOT NULL,
    -- delay: move the send to the next allowed day at the window start; skip: that email step is
    -- skipped for recipients whose day it is (the sequence goes on); allow: overrides the others.
    action       text        NOT NULL DEFAULT 'delay',
    -- NULL = every campaign of the tenant.
    campaign_ids uuid[]      NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_blackout_dates PRIMARY KEY (id),
    CONSTRAINT fk_blackout_dates_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants (id) ON DELETE CASCADE,
    CONSTRAINT ck_blackout_dates_range CHECK (starts_on <= ends_on AND ends_on - starts_on <= 366),
    CONSTRAINT ck_blackout_dates_action CHECK (action IN ('delay', 'skip', 'allow')),
    CONSTRAINT ck_blackout_dates_name CHECK (length(btrim(name)) BETWEEN 1 AND 255)
);
CREATE INDEX ix_blackout_dates_tenant ON campaigns.blackout_dates (tenant_id, ends_on);

ALTER TABLE campaigns.blackout_dates ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON campaigns.blackout_dates FOR ALL TO campaigns_app
    USING (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON campaigns.blackout_dates TO campaigns_app;

-- A recurring campaign is a template: at each occurrence launch_scheduled_campaigns clones it and
-- launches the clone (a new run, so contacts can receive every occurrence), then moves scheduled_at
-- to the next occurrence. recurrence = {frequency: daily|weekly|monthly, interval, days_of_week
-- (ISO 1-7), day_of_month (1-31, clamped to the month's last day), time "HH:MM", timezone,
-- start_date, end_date, occurrences}.
ALTER TABLE campaigns.campaigns ADD COLUMN recurrence jsonb NULL;
ALTER TABLE campaigns.campaigns ADD COLUMN occurrence_count integer NOT NULL DEFAULT 0;
ALTER TABLE campaigns.campaigns ADD COLUMN parent_campaign_id uuid NULL;
ALTER TABLE campaigns.campaigns
    ADD CONSTRAINT fk_campaigns_parent FOREIGN KEY (tenant_id, parent_campaign_id) REFERENCES campaigns.campaigns (tenant_id, id) ON DELETE SET NULL (parent_campaign_id),
    ADD CONSTRAINT ck_campaigns_recurrence CHECK (recurrence IS NULL OR jsonb_typeof(recurrence) = 'object'),
    ADD CONSTRAINT ck_campaigns_occurrence_count CHECK (occurrence_count >= 0);
CREATE INDEX ix_campaigns_parent ON campaigns.campaigns (tenant_id, parent_campaign_id) WHERE parent_campaign_id IS NOT NULL;
