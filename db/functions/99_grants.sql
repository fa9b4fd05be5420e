-- Who may call what. Functions are not executable by PUBLIC; the application and worker roles get
-- the engine's functions; minting tenants stays with the database owner (campaignctl, a DBA).

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA campaigns FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA campaigns TO campaigns_app, campaigns_worker;
REVOKE EXECUTE ON ALL PROCEDURES IN SCHEMA campaigns FROM PUBLIC;
GRANT EXECUTE ON ALL PROCEDURES IN SCHEMA campaigns TO campaigns_app, campaigns_worker;
-- Not tenant-checked (the DBA's tools): the API mints keys through create_user_api_key instead.
REVOKE EXECUTE ON FUNCTION campaigns.create_tenant(text, text), campaigns.create_api_key(uuid, text)
    FROM campaigns_app, campaigns_worker;
GRANT EXECUTE ON FUNCTION campaigns.error_codes(), campaigns._rate(bigint, bigint),
    campaigns._rates(bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint) TO campaigns_readonly;
-- The worker's claim and result functions cross tenants by design: the worker role only.
REVOKE EXECUTE ON FUNCTION
    campaigns.claim_outbox_batch(text, integer, interval, timestamptz, integer, text[]),
    campaigns.record_send_result(uuid, text, text, text, text, timestamptz, text, interval, interval, interval),
    campaigns.record_send_results(text, uuid[], text[], text[], text[], text[], timestamptz, interval, interval, interval)
    FROM campaigns_app;
