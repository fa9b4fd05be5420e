-- The BI views: what the read-only reporting role (campaigns_readonly) reads. Their column names are a
-- stable contract (added to, never renamed). They are (re)defined here rather than in a migration so
-- they can use the rate formula campaigns._rate, which is defined above this file; a migration that
-- must change a column they read drops them first, and this file creates them again.
--
-- One type per kind of figure: counters are bigint, rates numeric(5,2) (percent, 2 decimals, 0 for a
-- zero denominator). Every view carries tenant_id and tenant_name (the role sees every tenant, so a
-- campaign name alone is never a key), and a campaign status wherever a campaign not launched could appear.
-- Views run with their owner's rights, so they see every tenant: they are granted to the BI role only,
-- never to campaigns_app, which must stay inside one tenant.

CREATE OR REPLACE VIEW campaigns.bi_campaign_performance AS
SELECT c.tenant_id,
       t.name                                                        AS tenant_name,
       c.id                                                          AS campaign_id,
       c.name                                                        AS campaign_name,
       c.campaign_type,
       c.status,
       c.launched_at,
       c.completed_at,
       c.total_contacts::bigint                                      AS total_contacts,
       coalesce(a.emails_sent, 0)::bigint                            AS emails_sent,
       coalesce(a.emails_delivered, 0)::bigint                       AS emails_delivered,
       coalesce(a.emails_bounced, 0)::bigint                         AS emails_bounced,
       coalesce(a.unique_opens, 0)::bigint                           AS unique_opens,
       coalesce(a.total_opens, 0)::bigint                            AS total_opens,
       coalesce(a.unique_clicks, 0)::bigint                          AS unique_clicks,
       coalesce(a.total_clicks, 0)::bigint                           AS total_clicks,
       coalesce(a.replies, 0)::bigint                                AS replies,
       coalesce(a.spam_complaints, 0)::bigint                        AS spam_complaints,
       coalesce(a.unsubscribes, 0)::bigint                           AS unsubscribes,
       r.delivery_rate::numeric(5,2)                                 AS delivery_rate,
       r.open_rate::numeric(5,2)                                     AS open_rate,
       r.click_rate::numeric(5,2)                                    AS click_rate,
       r.click_to_open_rate::numeric(5,2)                            AS click_to_open_rate,
       r.reply_rate::numeric(5,2)                                    AS reply_rate,
       r.unsubscribe_rate::numeric(5,2)                              AS unsubscribe_rate,
       r.bounce_rate::numeric(5,2)                                   AS bounce_rate,
       r.complaint_rate::numeric(5,2)                                AS complaint_rate,
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
CROSS JOIN LATERAL campaigns._rates(
    coalesce(a.emails_sent, 0)::bigint, coalesce(a.emails_delivered, 0)::bigint, coalesce(a.emails_bounced, 0)::bigint,
    coalesce(a.unique_opens, 0)::bigint, coalesce(a.unique_clicks, 0)::bigint, coalesce(a.replies, 0)::bigint,
    coalesce(a.unsubscribes, 0)::bigint, coalesce(a.spam_complaints, 0)::bigint) r
-- Launched means launched: a campaign scheduled for later, or a draft, has not sent anything yet.
WHERE c.launched_at IS NOT NULL;

COMMENT ON VIEW campaigns.bi_campaign_performance IS
    'One row per launched campaign (all tenants; launched_at set): totals of the daily rollup (campaign_analytics) and the rates recomputed from those totals (percent, 2 decimals, 0 for a zero denominator). Counters bigint, rates numeric(5,2). As fresh as the last rollup_analytics run.';

CREATE OR REPLACE VIEW campaigns.bi_step_funnel AS
SELECT s.tenant_id,
       t.name                                                        AS tenant_name,
       s.campaign_id,
       c.name                                                        AS campaign_name,
       c.status                                                      AS campaign_status,
       c.launched_at                                                 AS campaign_launched_at,
       s.id                                                          AS step_id,
       s.step_order,
       s.step_name,
       s.step_type,
       s.emails_sent::bigint                                         AS emails_sent,
       s.emails_delivered::bigint                                    AS emails_delivered,
       s.opens::bigint                                               AS unique_opens,
       s.clicks::bigint                                              AS unique_clicks,
       s.replies::bigint                                             AS replies,
       s.unsubscribes::bigint                                        AS unsubscribes,
       s.bounces::bigint                                             AS bounces,
       campaigns._rate(s.opens, s.emails_delivered)::numeric(5,2)   AS open_rate,
       campaigns._rate(s.clicks, s.emails_delivered)::numeric(5,2)  AS click_rate,
       campaigns._rate(s.replies, s.emails_delivered)::numeric(5,2) AS reply_rate,
       campaigns._rate(s.bounces, s.emails_sent)::numeric(5,2)      AS bounce_rate,
       -- Share of the campaign's first email's sends that this step's email reached.
       campaigns._rate(s.emails_sent, first_email.emails_sent)::numeric(5,2) AS reach_rate
FROM campaigns.campaign_steps s
JOIN campaigns.campaigns c ON c.tenant_id = s.tenant_id AND c.id = s.campaign_id
JOIN campaigns.tenants t ON t.id = s.tenant_id
LEFT JOIN LATERAL (
    SELECT f.emails_sent FROM campaigns.campaign_steps f
    WHERE f.tenant_id = s.tenant_id AND f.campaign_id = s.campaign_id AND f.step_type = 'email'
    ORDER BY f.step_order LIMIT 1
) first_email ON true
WHERE s.step_type = 'email';

COMMENT ON VIEW campaigns.bi_step_funnel IS
    'One row per email step of every campaign (all tenants), drafts included: filter on campaign_status or campaign_launched_at. Live counters of sent and tracked mail (unique opens and clicks per message), rates per delivered (bounces per sent), and reach relative to the campaign''s first email. Counters bigint, rates numeric(5,2).';

CREATE OR REPLACE VIEW campaigns.bi_daily_metrics AS
SELECT a.tenant_id, t.name AS tenant_name, a.campaign_id, c.name AS campaign_name, a.date,
       a.emails_sent, a.emails_delivered, a.emails_bounced, a.unique_opens, a.total_opens, a.unique_clicks,
       a.total_clicks, a.replies, a.spam_complaints, a.unsubscribes, a.delivery_rate, a.open_rate, a.click_rate,
       a.click_to_open_rate, a.reply_rate, a.unsubscribe_rate, a.bounce_rate, a.complaint_rate, a.calculated_at
FROM campaigns.campaign_analytics a
JOIN campaigns.campaigns c ON c.tenant_id = a.tenant_id AND c.id = a.campaign_id
JOIN campaigns.tenants t ON t.id = a.tenant_id;

COMMENT ON VIEW campaigns.bi_daily_metrics IS
    'campaign_analytics with the tenant and campaign names: one row per campaign and UTC day (all tenants). Counters bigint, rates numeric(5,2).';

GRANT SELECT ON campaigns.bi_campaign_performance, campaigns.bi_step_funnel, campaigns.bi_daily_metrics TO campaigns_readonly;
