-- The outbox retry policy: how long after a transient failure a message is tried again
-- (_retry_delay), for how long it keeps being tried (_retry_lifetime: sender account, else tenant,
-- else two days, like an MTA's queue lifetime), and putting dead letters back in the queue
-- (requeue_dead_letters). record_send_result applies the first two; docs/worker.md shows the schedule
-- next to Postfix's.

CREATE OR REPLACE FUNCTION campaigns._retry_delay(p_attempts integer, p_base interval, p_cap interval DEFAULT '1 hour')
RETURNS interval
LANGUAGE sql VOLATILE
SET search_path = pg_catalog
AS $$
    -- Exponential in the number of tries so far: base, 2·base, 4·base … capped (one hour by
    -- default), with ±25% jitter so a burst of failures (a relay restart) does not come back as a burst.
    SELECT least(p_base * power(2, least(greatest(p_attempts - 1, 0), 30))::double precision, p_cap)
           * (0.75 + random() * 0.5)
$$;
COMMENT ON FUNCTION campaigns._retry_delay(integer, interval, interval) IS
    'The delay before the next try after p_attempts tries: least(p_base * 2^(p_attempts-1), p_cap) ± 25% jitter.';

CREATE OR REPLACE FUNCTION campaigns._retry_lifetime(
    p_tenant_id uuid, p_sender_account_id uuid, p_default interval DEFAULT NULL)
RETURNS interval
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    -- The sender account's relay knows best (a relay that greylists for long), then the tenant.
    SELECT coalesce((SELECT sa.retry_lifetime FROM campaigns.sender_accounts sa
                     WHERE sa.tenant_id = p_tenant_id AND sa.id = p_sender_account_id),
                    (SELECT t.retry_lifetime FROM campaigns.tenants t WHERE t.id = p_tenant_id),
                    p_default, interval '2 days')
$$;
COMMENT ON FUNCTION campaigns._retry_lifetime(uuid, uuid, interval) IS
    'How long a message of this tenant and sender account keeps being retried after its first transient failure: sender_accounts.retry_lifetime, else tenants.retry_lifetime, else p_default (the worker''s setting), else 2 days.';

CREATE OR REPLACE FUNCTION campaigns.requeue_dead_letters(
    p_message_ids uuid[] DEFAULT NULL, p_campaign_id uuid DEFAULT NULL, p_failure_kind text DEFAULT NULL,
    p_failed_after timestamptz DEFAULT NULL, p_failed_before timestamptz DEFAULT NULL,
    p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamptz DEFAULT now())
RETURNS TABLE (message_id uuid, outcome text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_requeued integer := 0;
BEGIN
    IF p_message_ids IS NULL AND p_campaign_id IS NULL AND p_failure_kind IS NULL
       AND p_failed_after IS NULL AND p_failed_before IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'requeueing dead letters needs at least one filter',
            HINT = 'Name message ids, a campaign, a failure kind or a failed_at range.';
    END IF;
    IF p_message_ids IS NOT NULL AND cardinality(p_message_ids) NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'between 1 and 10000 message ids',
            DETAIL = format('message_ids=%s', cardinality(p_message_ids));
    END IF;
    IF p_failure_kind IS NOT NULL AND p_failure_kind NOT IN
       ('bounced', 'rejected', 'retry_lifetime_expired', 'worker_crashed', 'render_limit', 'attempts_exhausted') THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'unknown failure kind',
            DETAIL = format('failure_kind=%s', p_failure_kind),
            HINT = 'One of bounced, rejected, retry_lifetime_expired, worker_crashed, render_limit, attempts_exhausted.';
    END IF;
    IF p_failed_after > p_failed_before THEN
        RAISE EXCEPTION USING ERRCODE = 'QC301', MESSAGE = 'failed_after is after failed_before',
            DETAIL = format('failed_after=%s failed_before=%s', p_failed_after, p_failed_before);
    END IF;
    IF p_tenant_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'no tenant',
            HINT = 'Outside an API transaction, pass p_tenant_id.';
    END IF;
    IF p_as_of IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'p_as_of must not be NULL';
    END IF;

    FOR message_id, outcome IN
    WITH candidates AS (
        -- Locked in id order, waiting for a concurrent requeue rather than skipping: once it commits
        -- the row is re-read, is no longer failed, and drops out here (each message requeued once).
        SELECT m.id, m.campaign_id, m.enrollment_id, m.contact_id
        FROM campaigns.email_messages m
        WHERE m.tenant_id = p_tenant_id AND m.status = 'failed'
          AND (p_message_ids IS NULL OR m.id = ANY (p_message_ids))
          AND (p_campaign_id IS NULL OR m.campaign_id = p_campaign_id)
          AND (p_failure_kind IS NULL OR m.failure_kind = p_failure_kind)
          AND (p_failed_after IS NULL OR m.failed_at >= p_failed_after)
          AND (p_failed_before IS NULL OR m.failed_at < p_failed_before)
        ORDER BY m.id
        FOR UPDATE OF m
    ), judged AS (
        -- What the claim would do with it now: a message that would be cancelled at send time
        -- stays a dead letter instead.
        SELECT k.id,
               CASE WHEN c.status NOT IN ('active', 'paused') THEN 'campaign_ended'
                    WHEN e.status = 'exited' THEN 'enrollment_exited'
                    WHEN ct.status <> 'active' THEN 'suppressed'
                    WHEN EXISTS (SELECT FROM campaigns._suppressed_addresses(p_as_of) x
                                 WHERE x.tenant_id = p_tenant_id AND x.email_key = lower(ct.email)) THEN 'suppressed'
                    ELSE 'requeued' END AS outcome
        FROM candidates k
        JOIN campaigns.campaigns c ON c.tenant_id = p_tenant_id AND c.id = k.campaign_id
        JOIN campaigns.campaign_contacts e ON e.tenant_id = p_tenant_id AND e.id = k.enrollment_id
        JOIN campaigns.contacts ct ON ct.tenant_id = p_tenant_id AND ct.id = k.contact_id
    ), requeued AS (
        -- A fresh retry lifetime and reclaim budget; attempts and the last error stay as history.
        UPDATE campaigns.email_messages m
        SET status = 'queued', next_attempt_at = p_as_of, failed_at = NULL, failure_kind = NULL,
            retry_expires_at = NULL, lease_reclaims = 0, lease_expires_at = NULL
        FROM judged j
        WHERE m.id = j.id AND j.outcome = 'requeued'
        RETURNING m.id
    )
    SELECT j.id, j.outcome FROM judged j
    UNION ALL
    -- Ids asked for by name that are not a failed message of the tenant (sent, queued, requeued by
    -- a concurrent call, another tenant's, unknown).
    SELECT DISTINCT x.id, 'not_found' FROM unnest(p_message_ids) x(id)
    WHERE x.id IS NOT NULL AND x.id NOT IN (SELECT j.id FROM judged j)
    LOOP
        v_requeued := v_requeued + (outcome = 'requeued')::integer;
        RETURN NEXT;
    END LOOP;
    IF v_requeued > 0 THEN
        PERFORM pg_notify('campaigns_outbox', 'requeued');  -- a hint: the worker looks now
    END IF;
END
$$;
COMMENT ON FUNCTION campaigns.requeue_dead_letters(uuid[], uuid, text, timestamptz, timestamptz, uuid, timestamptz) IS
    'Puts the tenant''s dead letters (failed outbox messages) back in the queue: those matching every given filter (message ids, campaign, failure_kind, failed_at >= p_failed_after and < p_failed_before); at least one filter is required (QC422), as is a known failure_kind (QC422) and a tenant (default: the API transaction''s; QC422 without one); a range whose start is after its end is QC301. A requeued message is queued at p_as_of with a fresh retry lifetime (retry_expires_at, lease_reclaims and failure_kind cleared; attempts kept). One row per message considered, with outcome: requeued; suppressed (left failed: the address is suppressed for the tenant or globally, or the contact is no longer active, e.g. bounced or unsubscribed); campaign_ended (left failed: the campaign is no longer active or paused); enrollment_exited (left failed: the contact left the sequence); not_found (an id of p_message_ids that is not a failed message of the tenant: unknown, another tenant''s, not failed, or requeued by a concurrent call). Concurrent calls requeue each message once (rows are locked in id order and re-checked).';
