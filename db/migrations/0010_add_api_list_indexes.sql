-- Indexes for the REST API's paginated lists (newest first per tenant) and the approver's inbox.
-- depends: 0002_enable_row_level_security

-- GET /api/contacts and GET /api/campaigns page through a tenant's rows newest first.
CREATE INDEX ix_contacts_tenant_created ON campaigns.contacts (tenant_id, created_at DESC, id);
CREATE INDEX ix_campaigns_tenant_created ON campaigns.campaigns (tenant_id, created_at DESC, id);
-- GET /api/approvals?mine=true: the pending approvals assigned to the caller.
CREATE INDEX ix_campaign_approvals_approver ON campaigns.campaign_approvals (tenant_id, approver_id, status);
-- GET /api/suppressions pages newest first.
CREATE INDEX ix_suppressions_tenant_added ON campaigns.suppressions (tenant_id, added_at DESC, id);
