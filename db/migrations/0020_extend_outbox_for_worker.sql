-- Add what the outbox worker records and reads: failure time and sent subject on messages, per-sender SMTP relays, and the dead-letter view.
-- depends: 0002_enable_row_level_security

-- When a message became failed (a permanent SMTP refusal, or its attempts ran out): the dead letter's time.
ALTER TABLE campaigns.email_messages ADD COLUMN failed_at timestamptz NULL;
-- The subject line as rendered and sent, kept for reply matching by subject (the body is never stored).
ALTER TABLE campaigns.email_messages ADD COLUMN subject text NULL;
ALTER TABLE campaigns.email_messages
    ADD CONSTRAINT ck_email_messages_failed CHECK (failed_at IS NULL OR status = 'failed');
-- The dead-letter listing, newest first per tenant.
CREATE INDEX ix_email_messages_failed ON campaigns.email_messages (tenant_id, failed_at) WHERE status = 'failed';

-- A sender account may send through its own SMTP relay; NULL host = the worker's default relay
-- (SMTP_HOST …). The password is never stored: smtp_password_env names an environment variable of
-- the worker (prefix SMTP_PASSWORD_, so a tenant cannot point it at any other secret of the process).
ALTER TABLE campaigns.sender_accounts ADD COLUMN smtp_host text NULL;
ALTER TABLE campaigns.sender_accounts ADD COLUMN smtp_port integer NULL;
-- none: plain SMTP; starttls: upgrade with STARTTLS; tls: implicit TLS (port 465).
ALTER TABLE campaigns.sender_accounts ADD COLUMN smtp_security text NULL;
ALTER TABLE campaigns.sender_accounts ADD COLUMN smtp_username text NULL;
ALTER TABLE campaigns.sender_accounts ADD COLUMN smtp_password_env text NULL;
ALTER TABLE campaigns.sender_accounts
    ADD CONSTRAINT ck_sender_accounts_smtp_host CHECK (smtp_host IS NULL OR smtp_host ~ '^[A-Za-z0-9.:\[\]-]{1,255}$'),
    ADD CONSTRAINT ck_sender_accounts_smtp_port CHECK (smtp_port IS NULL OR smtp_port BETWEEN 1 AND 65535),
    ADD CONSTRAINT ck_sender_accounts_smtp_security CHECK (smtp_security IS NULL OR smtp_security IN ('none', 'starttls', 'tls')),
    ADD CONSTRAINT ck_sender_accounts_smtp_password_env CHECK (smtp_password_env IS NULL OR smtp_password_env ~ '^SMTP_PASSWORD_[A-Z0-9_]{1,64}$'),
    ADD CONSTRAINT ck_sender_accounts_smtp_relay CHECK (smtp_host IS NOT NULL OR (smtp_port IS NULL AND smtp_security IS NULL AND smtp_username IS NULL AND smtp_password_env IS NULL));

-- The dead letters: failed messages with their context and no secret (no body, no credentials).
-- security_invoker: the API role sees its own tenant's rows only (Row Level Security applies).
CREATE VIEW campaigns.dead_letters WITH (security_invoker = true) AS
SELECT m.id AS message_id, m.tenant_id, m.campaign_id, c.name AS campaign_name, m.step_id, s.step_name, s.step_order,
       m.enrollment_id, m.contact_id, m.to_email, m.smtp_message_id, m.sender_account_id,
       -- bounced: the relay refused the recipient (5xx); attempts_exhausted: transient failures until
       -- max_attempts; rejected: a permanent refusal that is not the recipient's (sender, content).
       CASE WHEN m.bounced_at IS NOT NULL THEN 'bounced'
            WHEN m.attempts >= m.max_attempts THEN 'attempts_exhausted'
            ELSE 'rejected' END AS failure_kind,
       m.attempts, m.max_attempts, m.last_error, m.smtp_response, m.queued_at, m.failed_at, m.locked_by AS last_worker
FROM campaigns.email_messages m
JOIN campaigns.campaigns c ON c.tenant_id = m.tenant_id AND c.id = m.campaign_id
JOIN campaigns.campaign_steps s ON s.tenant_id = m.tenant_id AND s.id = m.step_id
WHERE m.status = 'failed';
COMMENT ON VIEW campaigns.dead_letters IS
    'Failed outbox messages (the dead-letter queue): refused recipients (bounced), transient failures that ran out of attempts (attempts_exhausted) and other permanent refusals (rejected), with campaign, step, attempts and the last SMTP answer. Under RLS for campaigns_app.';
GRANT SELECT ON campaigns.dead_letters TO campaigns_app;
