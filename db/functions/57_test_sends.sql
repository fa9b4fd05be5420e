-- Test sends (campaigns.test_sends): queued by the API with a per-tenant rate limit
-- (enqueue_test_send), leased to the worker (claim_test_sends) and recorded (record_test_send).
-- Lifecycle: queued --claim--> sending --record--> sent | queued (retry) | failed; an expired lease is
-- claimed again and counts as an attempt. Nothing here touches email_messages, enrollments, step counters, analytics or suppressions: a
-- test is not a send of the campaign.

CREATE OR REPLACE FUNCTION campaigns.enqueue_test_send(
    p_campaign_id uuid, p_step_id uuid, p_contact_id uuid, p_variant_name text, p_to_email text,
    p_message jsonb, p_smtp_message_id text, p_limit integer DEFAULT 20, p_window interval DEFAULT '1 hour',
    p_as_of timestamptz DEFAULT now())
RETURNS TABLE (test_send_id uuid, retry_after_seconds integer)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_tenant uuid := campaigns.current_tenant_id();
    v_freed  timestamptz;
BEGIN
    IF v_tenant IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'no tenant',
            DETAIL = 'campaigns.tenant_id is not set', HINT = 'Call it inside a tenant''s transaction (as the API does).';
    END IF;
    IF p_limit IS NULL OR p_limit < 1 OR p_window IS NULL OR p_window <= interval '0' OR p_as_of IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'invalid test send limit',
            DETAIL = format('limit=%s window=%s', p_limit, p_window), HINT = 'A positive limit and window.';
    END IF;
    -- One tenant's concurrent requests take turns, so two cannot both take the last slot.
    PERFORM pg_advisory_xact_lock(hashtextextended('campaigns.test_sends:' || v_tenant::text, 0));
    -- The p_limit-th most recent test of the window: when it ages out, a slot is free.
    SELECT t.created_at INTO v_freed
    FROM campaigns.test_sends t
    WHERE t.tenant_id = v_tenant AND t.created_at > p_as_of - p_window
    ORDER BY t.created_at DESC
    OFFSET p_limit - 1 LIMIT 1;
    IF v_freed IS NOT NULL THEN
        RETURN QUERY SELECT NULL::uuid, greatest(1, ceil(extract(epoch FROM v_freed + p_window - p_as_of)))::integer;
        RETURN;
    END IF;
    RETURN QUERY
    INSERT INTO campaigns.test_sends AS t (tenant_id, campaign_id, step_id, contact_id, variant_name, to_email,
                                           message, smtp_message_id, next_attempt_at, created_at)
    VALUES (v_tenant, p_campaign_id, p_step_id, p_contact_id, p_variant_name, p_to_email, p_message,
            p_smtp_message_id, p_as_of, p_as_of)
    RETURNING t.id, NULL::integer;
    PERFORM pg_notify('campaigns_test_sends', '');
END
$$;
COMMENT ON FUNCTION campaigns.enqueue_test_send(uuid, uuid, uuid, text, text, jsonb, text, integer, interval, timestamptz) IS
    'Queues one test mail of a step for the current tenant (RLS): p_message is the row the worker composes from (service/api/preview.py), sent to p_to_email. At most p_limit tests per tenant per p_window (taking turns per tenant): past it nothing is queued and test_send_id is null, with retry_after_seconds until a slot frees. Not an email_messages row: counted in no analytics, step counter or quota, and no suppression applies.';

CREATE OR REPLACE FUNCTION campaigns.claim_test_sends(
    p_worker text, p_limit integer DEFAULT 10, p_lease interval DEFAULT '2 minutes', p_as_of timestamptz DEFAULT now(),
    p_max_attempts integer DEFAULT 3)
