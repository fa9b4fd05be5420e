-- Create the BI views (campaign performance, step funnel, daily metrics) for the read-only role; their column names are a stable contract.
-- depends: 0004_create_ab_tests

-- Views run with their owner's rights, so they see every tenant: they are granted to the BI role
-- only (never to campaigns_app, which must stay inside one tenant). Rates are written out (the same
-- formula as campaigns._rate, which does not exist yet when migrations run on an empty database).

CREATE VIEW campaigns.bi_campaign_performance AS
SELECT c.tenant_id,
       t.name                                   AS tenant_name,
       c.id                                     AS campaign_id,
       c.name                                   AS campaign_name,
       c.campaign_type,
       c.status,
       c.launched_at,
       c.completed_at,
       c.total_contacts,
       coalesce(a.emails_sent, 0)               AS emails_sent,
       coalesce(a.emails_delivered, 0)          AS emails_delivered,
       coalesce(a.emails_bounced, 0)            AS emails_bounced,
       coalesce(a.unique_opens, 0)              AS unique_opens,
       coalesce(a.total_opens, 0)               AS total_opens,
       coalesce(a.unique_clicks, 0)             AS unique_clicks,
       coalesce(a.total_clicks, 0)              AS total_clicks,
       coalesce(a.replies, 0)                   AS replies,
       coalesce(a.spam_complaints, 0)           AS spam_complaints,
       coalesce(a.unsubscribes, 0)              AS unsubscribes,
       CASE WHEN coalesce(a.emails_sent, 0) = 0 THEN 0 ELSE round(100.0 * a.emails_delivered / a.emails_sent, 2) END      AS delivery_rate,
       CASE WHEN coalesce(a.emails_delivered, 0) = 0 THEN 0 ELSE round(100.0 * a.unique_opens / a.emails_delivered, 2) END     AS open_rate,
       CASE WHEN coalesce(a.emails_delivered, 0) = 0 THEN 0 ELSE round(100.0 * a.unique_clicks / a.emails_delivered, 2) END    AS click_rate,
       CASE WHEN coalesce(a.unique_opens, 0) = 0 THEN 0 ELSE round(100.0 * a.unique_clicks / a.unique_opens, 2) END        AS click_to_open_rate,
       CASE WHEN coalesce(a.emails_delivered, 0) = 0 THEN 0 ELSE round(100.0 * a.replies / a.emails_delivered, 2) END          AS reply_rate,
       CASE WHEN coalesce(a.emails_delivered, 0) = 0 THEN 0 ELSE round(100.0 * a.unsubscribes / a.emails_delivered, 2) END     AS unsubscribe_rate,
       CASE WHEN coalesce(a.emails_sent, 0) = 0 THEN 0 ELSE round(100.0 * a.emails_bounced / a.emails_sent, 2) END        AS bounce_rate,
       CASE WHEN coalesce(a.emails_delivered, 0) = 0 THEN 0 ELSE round(100.0 * a.spam_complaints / a.emails_delivered, 2) END  AS complaint_rate,
       a.first_day,
       a.last_day,
       a.calculated_at
FROM campaigns.campaigns c
JOIN campaigns.tenants t ON t.id = c.tenant_id
LEFT JOIN (
    SELECT tenant_id, campaign_id,
           sum(emails_sent) AS emails_sent, sum(emails_delivered) AS emails_delivered,
           sum(emails_bounced) AS emails_bounced, sum(unique_opens) AS unique_opens,
           sum(total_opens) AS total_opens, sum(unique_clicks) AS unique_clicks,
           sum(total_clicks) AS total_clicks, sum(replies) AS replies,
           sum(spam_complaints) AS spam_complaints, sum(unsubscribes) AS unsubscribes,
           min(date) AS first_day, max(date) AS last_day, max(calculated_at) AS calculated_at
    FROM campaigns.campaign_analytics
    GROUP BY tenant_id, campaign_id
) a ON a.tenant_id = c.tenant_id AND a.campaign_id = c.id
WHERE c.status <> 'draft';

COMMENT ON VIEW campaigns.bi_campaign_performance IS
    'One row per launched campaign (all tenants): totals of the daily rollup (campaign_analytics) and the rates recomputed from those totals (percent, 2 decimals, 0 for a zero denominator). As fresh as the last rollup_analytics run.';

CREATE VIEW campaigns.bi_step_funnel AS
SELECT s.tenant_id,
       s.campaign_id,
       c.name             AS campaign_name,
       s.id               AS step_id,
       s.step_order,
       s.step_name,
       s.step_type,
       s.emails_sent,
       s.emails_delivered,
       s.opens            AS unique_opens,
       s.clicks           AS unique_clicks,
       s.replies,
       s.unsubscribes,
       s.bounces,
       CASE WHEN coalesce(s.emails_delivered, 0) = 0 THEN 0 ELSE round(100.0 * s.opens / s.emails_delivered, 2) END    AS open_rate,
       CASE WHEN coalesce(s.emails_delivered, 0) = 0 THEN 0 ELSE round(100.0 * s.clicks / s.emails_delivered, 2) END   AS click_rate,
       CASE WHEN coalesce(s.emails_delivered, 0) = 0 THEN 0 ELSE round(100.0 * s.replies / s.emails_delivered, 2) END  AS reply_rate,
       CASE WHEN coalesce(s.emails_sent, 0) = 0 THEN 0 ELSE round(100.0 * s.bounces / s.emails_sent, 2) END       AS bounce_rate,
       -- Share of the campaign's first email's sends that this step's email reached.
       CASE WHEN coalesce(first_email.emails_sent, 0) = 0 THEN 0 ELSE round(100.0 * s.emails_sent / first_email.emails_sent, 2) END AS reach_rate
FROM campaigns.campaign_steps s
JOIN campaigns.campaigns c ON c.tenant_id = s.tenant_id AND c.id = s.campaign_id
LEFT JOIN LATERAL (
    SELECT f.emails_sent FROM campaigns.campaign_steps f
    WHERE f.tenant_id = s.tenant_id AND f.campaign_id = s.campaign_id AND f.step_type = 'email'
    ORDER BY f.step_order LIMIT 1
) first_email ON true
WHERE s.step_type = 'email';

COMMENT ON VIEW campaigns.bi_step_funnel IS
    'One row per email step (all tenants): live counters of sent and tracked mail (unique opens and clicks per message), rates per delivered (bounces per sent), and reach relative to the campaign''s first email.';

CREATE VIEW campaigns.bi_daily_metrics AS
SELECT a.tenant_id, a.campaign_id, c.name AS campaign_name, a.date,
       a.emails_sent, a.emails_delivered, a.emails_bounced, a.unique_opens, a.total_opens, a.unique_clicks,
       a.total_clicks, a.replies, a.spam_complaints, a.unsubscribes, a.delivery_rate, a.open_rate, a.click_rate,
       a.click_to_open_rate, a.reply_rate, a.unsubscribe_rate, a.bounce_rate, a.complaint_rate, a.calculated_at
FROM campaigns.campaign_analytics a
JOIN campaigns.campaigns c ON c.tenant_id = a.tenant_id AND c.id = a.campaign_id;

COMMENT ON VIEW campaigns.bi_daily_metrics IS
    'campaign_analytics with the campaign name: one row per campaign and UTC day (all tenants).';

GRANT SELECT ON campaigns.bi_campaign_performance, campaigns.bi_step_funnel, campaigns.bi_daily_metrics TO campaigns_readonly;
