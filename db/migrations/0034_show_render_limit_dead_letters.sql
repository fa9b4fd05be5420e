-- Show messages that failed on a render limit (record_send_result outcome render_limit) as failure_kind 'render_limit' in the dead-letter view.
-- depends: 0033_widen_analytics_counters

-- The same view as before (0020_extend_outbox_for_worker), with one more failure kind, tested first:
-- the worker records such a failure with last_error 'render_limit: <which limit>' and no SMTP try.
CREATE OR REPLACE VIEW campaigns.dead_letters WITH (security_invoker = true) AS
SELECT m.id AS message_id, m.tenant_id, m.campaign_id, c.name AS campaign_name, m.step_id, s.step_name, s.step_order,
       m.enrollment_id, m.contact_id, m.to_email, m.smtp_message_id, m.sender_account_id,
       CASE WHEN m.last_error LIKE 'render\_limit:%' THEN 'render_limit'
            WHEN m.bounced_at IS NOT NULL THEN 'bounced'
            WHEN m.attempts >= m.max_attempts THEN 'attempts_exhausted'
            ELSE 'rejected' END AS failure_kind,
       m.attempts, m.max_attempts, m.last_error, m.smtp_response, m.queued_at, m.failed_at, m.locked_by AS last_worker
FROM campaigns.email_messages m
JOIN campaigns.campaigns c ON c.tenant_id = m.tenant_id AND c.id = m.campaign_id
JOIN campaigns.campaign_steps s ON s.tenant_id = m.tenant_id AND s.id = m.step_id
WHERE m.status = 'failed';
COMMENT ON VIEW campaigns.dead_letters IS
    'Failed outbox messages (the dead-letter queue): refused recipients (bounced), transient failures that ran out of attempts (attempts_exhausted), content over a render limit, never sent (render_limit) and other permanent refusals (rejected), with campaign, step, attempts and the last SMTP answer. Under RLS for campaigns_app.';