RETURNS TABLE (test_send_id uuid, tenant_id uuid, campaign_id uuid, step_id uuid, to_email text,
               smtp_message_id text, message jsonb, attempt integer, lease_expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    IF p_worker IS NULL OR length(btrim(p_worker)) = 0 OR p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000
       OR p_lease IS NULL OR p_lease <= interval '0' OR p_as_of IS NULL OR p_max_attempts IS NULL OR p_max_attempts < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'invalid claim arguments',
            DETAIL = format('worker=%s limit=%s lease=%s max_attempts=%s', p_worker, p_limit, p_lease, p_max_attempts),
            HINT = 'A worker name, a limit between 1 and 1000, a positive lease and max_attempts.';
    END IF;
    RETURN QUERY
    -- The outbox's claim pattern on a table of its own (partial indexes ix_test_sends_lease / _claim).
    WITH stale AS (
        SELECT t.id FROM campaigns.test_sends t
        WHERE t.status = 'sending' AND t.lease_expires_at <= p_as_of
        ORDER BY t.lease_expires_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), due AS (
        SELECT t.id FROM campaigns.test_sends t
        WHERE t.status = 'queued' AND t.next_attempt_at <= p_as_of
        ORDER BY t.next_attempt_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), picked AS (
        SELECT id, true AS stale FROM stale UNION ALL SELECT id, false FROM due LIMIT p_limit
    ), leased AS (
        -- A reclaimed lease counts as an attempt (the worker holding it died, maybe on this mail):
        -- one reclaimed past p_max_attempts fails instead of being tried forever.
        UPDATE campaigns.test_sends t
        SET attempts = t.attempts + p.stale::integer,
            status = CASE WHEN p.stale AND t.attempts + 1 >= p_max_attempts THEN 'failed' ELSE 'sending' END,
            failed_at = CASE WHEN p.stale AND t.attempts + 1 >= p_max_attempts THEN p_as_of END,
            last_error = CASE WHEN p.stale AND t.attempts + 1 >= p_max_attempts
                              THEN 'worker_crashed: its lease expired (last ' || t.locked_by || ')' ELSE t.last_error END,
            lease_expires_at = CASE WHEN p.stale AND t.attempts + 1 >= p_max_attempts THEN NULL ELSE p_as_of + p_lease END,
            locked_by = p_worker
        FROM picked p
        WHERE t.id = p.id
        RETURNING t.*
    )
    SELECT l.id, l.tenant_id, l.campaign_id, l.step_id, l.to_email, l.smtp_message_id, l.message,
           l.attempts + 1, l.lease_expires_at
    FROM leased l
    WHERE l.status = 'sending';
END
$$;
COMMENT ON FUNCTION campaigns.claim_test_sends(text, integer, interval, timestamptz, integer) IS
    'Leases up to p_limit due test sends (queued and due, or sending with an expired lease) to worker p_worker for p_lease, SKIP LOCKED: concurrent workers take disjoint rows. A reclaimed lease counts as an attempt; one that reaches p_max_attempts becomes failed (worker_crashed) instead. Returns what the worker composes and sends (attempt: the try about to be made); record each with record_test_send.';

CREATE OR REPLACE FUNCTION campaigns.record_test_send(
    p_test_send_id uuid, p_worker text, p_error text DEFAULT NULL, p_permanent boolean DEFAULT false,
    p_max_attempts integer DEFAULT 3, p_as_of timestamptz DEFAULT now())
RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
    -- Compare-and-set on the lease: a result from a worker whose lease was reclaimed changes nothing.
    UPDATE campaigns.test_sends t
    SET attempts = t.attempts + 1,
        status = CASE WHEN p_error IS NULL THEN 'sent'
                      WHEN p_permanent OR t.attempts + 1 >= p_max_attempts THEN 'failed' ELSE 'queued' END,
        sent_at = CASE WHEN p_error IS NULL THEN p_as_of END,
        failed_at = CASE WHEN p_error IS NOT NULL AND (p_permanent OR t.attempts + 1 >= p_max_attempts) THEN p_as_of END,
        -- A retry waits a minute per attempt made.
        next_attempt_at = p_as_of + make_interval(mins => t.attempts + 1),
        last_error = left(p_error, 1000),
        lease_expires_at = NULL,
        locked_by = NULL
    WHERE t.id = p_test_send_id AND t.status = 'sending' AND t.locked_by = p_worker
    RETURNING t.status
$$;
COMMENT ON FUNCTION campaigns.record_test_send(uuid, text, text, boolean, integer, timestamptz) IS
    'Records the result of one test send leased to p_worker: sent (p_error null), else queued again a minute per attempt later, or failed when p_permanent or after p_max_attempts attempts. Returns the new status; null when the lease is no longer this worker''s (nothing changes).';
