-- Grant the roles their privileges and isolate tenants with Row Level Security keyed on the transaction-local setting campaigns.tenant_id.
-- depends: 0001_create_schema

GRANT USAGE ON SCHEMA campaigns TO campaigns_app, campaigns_worker, campaigns_readonly;

GRANT SELECT, INSERT, UPDATE, DELETE ON
    campaigns.workspaces, campaigns.users, campaigns.contacts, campaigns.segments,
    campaigns.segment_contacts, campaigns.templates, campaigns.sender_accounts, campaigns.campaigns,
    campaigns.campaign_steps, campaigns.campaign_contacts, campaigns.campaign_approvals,
    campaigns.email_messages, campaigns.suppressions
TO campaigns_app;
-- Keys are minted and checked by SECURITY DEFINER functions; the API may list and revoke them.
GRANT SELECT, UPDATE (revoked_at, name) ON campaigns.api_keys TO campaigns_app;
GRANT SELECT, UPDATE (name, updated_at) ON campaigns.tenants TO campaigns_app;
-- Events and audit entries are append-only.
GRANT SELECT, INSERT ON campaigns.email_events, campaigns.suppression_audit TO campaigns_app;
GRANT SELECT ON campaigns.campaign_analytics, campaigns.global_suppressions, campaigns.timezone_names TO campaigns_app;

-- BI tools read analytics across tenants (the operator's reporting role).
GRANT SELECT ON campaigns.campaign_analytics TO campaigns_readonly;

DO $rls$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY[
        'workspaces', 'users', 'api_keys', 'contacts', 'segments', 'segment_contacts', 'templates',
        'sender_accounts', 'campaigns', 'campaign_steps', 'campaign_contacts', 'campaign_approvals',
        'email_messages', 'email_events', 'suppressions', 'suppression_audit', 'campaign_analytics']
    LOOP
        EXECUTE format('ALTER TABLE campaigns.%I ENABLE ROW LEVEL SECURITY', v_table);
        -- An unset or empty setting matches no row (NULL), so a forgotten SET shows nothing.
        EXECUTE format($p$CREATE POLICY tenant_isolation ON campaigns.%I FOR ALL TO campaigns_app
            USING (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid)
            WITH CHECK (tenant_id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid)$p$, v_table);
    END LOOP;
END
$rls$;

ALTER TABLE campaigns.tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON campaigns.tenants FOR ALL TO campaigns_app
    USING (id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid)
    WITH CHECK (id = NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid);

CREATE POLICY bi_read_all ON campaigns.campaign_analytics FOR SELECT TO campaigns_readonly USING (true);
