-- Who may call what. Functions are not executable by PUBLIC; the application and worker roles get
-- the engine's functions; minting tenants stays with the database owner (campaignctl, a DBA).

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA campaigns FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA campaigns TO campaigns_app, campaigns_worker;
REVOKE EXECUTE ON FUNCTION campaigns.create_tenant(text, text) FROM campaigns_app, campaigns_worker;
GRANT EXECUTE ON FUNCTION campaigns.error_codes(), campaigns._rate(bigint, bigint) TO campaigns_readonly;
