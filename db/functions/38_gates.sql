-- The gates an email step passes before mail is queued: the suppression lists, blackout dates, the
-- per-contact caps and the campaign and sender limits. The gate functions work on the processing
-- run's working set (pg_temp._due_work, 40_processing.sql) and move what may not go now.

DROP FUNCTION IF EXISTS campaigns._is_suppressed(uuid, text, timestamptz);

-- The suppression rule, once: an address is suppressed for a tenant while it is on that tenant's list
-- or on the global one (which applies to every tenant), compared case-insensitively, and the entry
-- has not expired. Callers ask
--     EXISTS (SELECT FROM campaigns._suppressed_addresses(as_of) x
--             WHERE x.tenant_id = <tenant> AND x.email_key = lower(<address>))
-- Written to be inlined by the planner: LANGUAGE sql, STABLE, not STRICT, no SET clause (any SET,
-- even search_path, stops inlining, so every name is qualified here), and no argument that varies
-- per row, so the caller's tenant and address meet the lists in its WHERE clause as plain equalities.
-- The planner can then join (a launch: one hash anti join against both lists), hash the lists (a
-- processing batch or a claim while they are small), or probe uq_suppressions_tenant_email and the
-- global lower(email) index per row (when they are large). See docs/explain.md.
CREATE OR REPLACE FUNCTION campaigns._suppressed_addresses(p_as_of timestamptz)
RETURNS TABLE (tenant_id uuid, email_key text, scope text, reason text, added_at timestamptz, expires_at timestamptz)
LANGUAGE sql STABLE
AS $$
    SELECT s.tenant_id, pg_catalog.lower(s.email), 'tenant', s.reason, s.added_at, s.expires_at
    FROM campaigns.suppressions s
    WHERE s.expires_at IS NULL OR s.expires_at > p_as_of
    UNION ALL
    SELECT t.id, pg_catalog.lower(g.email), 'global', g.reason, g.added_at, g.expires_at
    FROM campaigns.global_suppressions g CROSS JOIN campaigns.tenants t
    WHERE g.expires_at IS NULL OR g.expires_at > p_as_of
$$;
COMMENT ON FUNCTION campaigns._suppressed_addresses(timestamptz) IS
    'Every (tenant, lower(email)) suppressed at p_as_of: each tenant''s own list, and the global list for every tenant, unexpired, with scope tenant or global. Inlined into its callers; ask EXISTS (… WHERE tenant_id = … AND email_key = lower(address)).';

CREATE OR REPLACE FUNCTION campaigns._apply_blackouts(p_as_of timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
SET jit = off
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM campaigns.blackout_dates b
                   WHERE b.ends_on >= (p_as_of - interval '1 day')::date AND b.starts_on <= (p_as_of + interval '1 day')::date
                     AND b.tenant_id IN (SELECT tenant_id FROM pg_temp._due_work WHERE status = 'run')) THEN
        RETURN;  -- no blackout around today for these tenants
    END IF;
    -- The recipient's local day decides. delay: to the next day no delay/skip blackout covers, at
    -- the window start (09:00 without a window); skip: past this email step without sending it
    -- (the rest of the sequence goes on from the next pass).
    WITH b AS (
        SELECT w.enrollment_id, s.next_step_id, c.sending_days, c.sending_window_start, c.sending_window_end,
               (p_as_of AT TIME ZONE w.timezone)::date AS today, w.timezone, w.tenant_id, w.campaign_id,
               campaigns.blackout_action(w.tenant_id, w.campaign_id, (p_as_of AT TIME ZONE w.timezone)::date) AS action
        FROM pg_temp._due_work w
        JOIN campaigns.campaign_steps s ON s.id = w.step_id AND s.step_type = 'email'
        JOIN campaigns.campaigns c ON c.tenant_id = w.tenant_id AND c.id = w.campaign_id
        WHERE w.status = 'run'
    )
    UPDATE pg_temp._due_work w
    SET status = CASE b.action WHEN 'delay' THEN 'deferred' ELSE 'stop' END,
        step_id = CASE b.action WHEN 'skip' THEN b.next_step_id ELSE w.step_id END,
        due_at = CASE b.action
            WHEN 'delay' THEN campaigns.next_window_open(
                (campaigns._next_unblocked_day(b.tenant_id, b.campaign_id, b.today)
                 + coalesce(b.sending_window_start, time '09:00')) AT TIME ZONE b.timezone,
                b.timezone, b.sending_days, b.sending_window_start, b.sending_window_end)
            ELSE w.due_at END
    FROM b
    WHERE w.enrollment_id = b.enrollment_id AND b.action IN ('delay', 'skip');
END
$$;

