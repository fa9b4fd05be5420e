-- Step processing: claim due enrollments, run them through their steps set-based, queue at most one
-- email per enrollment per pass, and write every enrollment back with one UPDATE; the drain procedure
-- pg_cron calls runs it batch after batch.
--
-- The working set lives in a temp table (no WAL, dropped at commit). Each hop runs every step type
-- once over the whole set; instant steps (wait set-up, condition, action) chain inline until an
-- email is queued or a future due time is set, with a hop limit.

CREATE OR REPLACE FUNCTION campaigns._run_email_steps(p_as_of timestamptz)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
-- Batch plans over temp tables are badly estimated; JIT compiling them cost more than it saved.
SET jit = off
AS $$
DECLARE
    v_queued integer;
BEGIN
    -- One email per enrollment per pass: an enrollment that queued one already stops here.
    UPDATE pg_temp._due_work w SET status = 'stop'
    FROM campaigns.campaign_steps s
    WHERE w.status = 'run' AND w.emailed AND s.id = w.step_id AND s.step_type = 'email';

    -- A/B-tested steps: the sample gets its variant, the rest is held until the winner is deployed.
    PERFORM campaigns._route_ab_tests(p_as_of);

    -- Not mailable any more: exits rather than sends.
    -- Driven from the working set (two index probes per row), never from the contacts table.
    UPDATE pg_temp._due_work w
    SET status = 'exited',
        exit_reason = CASE w.contact_status WHEN 'unsubscribed' THEN 'unsubscribed' WHEN 'bounced' THEN 'bounced' ELSE 'suppressed' END
    FROM campaigns.campaign_steps s
    WHERE w.status = 'run' AND s.id = w.step_id AND s.step_type = 'email'
      AND (w.contact_status <> 'active'
           OR EXISTS (SELECT FROM campaigns._suppressed_addresses(p_as_of) x
                      WHERE x.tenant_id = w.tenant_id AND x.email_key = lower(w.email)));

    -- A deactivated sender account holds its campaigns' mail: try again in an hour.
    UPDATE pg_temp._due_work w SET status = 'deferred', due_at = p_as_of + interval '1 hour'
    FROM campaigns.campaign_steps s, campaigns.campaigns c, campaigns.sender_accounts sa
    WHERE w.status = 'run' AND s.id = w.step_id AND s.step_type = 'email'
      AND c.tenant_id = w.tenant_id AND c.id = w.campaign_id
      AND sa.tenant_id = c.tenant_id AND sa.id = c.sender_account_id AND NOT sa.is_active;

    -- Outside the sending window (recipient's local time): wait for the next opening.
    UPDATE pg_temp._due_work w
    SET status = 'deferred',
        due_at = campaigns.next_window_open(p_as_of, w.timezone, c.sending_days, c.sending_window_start, c.sending_window_end)
    FROM campaigns.campaign_steps s, campaigns.campaigns c
    WHERE w.status = 'run' AND s.id = w.step_id AND s.step_type = 'email'
      AND c.tenant_id = w.tenant_id AND c.id = w.campaign_id
      AND c.window_missed_action = 'wait'
      AND (c.sending_days IS NOT NULL OR c.sending_window_start IS NOT NULL)
      AND campaigns.next_window_open(p_as_of, w.timezone, c.sending_days, c.sending_window_start, c.sending_window_end) > p_as_of;

    PERFORM campaigns._apply_blackouts(p_as_of);
    PERFORM campaigns._apply_contact_caps(p_as_of);
    PERFORM campaigns._apply_send_limits(p_as_of);

    -- Queue the email: exactly one row per (enrollment, step), ever. The Message-ID is fixed here so
    -- every retry carries the same one.
    INSERT INTO campaigns.email_messages
        (id, tenant_id, campaign_id, step_id, enrollment_id, contact_id, sender_account_id, to_email,
         next_attempt_at, smtp_message_id, queued_at, ab_variant_id)
    SELECT q.id, q.tenant_id, q.campaign_id, q.step_id, q.enrollment_id, q.contact_id, q.sender_account_id, q.email,
           q.send_at, '<' || q.id || '@' || q.domain || '>', p_as_of, q.ab_variant_id
    FROM (SELECT campaigns.uuid_v7() AS id, w.tenant_id, w.campaign_id, w.step_id, w.enrollment_id, w.contact_id, w.ab_variant_id,
                 c.sender_account_id, w.email, coalesce(w.send_at, p_as_of) AS send_at,
                 coalesce(nullif(split_part(coalesce(sa.from_email, c.from_email), '@', 2), ''), 'campaigns.invalid') AS domain
          FROM pg_temp._due_work w
          JOIN campaigns.campaign_steps s ON s.id = w.step_id AND s.step_type = 'email'
          JOIN campaigns.campaigns c ON c.tenant_id = w.tenant_id AND c.id = w.campaign_id
          LEFT JOIN campaigns.sender_accounts sa ON sa.tenant_id = c.tenant_id AND sa.id = c.sender_account_id
          WHERE w.status = 'run') q
    ON CONFLICT ON CONSTRAINT uq_email_messages_enrollment_step DO NOTHING;
    GET DIAGNOSTICS v_queued = ROW_COUNT;

    -- Advance past the email in the same transaction as the insert (no enqueue-then-update gap).
    UPDATE pg_temp._due_work w
    SET step_id = s.next_step_id, steps_completed = w.steps_completed + 1, last_email_sent_at = p_as_of, emailed = true
    FROM campaigns.campaign_steps s
    WHERE w.status = 'run' AND s.id = w.step_id AND s.step_type = 'email';
    RETURN v_queued;
END
$$;

DROP FUNCTION IF EXISTS campaigns.process_due_steps(timestamptz, integer);

CREATE OR REPLACE FUNCTION campaigns.process_due_steps(
    p_as_of timestamptz DEFAULT now(), p_batch_size integer DEFAULT 5000, p_enrollment_ids uuid[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
-- Batch plans over temp tables are badly estimated; JIT compiling them cost more than it saved.
SET jit = off
AS $$
DECLARE
    -- A campaign has at most 20 steps, so an acyclic path needs at most 20 hops.
    c_max_hops CONSTANT integer := 21;
    -- Processing lag of an email that still counts as on time (one run of the default 5-minute
    -- schedule): the waits after it keep counting from its due time.
    c_on_time  CONSTANT interval := interval '5 minutes';
    v_claimed  integer;
    v_queued   integer := 0;
    v_ids      uuid[];
BEGIN
    IF p_batch_size IS NULL OR p_batch_size < 1 OR p_as_of IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'p_batch_size must be positive and p_as_of set';
    END IF;
    IF p_enrollment_ids IS NULL THEN
        PERFORM campaigns._end_expired_campaigns(p_as_of);
    END IF;
    -- The idle tick: nothing due means no working set to build (one probe of the due index).
    -- Written as "the earliest due time" so the plan is always one step down the due index: an
    -- EXISTS here was planned as a sequential scan when many enrollments are active but not due.
    IF p_enrollment_ids IS NULL AND coalesce((SELECT d.next_email_scheduled_at FROM campaigns.campaign_contacts d
                 WHERE d.status IN ('enrolled', 'active') AND d.next_email_scheduled_at IS NOT NULL
                 ORDER BY d.next_email_scheduled_at LIMIT 1) > p_as_of, true) THEN
        RETURN 0;
    END IF;

    -- Created once per transaction (ON COMMIT DROP); a second call in one transaction reuses it.
    IF to_regclass('pg_temp._due_work') IS NULL THEN
    CREATE TEMP TABLE _due_work (
        enrollment_id      uuid PRIMARY KEY,
        tenant_id          uuid NOT NULL,
        campaign_id        uuid NOT NULL,
        contact_id         uuid NOT NULL,
        step_id            uuid,
        due_at             timestamptz NOT NULL,
        -- run: keep going; stop: wait for the next pass; deferred: limits or window moved due_at;
        -- held: held back by an A/B test until its winner is deployed; completed / exited: terminal.
        status             text NOT NULL,
        exit_reason        text,
        steps_completed    integer NOT NULL,
        last_email_sent_at timestamptz,
        completed_at       timestamptz,
        emailed            boolean NOT NULL DEFAULT false,
        send_at            timestamptz,
        ab_variant_id      uuid,
        timezone           text NOT NULL,
        -- The contact's address and status as claimed (no action step changes either).
        email              text NOT NULL,
        contact_status     text NOT NULL
    ) ON COMMIT DROP;
    END IF;
    TRUNCATE pg_temp._due_work;

    -- The claim: due enrollments of active campaigns, oldest first, skipping rows another run (or a
    -- pause, or an event) holds. The partial index ix_campaign_contacts_due serves the scan in order.
    -- A campaign being paused is skipped: its processing slot (_processing_lock_key) is taken shared
    -- here and held to commit; a pause takes it exclusive, so it waits for this batch alone, and a
    -- batch that starts while the pause waits or runs fails the try and leaves the campaign alone.
    IF p_enrollment_ids IS NULL THEN
        INSERT INTO pg_temp._due_work
            (enrollment_id, tenant_id, campaign_id, contact_id, step_id, due_at, status, steps_completed,
             last_email_sent_at, timezone, email, contact_status)
        SELECT cc.id, cc.tenant_id, cc.campaign_id, cc.contact_id, cc.current_step_id, cc.next_email_scheduled_at, 'run',
               cc.steps_completed, cc.last_email_sent_at, coalesce(ct.timezone, c.timezone), ct.email, ct.status
        FROM (SELECT * FROM campaigns.campaign_contacts d
              WHERE d.status IN ('enrolled', 'active') AND d.next_email_scheduled_at <= p_as_of
                AND EXISTS (SELECT FROM campaigns.campaigns a
                            WHERE a.tenant_id = d.tenant_id AND a.id = d.campaign_id AND a.status = 'active')
                AND pg_try_advisory_xact_lock_shared(campaigns._processing_lock_key(d.campaign_id))
              ORDER BY d.next_email_scheduled_at
              LIMIT p_batch_size
              -- NO KEY UPDATE: the write-back changes no key, and the KEY SHARE locks that foreign-key checks
              -- take on enrollments (an A/B assignment or a queued message of another run) must not make
              -- this claim skip them. Two runs still take disjoint rows: NO KEY UPDATE conflicts with itself.
              FOR NO KEY UPDATE OF d SKIP LOCKED) cc
        JOIN campaigns.campaigns c ON c.tenant_id = cc.tenant_id AND c.id = cc.campaign_id
        JOIN campaigns.contacts ct ON ct.tenant_id = cc.tenant_id AND ct.id = cc.contact_id;
    ELSE
        -- Only the given enrollments, those of them that are due (enroll_contacts runs the first step
        -- at once, in its caller's transaction); the same claim otherwise.
        INSERT INTO pg_temp._due_work
            (enrollment_id, tenant_id, campaign_id, contact_id, step_id, due_at, status, steps_completed,
             last_email_sent_at, timezone, email, contact_status)
        SELECT cc.id, cc.tenant_id, cc.campaign_id, cc.contact_id, cc.current_step_id, cc.next_email_scheduled_at, 'run',
               cc.steps_completed, cc.last_email_sent_at, coalesce(ct.timezone, c.timezone), ct.email, ct.status
        FROM (SELECT * FROM campaigns.campaign_contacts d
              WHERE d.id = ANY (p_enrollment_ids)
                AND d.status IN ('enrolled', 'active') AND d.next_email_scheduled_at <= p_as_of
                AND EXISTS (SELECT FROM campaigns.campaigns a
                            WHERE a.tenant_id = d.tenant_id AND a.id = d.campaign_id AND a.status = 'active')
                AND pg_try_advisory_xact_lock_shared(campaigns._processing_lock_key(d.campaign_id))
              LIMIT p_batch_size
              FOR NO KEY UPDATE OF d SKIP LOCKED) cc
        JOIN campaigns.campaigns c ON c.tenant_id = cc.tenant_id AND c.id = cc.campaign_id
        JOIN campaigns.contacts ct ON ct.tenant_id = cc.tenant_id AND ct.id = cc.contact_id;
    END IF;
    GET DIAGNOSTICS v_claimed = ROW_COUNT;
    IF v_claimed = 0 THEN
        RETURN 0;
    END IF;
    -- Statistics for the joins below (a temp table has none until analysed).
    ANALYZE pg_temp._due_work;

    FOR v_hop IN 1..c_max_hops LOOP
        -- End of the sequence (also a trailing wait whose time has come).
        UPDATE pg_temp._due_work SET status = 'completed', completed_at = greatest(due_at, last_email_sent_at)
        WHERE status = 'run' AND step_id IS NULL;

        -- Wait: measured from when this step was due, never from when the run happened, so processing
        -- lag does not add up along a sequence. Except after an email queued more than c_on_time after
        -- that due time (a pause, an outage, a backlog): then from the email's queue time, so the
        -- next email never follows it closer than the wait.
        UPDATE pg_temp._due_work w
        SET due_at = campaigns._add_wait(
                CASE WHEN w.last_email_sent_at > w.due_at + c_on_time THEN w.last_email_sent_at ELSE w.due_at END,
                s.wait_duration_value, s.wait_duration_unit, w.timezone),
            step_id = s.next_step_id
        FROM campaigns.campaign_steps s
        WHERE w.status = 'run' AND s.id = w.step_id AND s.step_type = 'wait';
        UPDATE pg_temp._due_work SET status = 'stop' WHERE status = 'run' AND due_at > p_as_of;

        -- After an email only a wait is set up in the same pass: conditions are judged later.
        UPDATE pg_temp._due_work w SET status = 'stop'
        FROM campaigns.campaign_steps s
        WHERE w.status = 'run' AND w.emailed AND s.id = w.step_id AND s.step_type IN ('condition', 'action');

        -- Condition: pick the branch; a null branch target ends the sequence on the next hop.
        UPDATE pg_temp._due_work w
        SET step_id = CASE WHEN campaigns._condition_holds(s.condition_rules, s.email_step_id, w.tenant_id, w.enrollment_id, ct)
                           THEN s.true_next_step_id ELSE s.false_next_step_id END
        FROM campaigns.campaign_steps s, campaigns.contacts ct
        WHERE w.status = 'run' AND s.id = w.step_id AND s.step_type = 'condition'
          AND ct.tenant_id = w.tenant_id AND ct.id = w.contact_id;

        PERFORM campaigns._run_action_steps(p_as_of);
        v_queued := v_queued + campaigns._run_email_steps(p_as_of);

        EXIT WHEN NOT EXISTS (SELECT FROM pg_temp._due_work WHERE status = 'run');
    END LOOP;

    -- A loop of instant steps with no wait: stop it rather than spin.
    UPDATE pg_temp._due_work SET status = 'exited', exit_reason = 'hop_limit' WHERE status = 'run';

    -- One write per enrollment, found by primary key (id = ANY: without it the status filter led the
    -- planner to a bitmap scan of every enrolled/active row). The status guard is belt and braces:
    -- the claim's row locks already kept a concurrent pause or exit from changing these rows.
    SELECT array_agg(enrollment_id) INTO v_ids FROM pg_temp._due_work;
    UPDATE campaigns.campaign_contacts cc
    SET current_step_id = CASE WHEN w.status IN ('completed') THEN NULL ELSE w.step_id END,
        next_email_scheduled_at = CASE WHEN w.status IN ('completed', 'exited', 'held') THEN NULL ELSE w.due_at END,
        status = CASE w.status WHEN 'completed' THEN 'completed' WHEN 'exited' THEN 'exited' ELSE 'active' END,
        started_at = coalesce(cc.started_at, p_as_of),
        steps_completed = w.steps_completed,
        last_email_sent_at = w.last_email_sent_at,
        completed_at = w.completed_at,
        exited_at = CASE WHEN w.status = 'exited' THEN p_as_of END,
        exit_reason = w.exit_reason,
        updated_at = now()
    FROM pg_temp._due_work w
    WHERE cc.id = ANY (v_ids) AND cc.id = w.enrollment_id AND cc.status IN ('enrolled', 'active');

    IF v_queued > 0 THEN
        PERFORM pg_notify('campaigns_outbox', v_queued::text);
    END IF;
    RETURN v_claimed;
END
$$;
COMMENT ON FUNCTION campaigns.process_due_steps(timestamptz, integer, uuid[]) IS
    'Processes up to p_batch_size enrollments of active campaigns that are due at p_as_of (with p_enrollment_ids: only those of them, and no other work of the tick) (FOR NO KEY UPDATE SKIP LOCKED, so concurrent runs take disjoint rows and a foreign key''s lock on an enrollment does not hide it). Wait, condition and action steps run inline; an email step queues exactly one email_messages row per (enrollment, step) and advances in the same transaction; waits count from the due time (days/weeks keep local wall-clock time), or from the last email''s queue time when it was queued more than 5 minutes after its due time, so after a pause or an outage the next email still comes a full wait after the last one (docs/engine.md, Waits after a late email). Skips campaigns being paused (their processing slot is held exclusively by pause_campaign). Honours sending windows, campaign and sender daily limits, sender gaps, end_date (exit campaign_ended) and suppression (exit suppressed). Notifies campaigns_outbox. Returns the number of enrollments processed.';

-- What the pg_cron job runs: process_due_steps batch after batch, each batch its own transaction,
-- until nothing is due or the time budget is spent. One process_due_steps call per tick would queue
-- 5,000 enrollments every 5 minutes (a 1M-contact launch: 17 hours); this drains it at the engine's
-- pace (bench/engine_bench.py). A procedure, for COMMIT between batches; so it has no SET clause
-- (PostgreSQL forbids transaction control under one) and qualifies every name instead.
CREATE OR REPLACE PROCEDURE campaigns.drain_due_steps(
    INOUT p_processed bigint DEFAULT NULL, p_batch_size integer DEFAULT 5000,
    p_max_seconds double precision DEFAULT 240, p_as_of timestamptz DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    v_deadline timestamptz;
    v_batch    integer;
BEGIN
    IF p_batch_size IS NULL OR p_batch_size < 1 OR p_max_seconds IS NULL OR p_max_seconds <= 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'p_batch_size and p_max_seconds must be positive',
            DETAIL = pg_catalog.format('p_batch_size=%s p_max_seconds=%s', p_batch_size, p_max_seconds);
    END IF;
    v_deadline := pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => p_max_seconds);
    p_processed := 0;
    LOOP
        -- Each batch as of its own transaction's start (now()), unless the caller fixed the time.
        v_batch := campaigns.process_due_steps(coalesce(p_as_of, pg_catalog.now()), p_batch_size);
        COMMIT;
        p_processed := p_processed + v_batch;
        -- A short batch: nothing more is due (or another run holds the rest).
        EXIT WHEN v_batch < p_batch_size OR pg_catalog.clock_timestamp() >= v_deadline;
    END LOOP;
END
$$;
COMMENT ON PROCEDURE campaigns.drain_due_steps(bigint, integer, double precision, timestamptz) IS
    'Runs process_due_steps in batches of p_batch_size, committing after each, until a batch comes back short (nothing more due) or p_max_seconds have passed; p_processed returns the number of enrollments processed. Each batch runs as of now() of its own transaction unless p_as_of is given. What the pg_cron job campaigns.process_due_steps calls (CALL campaigns.drain_due_steps()); safe beside other runs and process_due_steps by hand (each batch claims with SKIP LOCKED). Must be called outside an explicit transaction block (it commits).';
