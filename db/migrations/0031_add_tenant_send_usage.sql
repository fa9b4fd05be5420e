-- Count what each tenant sends per calendar month (UTC), so the sender can enforce the monthly quota.
-- depends: 0030_use_time_ordered_ids

-- One row per tenant and month, added to when a message goes to the relay (accepted, or refused
-- for the recipient: both count as sent, as in the step counters). The worker holds a tenant's
-- mail once `sent` reaches tenants.monthly_email_quota (claim_outbox_batch), and
-- defer_over_quota_mail moves that mail to the first of the next month.
CREATE TABLE campaigns.tenant_send_usage (
    id             uuid        NOT NULL DEFAULT campaigns.uuid_v7(),
    tenant_id      uuid        NOT NULL,
    -- The first day of the month, UTC.
    month          date        NOT NULL,
    sent           bigint      NOT NULL DEFAULT 0,
    -- Set while this tenant's queued mail is deferred to the next month by the quota: the time it
    -- was deferred to, so raising the quota can bring that mail back at once.
    deferred_until timestamptz NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_tenant_send_usage PRIMARY KEY (id),
    CONSTRAINT uq_tenant_send_usage_month UNIQUE (tenant_id, month),
    CONSTRAINT fk_tenant_send_usage_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants (id) ON DELETE CASCADE,
    CONSTRAINT ck_tenant_send_usage_month CHECK (month = date_trunc('month', month)::date),
    CONSTRAINT ck_tenant_send_usage_sent CHECK (sent >= 0)
);

INSERT INTO campaigns.tenant_send_usage (tenant_id, month, sent)
SELECT m.tenant_id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, count(*)
FROM campaigns.email_messages m
WHERE m.sent_at >= date_trunc('month', now(), 'UTC')
GROUP BY m.tenant_id;

ALTER TABLE campaigns.tenant_send_usage ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON campaigns.tenant_send_usage FOR ALL TO campaigns_app
    USING (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid);
CREATE POLICY bi_read_all ON campaigns.tenant_send_usage FOR SELECT TO campaigns_readonly USING (true);
-- Written only by the engine's SECURITY DEFINER functions.
GRANT SELECT ON campaigns.tenant_send_usage TO campaigns_app, campaigns_readonly;