CREATE OR REPLACE FUNCTION campaigns._apply_contact_caps(p_as_of timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
SET jit = off
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM campaigns.tenants t
                   WHERE (t.max_emails_per_contact_per_day IS NOT NULL OR t.min_hours_between_emails IS NOT NULL)
                     AND t.id IN (SELECT tenant_id FROM pg_temp._due_work WHERE status = 'run')) THEN
        RETURN;
    END IF;
    -- Per contact across the tenant's campaigns. Concurrent runs serialise per capped contact.
    PERFORM pg_advisory_xact_lock(k.key)
    FROM (SELECT DISTINCT hashtextextended('campaigns.contact_cap:' || w.contact_id, 0) AS key
          FROM pg_temp._due_work w JOIN campaigns.tenants t ON t.id = w.tenant_id
          WHERE w.status = 'run' AND (t.max_emails_per_contact_per_day IS NOT NULL OR t.min_hours_between_emails IS NOT NULL)) k
    ORDER BY k.key;

    WITH candidates AS (
        SELECT w.enrollment_id, w.tenant_id, w.contact_id,
               t.max_emails_per_contact_per_day AS cap, make_interval(secs => t.min_hours_between_emails * 3600) AS gap,
               row_number() OVER (PARTITION BY w.tenant_id, w.contact_id
                                  ORDER BY (w.steps_completed = 0), w.due_at, w.enrollment_id) AS rank
        FROM pg_temp._due_work w
        JOIN campaigns.campaign_steps s ON s.id = w.step_id AND s.step_type = 'email'
        JOIN campaigns.tenants t ON t.id = w.tenant_id
        WHERE w.status = 'run' AND (t.max_emails_per_contact_per_day IS NOT NULL OR t.min_hours_between_emails IS NOT NULL)
    ), recent AS (
        SELECT k.tenant_id, k.contact_id, count(m.id) AS n, min(m.queued_at) AS oldest, max(m.queued_at) AS latest
        FROM (SELECT DISTINCT tenant_id, contact_id FROM candidates) k
        LEFT JOIN campaigns.email_messages m
               ON m.tenant_id = k.tenant_id AND m.contact_id = k.contact_id AND m.status <> 'cancelled'
              AND m.queued_at > p_as_of - interval '24 hours'
        GROUP BY 1, 2
    ), verdict AS (
        SELECT k.enrollment_id,
               -- Over the daily cap: when the oldest of the last 24 hours' emails ages out.
               CASE WHEN k.cap IS NOT NULL AND r.n + k.rank > k.cap
                    THEN coalesce(r.oldest, p_as_of) + interval '24 hours' END AS cap_due,
               -- Too soon after the last one (or after another queued in this very pass).
               CASE WHEN k.gap IS NOT NULL AND (k.rank > 1 OR r.latest > p_as_of - k.gap)
                    THEN greatest(r.latest, CASE WHEN k.rank > 1 THEN p_as_of END) + k.gap END AS gap_due
        FROM candidates k JOIN recent r ON r.tenant_id = k.tenant_id AND r.contact_id = k.contact_id
    )
    UPDATE pg_temp._due_work w
    SET status = 'deferred', due_at = greatest(v.cap_due, v.gap_due)
    FROM verdict v
    WHERE w.enrollment_id = v.enrollment_id AND (v.cap_due IS NOT NULL OR v.gap_due IS NOT NULL);
END
$$;

