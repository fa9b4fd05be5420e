-- Add retry lifetimes (tenant, sender account), lease reclaims counted apart from attempts and a stored failure kind to the outbox, and rebuild the dead-letter view on it.
-- depends: 0033_widen_analytics_counters

-- How long a message may keep failing transiently (4xx, timeouts, refused connections) before it
-- becomes a dead letter, counted from its first transient failure. NULL: the sender account's
-- falls back to the tenant's, the tenant's to the engine's default (campaigns._retry_lifetime).
ALTER TABLE campaigns.tenants
    ADD COLUMN retry_lifetime interval NULL,
    ADD CONSTRAINT ck_tenants_retry_lifetime
        CHECK (retry_lifetime IS NULL OR retry_lifetime BETWEEN interval '1 minute' AND interval '30 days');
ALTER TABLE campaigns.sender_accounts
    ADD COLUMN retry_lifetime interval NULL,
    ADD CONSTRAINT ck_sender_accounts_retry_lifetime
        CHECK (retry_lifetime IS NULL OR retry_lifetime BETWEEN interval '1 minute' AND interval '30 days');

-- retry_expires_at: first transient failure + the lifetime, fixed then (NULL until a transient
-- failure). lease_reclaims: how many times an expired lease (a worker that died holding the message)
-- was taken over; not an attempt, since nothing was recorded. failure_kind: why a failed message is
-- a dead letter, written when it fails.
ALTER TABLE campaigns.email_messages
    ADD COLUMN retry_expires_at timestamptz NULL,
    ADD COLUMN lease_reclaims integer NOT NULL DEFAULT 0,
    ADD COLUMN failure_kind text NULL;

-- Failed rows of before: the kind the dead-letter view used to compute, plus render limits.
UPDATE campaigns.email_messages m
SET failure_kind = CASE WHEN m.bounced_at IS NOT NULL THEN 'bounced'
                        WHEN m.last_error LIKE 'render\_limit:%' THEN 'render_limit'
                        WHEN m.attempts >= m.max_attempts THEN 'attempts_exhausted'
                        ELSE 'rejected' END
WHERE m.status = 'failed';

ALTER TABLE campaigns.email_messages
    ADD CONSTRAINT ck_email_messages_lease_reclaims CHECK (lease_reclaims >= 0),
    -- bounced: the relay refused the recipient (5xx); rejected: a permanent refusal that is not the
    -- recipient's (sender, content); retry_lifetime_expired: transient failures for longer than the
    -- retry lifetime; worker_crashed: every worker that leased it died (lease reclaims used up);
    -- render_limit: the message could not be rendered within the renderer's limits;
    -- attempts_exhausted: transient failures until max_attempts (rows failed before retry lifetimes).
    ADD CONSTRAINT ck_email_messages_failure_kind CHECK (failure_kind IN (
        'bounced', 'rejected', 'retry_lifetime_expired', 'worker_crashed', 'render_limit', 'attempts_exhausted')),
    ADD CONSTRAINT ck_email_messages_failure_kind_status CHECK (failure_kind IS NULL OR status = 'failed');

-- max_attempts stays for compatibility (the column and its CHECK) but no longer limits anything.
COMMENT ON COLUMN campaigns.email_messages.max_attempts IS
    'Unused since retry lifetimes (kept for compatibility): transient failures are retried until retry_expires_at.';
COMMENT ON COLUMN campaigns.email_messages.attempts IS
    'SMTP attempts whose result was recorded (sent, retry, failed, rejected); a claim or a release does not count.';

DROP VIEW campaigns.dead_letters;
-- The dead letters: failed messages with their context and no secret (no body, no credentials).
-- security_invoker: the API role sees its own tenant's rows only (Row Level Security applies).
CREATE VIEW campaigns.dead_letters WITH (security_invoker = true) AS
SELECT m.id AS message_id, m.tenant_id, m.campaign_id, c.name AS campaign_name, m.step_id, s.step_name, s.step_order,
       m.enrollment_id, m.contact_id, m.to_email, m.smtp_message_id, m.sender_account_id,
       m.failure_kind, m.attempts, m.lease_reclaims, m.last_error, m.smtp_response, m.queued_at, m.failed_at,
       m.retry_expires_at, m.locked_by AS last_worker
FROM campaigns.email_messages m
JOIN campaigns.campaigns c ON c.tenant_id = m.tenant_id AND c.id = m.campaign_id
JOIN campaigns.campaign_steps s ON s.tenant_id = m.tenant_id AND s.id = m.step_id
WHERE m.status = 'failed';
COMMENT ON VIEW campaigns.dead_letters IS
    'Failed outbox messages (the dead-letter queue) with why (failure_kind: bounced, rejected, retry_lifetime_expired, worker_crashed, render_limit, or attempts_exhausted for rows failed before retry lifetimes), campaign, step, recorded attempts, lease reclaims, the last error and SMTP reply (smtp_response), when the retry lifetime ended (retry_expires_at) and the last worker. campaigns.requeue_dead_letters puts them back. Under RLS for campaigns_app.';
GRANT SELECT ON campaigns.dead_letters TO campaigns_app;
