-- Outgoing webhooks, the subscriptions: create (with a Standard Webhooks secret) and change
-- (url, event types, description, enabled). The events are in 81_webhook_events.sql, the delivery
-- outbox in 82_webhook_outbox.sql.

CREATE OR REPLACE FUNCTION campaigns._webhook_secret()
RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog
AS $$
    -- 32 bytes from two v4 UUIDs (244 random bits), as Standard Webhooks writes secrets.
    SELECT 'whsec_' || encode(decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'), 'base64')
$$;

CREATE OR REPLACE FUNCTION campaigns.create_webhook_subscription(
    p_url text, p_event_types text[], p_description text DEFAULT NULL,
    p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamptz DEFAULT now())
RETURNS campaigns.webhook_subscriptions
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_row campaigns.webhook_subscriptions;
BEGIN
    -- The URL and event types are checked by the table's constraints (ck_webhook_subscriptions_*).
    INSERT INTO campaigns.webhook_subscriptions (tenant_id, url, event_types, description, secret, created_at, updated_at)
    VALUES (p_tenant_id, btrim(p_url), ARRAY(SELECT DISTINCT unnest(p_event_types) ORDER BY 1), p_description,
            campaigns._webhook_secret(), p_as_of, p_as_of)
    RETURNING * INTO v_row;
    RETURN v_row;
END
$$;
COMMENT ON FUNCTION campaigns.create_webhook_subscription(text, text[], text, uuid, timestamptz) IS
    'Subscribes a URL (http or https) to event types (message.sent, .delivered, .opened, .clicked, .replied, .bounced, .complained, .unsubscribed; enrollment.started, .completed, .exited; campaign.launched, .paused, .completed; ab_test.decided) for the tenant (default: the API transaction''s), with a new Standard Webhooks secret (whsec_…). Bad URLs or unknown types violate ck_webhook_subscriptions_url / _event_types. Whether the target may be a private address is the service''s check (it resolves names), not this function''s.';

CREATE OR REPLACE FUNCTION campaigns.update_webhook_subscription(
    p_subscription_id uuid, p_changes jsonb, p_as_of timestamptz DEFAULT now())
RETURNS campaigns.webhook_subscriptions
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_row campaigns.webhook_subscriptions;
BEGIN
    IF p_changes IS NULL OR jsonb_typeof(p_changes) <> 'object'
       OR EXISTS (SELECT FROM jsonb_object_keys(p_changes) k WHERE k NOT IN ('url', 'event_types', 'description', 'enabled')) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'only url, event_types, description and enabled can change',
            DETAIL = format('changes=%s', p_changes);
    END IF;
    -- Re-enabling starts afresh: no disabled reason, no run of failures.
    UPDATE campaigns.webhook_subscriptions s SET
        url = CASE WHEN p_changes ? 'url' THEN btrim(p_changes->>'url') ELSE s.url END,
        event_types = CASE WHEN p_changes ? 'event_types'
                           THEN ARRAY(SELECT DISTINCT jsonb_array_elements_text(p_changes->'event_types') ORDER BY 1)
                           ELSE s.event_types END,
        description = CASE WHEN p_changes ? 'description' THEN p_changes->>'description' ELSE s.description END,
        enabled = CASE WHEN p_changes ? 'enabled' THEN (p_changes->>'enabled')::boolean ELSE s.enabled END,
        disabled_at = CASE WHEN NOT p_changes ? 'enabled' THEN s.disabled_at
                           WHEN (p_changes->>'enabled')::boolean THEN NULL
                           ELSE coalesce(s.disabled_at, p_as_of) END,
        disabled_reason = CASE WHEN NOT p_changes ? 'enabled' THEN s.disabled_reason
                               WHEN (p_changes->>'enabled')::boolean THEN NULL
                               ELSE coalesce(s.disabled_reason, 'disabled by a user') END,
        failing_since = CASE WHEN (p_changes->>'enabled')::boolean THEN NULL ELSE s.failing_since END,
        updated_at = p_as_of
    WHERE s.id = p_subscription_id
    RETURNING * INTO v_row;
    IF v_row.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'webhook subscription not found',
            DETAIL = format('subscription_id=%s', p_subscription_id);
    END IF;
    RETURN v_row;
END
$$;
COMMENT ON FUNCTION campaigns.update_webhook_subscription(uuid, jsonb, timestamptz) IS
    'Changes a subscription''s url, event_types, description or enabled (other keys: QC422; unknown id: QC404). Disabling records "disabled by a user"; enabling clears the disabled reason and the run of failures, so a subscription the engine disabled can be turned on again once its receiver is fixed. Deliveries already failed stay failed (redeliver_webhook sends one again).';


-- The tenant's action secret: webhook action steps' deliveries have no subscription, so they are
-- signed with this one secret per tenant (tenants.webhook_secret). Admins only: it lets a receiver
-- (or anyone holding it) verify, and so forge, the tenant's action deliveries.
CREATE OR REPLACE FUNCTION campaigns.webhook_action_secret()
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_secret text;
BEGIN
    PERFORM campaigns._require_admin();
    SELECT t.webhook_secret INTO v_secret FROM campaigns.tenants t WHERE t.id = campaigns.current_tenant_id();
    RETURN v_secret;
END
$$;
COMMENT ON FUNCTION campaigns.webhook_action_secret() IS
    'The current tenant''s webhook action secret (whsec_…), which signs the deliveries of its webhook action steps (Standard Webhooks). Admins only (QC403).';

CREATE OR REPLACE FUNCTION campaigns.rotate_webhook_action_secret(p_as_of timestamptz DEFAULT now())
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_secret text;
BEGIN
    PERFORM campaigns._require_admin();
    UPDATE campaigns.tenants t SET webhook_secret = campaigns._webhook_secret(), updated_at = p_as_of
    WHERE t.id = campaigns.current_tenant_id()
    RETURNING t.webhook_secret INTO v_secret;
    RETURN v_secret;
END
$$;
COMMENT ON FUNCTION campaigns.rotate_webhook_action_secret(timestamptz) IS
    'Replaces the current tenant''s webhook action secret with a new one and returns it. Every try from then on, of queued deliveries too, is signed with the new secret. Admins only (QC403).';