CREATE OR REPLACE FUNCTION campaigns._apply_send_limits(p_as_of timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
-- Batch plans over temp tables are badly estimated; JIT compiling them cost more than it saved.
SET jit = off
AS $$
BEGIN
    IF NOT EXISTS (
        SELECT FROM pg_temp._due_work w
        JOIN campaigns.campaign_steps s ON s.id = w.step_id AND s.step_type = 'email'
        JOIN campaigns.campaigns c ON c.tenant_id = w.tenant_id AND c.id = w.campaign_id
        LEFT JOIN campaigns.sender_accounts sa ON sa.tenant_id = c.tenant_id AND sa.id = c.sender_account_id
        WHERE w.status = 'run'
          AND (c.daily_limit IS NOT NULL OR sa.daily_limit IS NOT NULL OR sa.min_gap_seconds IS NOT NULL)) THEN
        RETURN;  -- the common broadcast case: no limit to account for
    END IF;

    -- Concurrent runs must not both spend the same allowance: take a transaction advisory lock per
    -- limited campaign and sender (in key order, so two runs cannot deadlock) and count after it.
    -- Advisory, not row locks: pause_campaign holds the campaign row while it waits for our
    -- enrollments, and a row lock here would deadlock with it.
    PERFORM pg_advisory_xact_lock(k.key)
    FROM (SELECT DISTINCT hashtextextended('campaigns.limit:' || c.id, 0) AS key
          FROM campaigns.campaigns c
          WHERE c.daily_limit IS NOT NULL
            AND (c.tenant_id, c.id) IN (SELECT tenant_id, campaign_id FROM pg_temp._due_work WHERE status = 'run')
          UNION
          SELECT hashtextextended('campaigns.limit:' || sa.id, 0)
          FROM campaigns.sender_accounts sa
          WHERE (sa.daily_limit IS NOT NULL OR sa.min_gap_seconds IS NOT NULL)
            AND (sa.tenant_id, sa.id) IN (SELECT c.tenant_id, c.sender_account_id FROM campaigns.campaigns c
                                          WHERE (c.tenant_id, c.id) IN (SELECT tenant_id, campaign_id FROM pg_temp._due_work WHERE status = 'run'))
         ) k
    ORDER BY k.key;

    -- Campaign daily limit, per calendar day in the campaign's timezone. Due follow-ups go before
    -- first steps; the excess waits for the next local midnight (then the window applies).
    WITH candidates AS (
        SELECT w.enrollment_id, c.tenant_id, c.id AS campaign_id, c.daily_limit, c.timezone,
               row_number() OVER (PARTITION BY c.id ORDER BY (w.steps_completed = 0), w.due_at, w.enrollment_id) AS rank
        FROM pg_temp._due_work w
        JOIN campaigns.campaign_steps s ON s.id = w.step_id AND s.step_type = 'email'
        JOIN campaigns.campaigns c ON c.tenant_id = w.tenant_id AND c.id = w.campaign_id
        WHERE w.status = 'run' AND c.daily_limit IS NOT NULL
    ), used AS (
        SELECT k.campaign_id, count(m.id) AS n
        FROM (SELECT DISTINCT tenant_id, campaign_id, timezone FROM candidates) k
        LEFT JOIN campaigns.email_messages m
               ON m.tenant_id = k.tenant_id AND m.campaign_id = k.campaign_id AND m.status <> 'cancelled'
              AND m.queued_at >= ((p_as_of AT TIME ZONE k.timezone)::date)::timestamp AT TIME ZONE k.timezone
        GROUP BY k.campaign_id
    )
    UPDATE pg_temp._due_work w
    SET status = 'deferred',
        due_at = (((p_as_of AT TIME ZONE k.timezone)::date + 1)::timestamp) AT TIME ZONE k.timezone
    FROM candidates k JOIN used u ON u.campaign_id = k.campaign_id
    WHERE w.enrollment_id = k.enrollment_id AND k.rank > k.daily_limit - u.n;

    -- Sender account: a daily cap per UTC day and a minimum gap between sends. Each allowed email
    -- gets its own slot; slots more than an hour ahead are deferred rather than queued far ahead.
    WITH candidates AS (
        SELECT w.enrollment_id, sa.tenant_id, sa.id AS sender_id, sa.daily_limit, sa.min_gap_seconds, sa.last_slot_at,
               row_number() OVER (PARTITION BY sa.id ORDER BY (w.steps_completed = 0), w.due_at, w.enrollment_id) AS rank
        FROM pg_temp._due_work w
        JOIN campaigns.campaign_steps s ON s.id = w.step_id AND s.step_type = 'email'
        JOIN campaigns.campaigns c ON c.tenant_id = w.tenant_id AND c.id = w.campaign_id
        JOIN campaigns.sender_accounts sa ON sa.tenant_id = c.tenant_id AND sa.id = c.sender_account_id
        WHERE w.status = 'run' AND (sa.daily_limit IS NOT NULL OR sa.min_gap_seconds IS NOT NULL)
    ), used AS (
        SELECT k.sender_id, count(m.id) AS n
        FROM (SELECT DISTINCT tenant_id, sender_id FROM candidates) k
        LEFT JOIN campaigns.email_messages m
               ON m.tenant_id = k.tenant_id AND m.sender_account_id = k.sender_id AND m.status <> 'cancelled'
              AND m.queued_at >= date_trunc('day', p_as_of, 'UTC')
        GROUP BY k.sender_id
    ), slotted AS (
        SELECT k.*, u.n,
               greatest(p_as_of, coalesce(k.last_slot_at + make_interval(secs => k.min_gap_seconds), p_as_of))
                 + make_interval(secs => coalesce(k.min_gap_seconds, 0) * (k.rank - 1)) AS slot
        FROM candidates k JOIN used u ON u.sender_id = k.sender_id
    )
    UPDATE pg_temp._due_work w
    SET status = CASE WHEN k.daily_limit IS NOT NULL AND k.rank > k.daily_limit - k.n THEN 'deferred'
                      WHEN k.slot > p_as_of + interval '1 hour' THEN 'deferred'
                      ELSE w.status END,
        due_at = CASE WHEN k.daily_limit IS NOT NULL AND k.rank > k.daily_limit - k.n THEN date_trunc('day', p_as_of, 'UTC') + interval '1 day'
                      WHEN k.slot > p_as_of + interval '1 hour' THEN k.slot
                      ELSE w.due_at END,
        send_at = k.slot
    FROM slotted k
    WHERE w.enrollment_id = k.enrollment_id;

    UPDATE campaigns.sender_accounts sa SET last_slot_at = x.last_slot
    FROM (SELECT c.tenant_id, c.sender_account_id, max(w.send_at) AS last_slot
          FROM pg_temp._due_work w JOIN campaigns.campaigns c ON c.tenant_id = w.tenant_id AND c.id = w.campaign_id
          WHERE w.status = 'run' AND w.send_at IS NOT NULL
          GROUP BY 1, 2) x
    WHERE sa.tenant_id = x.tenant_id AND sa.id = x.sender_account_id;
END
$$;
