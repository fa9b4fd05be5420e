-- The monthly email quota, enforced by the sender: what a tenant sends is counted per UTC month in
-- tenant_send_usage (where send results are recorded); a claim takes no more of a tenant's mail than
-- its quota has room for (quota - sent - in flight: claim_outbox_batch, claims taking turns while any
-- tenant has a quota), and defer_over_quota_mail (pg_cron, every minute) moves the tenant's queued
-- mail to the first of the next month, out of the claim's way. Raising or removing the quota brings
-- that mail back on the job's next run. Launch still refuses a campaign the quota cannot cover
-- (QC104, 35_enrollment.sql); this is the guard for what launch could not foresee.

CREATE OR REPLACE FUNCTION campaigns._usage_month(p_as_of timestamptz)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$ SELECT date_trunc('month', p_as_of AT TIME ZONE 'UTC')::date $$;
COMMENT ON FUNCTION campaigns._usage_month(timestamptz) IS
    'The month (its first day, UTC) that a send at p_as_of counts towards in tenant_send_usage.';

CREATE OR REPLACE FUNCTION campaigns._add_send_usage(p_tenant_id uuid, p_sent bigint, p_as_of timestamptz)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
    INSERT INTO campaigns.tenant_send_usage AS u (tenant_id, month, sent)
    VALUES (p_tenant_id, campaigns._usage_month(p_as_of), p_sent)
    ON CONFLICT (tenant_id, month) DO UPDATE SET sent = u.sent + EXCLUDED.sent, updated_at = now()
$$;
COMMENT ON FUNCTION campaigns._add_send_usage(uuid, bigint, timestamptz) IS
    'Adds p_sent messages to the tenant''s count for the month of p_as_of (internal: called where a send is recorded).';

-- The month's usage, once: what launch checks a new campaign against and what the sender holds mail
-- at (through _quota_room) are the same count, the sends recorded for the UTC month of p_as_of.
CREATE OR REPLACE FUNCTION campaigns._monthly_usage(p_tenant_id uuid, p_as_of timestamptz)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    SELECT coalesce((SELECT u.sent FROM campaigns.tenant_send_usage u
                     WHERE u.tenant_id = p_tenant_id AND u.month = campaigns._usage_month(p_as_of)), 0)
$$;
COMMENT ON FUNCTION campaigns._monthly_usage(uuid, timestamptz) IS
    'The messages the tenant has sent in the UTC month of p_as_of (tenant_send_usage): the one monthly usage that launch, the sender and the usage API read.';

