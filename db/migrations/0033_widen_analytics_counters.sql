-- Widen the daily analytics counters to bigint, so every BI relation gives counters one type; the BI views are rebuilt by db/functions/95_bi_views.sql.
-- depends: 0031_add_tenant_send_usage

-- The views read these columns, so they go first; the functions step that follows every migration
-- creates them again (with their grants), in their new form.
DROP VIEW IF EXISTS campaigns.bi_campaign_performance;
DROP VIEW IF EXISTS campaigns.bi_step_funnel;
DROP VIEW IF EXISTS campaigns.bi_daily_metrics;

ALTER TABLE campaigns.campaign_analytics
    ALTER COLUMN emails_sent      TYPE bigint,
    ALTER COLUMN emails_delivered TYPE bigint,
    ALTER COLUMN emails_bounced   TYPE bigint,
    ALTER COLUMN unique_opens     TYPE bigint,
    ALTER COLUMN total_opens      TYPE bigint,
    ALTER COLUMN unique_clicks    TYPE bigint,
    ALTER COLUMN total_clicks     TYPE bigint,
    ALTER COLUMN replies          TYPE bigint,
    ALTER COLUMN spam_complaints  TYPE bigint,
    ALTER COLUMN unsubscribes     TYPE bigint;
