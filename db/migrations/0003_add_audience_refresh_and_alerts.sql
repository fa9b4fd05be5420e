-- Let a campaign follow its dynamic segment (refresh_audience) and record deliverability alerts raised by the engine.
-- depends: 0002_enable_row_level_security

-- When true, refresh_campaign_audiences enrolls contacts newly in the segment at the first step and
-- exits (segment_exit) those no longer in it, daily.
ALTER TABLE campaigns.campaigns ADD COLUMN refresh_audience boolean NOT NULL DEFAULT false;

CREATE TABLE campaigns.campaign_alerts (
    id           uuid         NOT NULL DEFAULT gen_random_uuid(),
    tenant_id    uuid         NOT NULL,
    campaign_id  uuid         NOT NULL,
    -- bounce_rate: over 5% of the last 24 hours' sends bounced (the campaign is paused);
    -- complaint_rate: over 0.1% of them drew a complaint.
    kind         text         NOT NULL,
    value        numeric(6,2) NOT NULL,
    threshold    numeric(6,2) NOT NULL,
    -- What the engine did about it: paused, or none.
    action_taken text         NOT NULL,
    raised_at    timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT pk_campaign_alerts PRIMARY KEY (id),
    CONSTRAINT fk_campaign_alerts_campaign FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns.campaigns (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT ck_campaign_alerts_kind CHECK (kind IN ('bounce_rate', 'complaint_rate')),
    CONSTRAINT ck_campaign_alerts_action CHECK (action_taken IN ('paused', 'none'))
);
CREATE INDEX ix_campaign_alerts_campaign ON campaigns.campaign_alerts (tenant_id, campaign_id, raised_at);

ALTER TABLE campaigns.campaign_alerts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON campaigns.campaign_alerts FOR ALL TO campaigns_app
    USING (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid);
GRANT SELECT ON campaigns.campaign_alerts TO campaigns_app;
GRANT SELECT ON campaigns.campaign_alerts TO campaigns_readonly;
CREATE POLICY bi_read_all ON campaigns.campaign_alerts FOR SELECT TO campaigns_readonly USING (true);