CREATE OR REPLACE FUNCTION campaigns._quota_room(p_as_of timestamptz)
RETURNS TABLE (tenant_id uuid, remaining bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    -- Sent this month, plus mail leased to a worker right now (it may be accepted any moment).
    SELECT t.id, t.monthly_email_quota - campaigns._monthly_usage(t.id, p_as_of) - coalesce(f.n, 0)
    FROM campaigns.tenants t
    LEFT JOIN (SELECT m.tenant_id, count(*) AS n FROM campaigns.email_messages m
               WHERE m.status = 'sending' AND m.lease_expires_at > p_as_of
               GROUP BY m.tenant_id) f ON f.tenant_id = t.id
    WHERE t.monthly_email_quota IS NOT NULL
$$;
COMMENT ON FUNCTION campaigns._quota_room(timestamptz) IS
    'For each tenant with a monthly_email_quota: how many more messages it may send in the month of p_as_of (quota - sent this month - mail leased to a worker now); 0 or less means its mail is held.';

CREATE OR REPLACE FUNCTION campaigns.defer_over_quota_mail(p_as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_month date;
    v_next  timestamptz;
    v_moved integer;
BEGIN
    IF p_as_of IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'p_as_of must not be NULL';
    END IF;
    v_month := campaigns._usage_month(p_as_of);
    v_next := (v_month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    -- Usage rows first (the order record_send_results takes them in, after its steps), then the
    -- queued mail: a claim holding some of that mail waits for nothing, so this cannot deadlock.
    WITH usage AS (
        SELECT u.tenant_id, u.deferred_until,
               t.monthly_email_quota IS NOT NULL AND u.sent >= t.monthly_email_quota AS over
        FROM campaigns.tenant_send_usage u
        JOIN campaigns.tenants t ON t.id = u.tenant_id
        WHERE u.month = v_month
          AND ((t.monthly_email_quota IS NOT NULL AND u.sent >= t.monthly_email_quota) OR u.deferred_until IS NOT NULL)
        ORDER BY u.tenant_id
        FOR NO KEY UPDATE OF u
    ), deferred AS (
        UPDATE campaigns.email_messages m
        SET next_attempt_at = v_next, last_error = 'deferred: monthly email quota reached'
        FROM usage x
        -- Only what is due already: mail due later this month keeps its time (the claim holds it
        -- if the quota is still used up then, and a later run defers it), so bringing deferred
        -- mail back at p_as_of never sends anything before its time.
        WHERE x.over AND m.tenant_id = x.tenant_id AND m.status = 'queued' AND m.next_attempt_at <= p_as_of
        RETURNING m.id
    ), released AS (
        -- The quota was raised or removed: what it deferred is due again now.
        UPDATE campaigns.email_messages m
        SET next_attempt_at = p_as_of, last_error = NULL
        FROM usage x
        WHERE NOT x.over AND m.tenant_id = x.tenant_id AND m.status = 'queued'
          AND m.next_attempt_at = x.deferred_until AND m.last_error = 'deferred: monthly email quota reached'
        RETURNING m.id
    ), marked AS (
        UPDATE campaigns.tenant_send_usage u
        SET deferred_until = CASE WHEN x.over THEN v_next END, updated_at = now()
        FROM usage x
        WHERE u.tenant_id = x.tenant_id AND u.month = v_month
          AND u.deferred_until IS DISTINCT FROM CASE WHEN x.over THEN v_next END
    )
    SELECT (SELECT count(*) FROM deferred) + (SELECT count(*) FROM released) INTO v_moved;
    RETURN v_moved;
END
$$;
COMMENT ON FUNCTION campaigns.defer_over_quota_mail(timestamptz) IS
    'The monthly quota: the due queued mail of every tenant whose mail sent this UTC month (as of p_as_of) has reached tenants.monthly_email_quota moves to the first of the next month (last_error says why); mail it moved earlier comes back due at p_as_of once the tenant is under its quota again (quota raised or removed). Returns the number of messages moved either way. Run by pg_cron every minute; safe to run by hand at the same time (the worker claims none of an over-quota tenant''s mail meanwhile).';

-- The sending allowance GET /api/usage shows (counted above).
CREATE OR REPLACE FUNCTION campaigns.tenant_usage(
    p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamptz DEFAULT now())
RETURNS TABLE (tenant_id uuid, month date, sent bigint, monthly_email_quota integer, remaining bigint,
               deferred_until timestamptz, max_send_rate_per_second numeric)
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    -- Runs as the caller: through the API, Row Level Security shows only the caller's tenant.
    SELECT t.id, campaigns._usage_month(p_as_of), campaigns._monthly_usage(t.id, p_as_of), t.monthly_email_quota,
           -- (greatest() would turn an unlimited NULL into 0)
           CASE WHEN t.monthly_email_quota IS NOT NULL
                THEN greatest(t.monthly_email_quota - campaigns._monthly_usage(t.id, p_as_of), 0) END,
           u.deferred_until, t.max_send_rate_per_second
    FROM campaigns.tenants t
    LEFT JOIN campaigns.tenant_send_usage u ON u.tenant_id = t.id AND u.month = campaigns._usage_month(p_as_of)
    WHERE t.id = p_tenant_id
$$;
COMMENT ON FUNCTION campaigns.tenant_usage(uuid, timestamptz) IS
    'The tenant''s sending allowance for the UTC month of p_as_of: mail sent so far, monthly_email_quota and what remains of it (both NULL = unlimited), deferred_until while over-quota mail is held to next month, and max_send_rate_per_second. p_tenant_id defaults to the API transaction''s tenant; runs as the caller (RLS applies). No row for an unknown tenant.';
