-- Outgoing webhooks, the delivery outbox the worker sends from: claim, result, release, redelivery.
--
-- A delivery: queued --claim--> sending --result--> delivered | queued (retry) | failed. Retries
-- follow the Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h) until the
-- delivery is 3 days old. A subscription whose deliveries have failed for 3 days without one success
-- is disabled, with the reason, and its queued deliveries fail. A webhook action step's delivery has
-- no subscription: it goes to the step's URL, signed with the tenant's action secret, and when it
-- fails for good with on_failure = exit its enrollment exits (webhook_failed) if still live.

CREATE OR REPLACE FUNCTION campaigns.claim_webhook_batch(
    p_worker text, p_limit integer DEFAULT 50, p_lease interval DEFAULT '2 minutes', p_as_of timestamptz DEFAULT now())
RETURNS TABLE (delivery_id uuid, tenant_id uuid, subscription_id uuid, url text, secret text, event_id text,
               event_type text, payload jsonb, attempt integer, lease_expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    IF p_worker IS NULL OR length(btrim(p_worker)) = 0 OR p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000
       OR p_lease IS NULL OR p_lease <= interval '0' OR p_as_of IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'invalid claim arguments',
            DETAIL = format('worker=%s limit=%s lease=%s', p_worker, p_limit, p_lease);
    END IF;
    RETURN QUERY
    WITH stale AS (
        SELECT d.id FROM campaigns.webhook_deliveries d
        WHERE d.status = 'sending' AND d.lease_expires_at <= p_as_of
        ORDER BY d.lease_expires_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), due AS (
        SELECT d.id FROM campaigns.webhook_deliveries d
        WHERE d.status = 'queued' AND d.next_attempt_at <= p_as_of
        ORDER BY d.next_attempt_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), picked AS (
        SELECT id FROM stale UNION ALL SELECT id FROM due LIMIT p_limit
    ), leased AS (
        UPDATE campaigns.webhook_deliveries d
        SET status = 'sending', lease_expires_at = p_as_of + p_lease, locked_by = p_worker
        FROM picked WHERE d.id = picked.id
        RETURNING d.*
    )
    -- A subscription's delivery: its URL and secret; an action step's: the step's URL and the
    -- tenant's action secret. Same columns either way, so the sender has one path.
    SELECT l.id, l.tenant_id, l.subscription_id, coalesce(l.url, s.url),
           CASE WHEN l.subscription_id IS NULL THEN t.webhook_secret ELSE s.secret END,
           l.event_id, l.event_type, l.payload, l.attempts + 1, l.lease_expires_at
    FROM leased l
    LEFT JOIN campaigns.webhook_subscriptions s ON s.tenant_id = l.tenant_id AND s.id = l.subscription_id
    JOIN campaigns.tenants t ON t.id = l.tenant_id
    ORDER BY l.created_at;
END
$$;
COMMENT ON FUNCTION campaigns.claim_webhook_batch(text, integer, interval, timestamptz) IS
    'Leases up to p_limit due webhook deliveries (queued and due, or sending with an expired lease: the worker died) to worker p_worker for p_lease, with the URL and secret to sign with: the subscription''s, or for a webhook action step''s delivery the step''s URL and the tenant''s action secret (tenants.webhook_secret). SKIP LOCKED: concurrent workers take disjoint rows. Record each with record_webhook_result.';

CREATE OR REPLACE FUNCTION campaigns._webhook_retry_delay(p_attempts integer, p_base interval)
RETURNS interval
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog
AS $$
    -- Standard Webhooks' schedule as multiples of 5 s: 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h.
    SELECT p_base * (ARRAY[1, 60, 360, 1440, 3600, 7200])[least(greatest(p_attempts, 1), 6)]
$$;

CREATE OR REPLACE FUNCTION campaigns.record_webhook_result(
    p_delivery_id uuid, p_worker text, p_response_status integer, p_error text DEFAULT NULL,
    p_latency_ms integer DEFAULT NULL, p_response_body text DEFAULT NULL, p_as_of timestamptz DEFAULT now(),
    p_retry_base interval DEFAULT '5 seconds', p_failing_limit interval DEFAULT '3 days')
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_row     campaigns.webhook_deliveries;
    v_ok      boolean := p_response_status BETWEEN 200 AND 299;
    v_status  text;
    v_since   timestamptz;
    v_reason  text;
BEGIN
    SELECT * INTO v_row FROM campaigns.webhook_deliveries d
    WHERE d.id = p_delivery_id AND d.status = 'sending' AND d.locked_by = p_worker
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;  -- the lease was lost: another worker has it, or it was settled
    END IF;
    v_reason := coalesce(p_error, 'HTTP ' || p_response_status);
    v_status := CASE WHEN v_ok THEN 'delivered'
                     -- The sender refused an action step's target (an internal address): the step's
                     -- URL will not change by waiting, so that is final at once.
                     WHEN v_row.subscription_id IS NULL AND p_error LIKE 'target not allowed:%' THEN 'failed'
                     WHEN p_as_of + campaigns._webhook_retry_delay(v_row.attempts + 1, p_retry_base) > v_row.expires_at THEN 'failed'
                     ELSE 'queued' END;
    UPDATE campaigns.webhook_deliveries d SET
        status = v_status, attempts = d.attempts + 1, lease_expires_at = NULL,
        next_attempt_at = CASE WHEN v_status = 'queued'
                               THEN p_as_of + campaigns._webhook_retry_delay(d.attempts + 1, p_retry_base)
                                    * (0.9 + 0.2 * random()) ELSE d.next_attempt_at END,
        response_status = p_response_status, response_body = left(p_response_body, 2000),
        latency_ms = p_latency_ms, last_error = CASE WHEN v_ok THEN NULL ELSE left(v_reason, 2000) END,
        delivered_at = CASE WHEN v_ok THEN p_as_of END, failed_at = CASE WHEN v_status = 'failed' THEN p_as_of END
    WHERE d.id = v_row.id;

    IF v_row.subscription_id IS NULL THEN
        -- A webhook action step's delivery: no subscription to disable. A final failure exits the
        -- enrollment when the step says so and it is still live (an ended one stays as it is).
        IF v_status = 'failed' AND v_row.on_failure = 'exit' THEN
            PERFORM campaigns._exit_enrollments(ARRAY[v_row.enrollment_id], ARRAY['webhook_failed'], p_as_of);
        END IF;
        RETURN v_status;
    END IF;
    IF v_ok THEN
        UPDATE campaigns.webhook_subscriptions SET failing_since = NULL
        WHERE tenant_id = v_row.tenant_id AND id = v_row.subscription_id AND failing_since IS NOT NULL;
        RETURN v_status;
    END IF;
    UPDATE campaigns.webhook_subscriptions s SET failing_since = coalesce(s.failing_since, p_as_of)
    WHERE s.tenant_id = v_row.tenant_id AND s.id = v_row.subscription_id
    RETURNING s.failing_since INTO v_since;
    IF p_as_of - v_since >= p_failing_limit THEN
        -- Failing without one success for the whole limit: disabled, said in the subscription and
        -- on the campaigns_webhooks_disabled channel; its queued deliveries fail with it.
        UPDATE campaigns.webhook_subscriptions s SET enabled = false, disabled_at = p_as_of,
            disabled_reason = format('every delivery failed since %s; last: %s', v_since, left(v_reason, 500)),
            updated_at = p_as_of
        WHERE s.tenant_id = v_row.tenant_id AND s.id = v_row.subscription_id AND s.enabled;
        IF FOUND THEN
            UPDATE campaigns.webhook_deliveries d SET status = 'failed', failed_at = p_as_of, lease_expires_at = NULL,
                last_error = coalesce(d.last_error, 'subscription disabled')
            WHERE d.tenant_id = v_row.tenant_id AND d.subscription_id = v_row.subscription_id AND d.status = 'queued';
            PERFORM pg_notify('campaigns_webhooks_disabled', json_build_object(
                'tenant_id', v_row.tenant_id, 'subscription_id', v_row.subscription_id, 'failing_since', v_since)::text);
            v_status := 'failed';
        END IF;
    END IF;
    RETURN v_status;
END
$$;
COMMENT ON FUNCTION campaigns.record_webhook_result(uuid, text, integer, text, integer, text, timestamptz, interval, interval) IS
    'Records one try of a leased webhook delivery, only while worker p_worker holds its lease (else NULL, nothing changes). A 2xx is delivered (and ends the subscription''s run of failures); anything else (another status, or p_error for no response: timeout, refused connection, a refused target address) is retried after 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h (p_retry_base scales the schedule) ± 10%, until the delivery''s 3 days are over (failed). A subscription failing without one success for p_failing_limit (3 days) is disabled with the reason, its queued deliveries fail, and a notice goes to channel campaigns_webhooks_disabled. A webhook action step''s delivery (no subscription) whose target the sender refused (p_error ''target not allowed: …'') fails at once. One that fails for good exits its enrollment with exit_reason webhook_failed when the step''s on_failure is exit and the enrollment is still live (enrolled, active or paused; its queued mail is cancelled); with continue nothing more happens. Returns the delivery''s new status.';

CREATE OR REPLACE FUNCTION campaigns.release_webhook_delivery(p_delivery_id uuid, p_worker text)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
    -- Not tried (the worker is stopping): back to the queue as it was.
    UPDATE campaigns.webhook_deliveries SET status = 'queued', lease_expires_at = NULL
    WHERE id = p_delivery_id AND status = 'sending' AND locked_by = p_worker
    RETURNING true
$$;
COMMENT ON FUNCTION campaigns.release_webhook_delivery(uuid, text) IS
    'Gives back a leased webhook delivery that was not tried (the worker is stopping): queued again, no try spent. Only while p_worker holds the lease.';

CREATE OR REPLACE FUNCTION campaigns.redeliver_webhook(p_delivery_id uuid, p_as_of timestamptz DEFAULT now())
RETURNS campaigns.webhook_deliveries
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_row campaigns.webhook_deliveries;
BEGIN
    -- A new delivery of the same event (same webhook-id, so the receiver can tell a repeat), due now,
    -- with 3 days of its own. Its subscription must be enabled; a webhook action step's delivery
    -- (no subscription) goes to the same URL with the same on_failure.
    INSERT INTO campaigns.webhook_deliveries (tenant_id, subscription_id, event_id, event_type, payload, url, step_id,
                                              enrollment_id, on_failure, next_attempt_at, created_at, expires_at)
    SELECT d.tenant_id, d.subscription_id, d.event_id, d.event_type, d.payload, d.url, d.step_id, d.enrollment_id,
           d.on_failure, p_as_of, p_as_of, p_as_of + interval '3 days'
    FROM campaigns.webhook_deliveries d
    LEFT JOIN campaigns.webhook_subscriptions s ON s.tenant_id = d.tenant_id AND s.id = d.subscription_id
    WHERE d.id = p_delivery_id AND (s.enabled OR d.subscription_id IS NULL)
    RETURNING * INTO v_row;
    IF v_row.id IS NULL THEN
        IF EXISTS (SELECT FROM campaigns.webhook_deliveries d WHERE d.id = p_delivery_id) THEN
            RAISE EXCEPTION USING ERRCODE = 'QC409', MESSAGE = 'the subscription is disabled',
                DETAIL = format('delivery_id=%s', p_delivery_id), HINT = 'Enable the subscription first.';
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'webhook delivery not found',
            DETAIL = format('delivery_id=%s', p_delivery_id);
    END IF;
    PERFORM pg_notify('campaigns_webhooks', '');
    RETURN v_row;
END
$$;
COMMENT ON FUNCTION campaigns.redeliver_webhook(uuid, timestamptz) IS
    'Sends a webhook delivery''s event again: a new delivery with the same event id (webhook-id) and payload (and for a webhook action step''s delivery the same URL, step, enrollment and on_failure), due at p_as_of, with 3 days of retries. QC409 when its subscription is disabled, QC404 for an unknown delivery. Returns the new delivery.';
