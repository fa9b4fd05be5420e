-- The campaign lifecycle: launch (enrollment), schedule, pause, resume and clone. Every state change
-- is a compare-and-set on campaigns.status under a row lock, so concurrent calls serialise and the
-- loser gets QC409. These run as the caller: through the API, Row Level Security limits them to the
-- caller's tenant (another tenant's campaign is simply not found).

CREATE OR REPLACE FUNCTION campaigns._lock_campaign(p_campaign_id uuid, p_allowed text[], p_action text)
RETURNS campaigns.campaigns
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_campaign campaigns.campaigns;
BEGIN
    -- NO KEY UPDATE: serialises state changes without blocking the key-share locks that foreign key
    -- checks (enrollments, steps) take on the campaign row.
    SELECT * INTO v_campaign FROM campaigns.campaigns WHERE id = p_campaign_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found',
            DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    IF NOT v_campaign.status = ANY (p_allowed) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC409',
            MESSAGE = format('cannot %s a campaign in status %s', p_action, v_campaign.status),
            DETAIL = format('campaign_id=%s status=%s', p_campaign_id, v_campaign.status),
            HINT = format('%s is allowed from: %s', p_action, array_to_string(p_allowed, ', '));
    END IF;
    RETURN v_campaign;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._is_suppressed(p_tenant_id uuid, p_email text, p_as_of timestamptz)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    SELECT EXISTS (SELECT FROM campaigns.suppressions s
                   WHERE s.tenant_id = p_tenant_id AND lower(s.email) = lower(p_email)
                     AND (s.expires_at IS NULL OR s.expires_at > p_as_of))
        OR EXISTS (SELECT FROM campaigns.global_suppressions g
                   WHERE lower(g.email) = lower(p_email)
                     AND (g.expires_at IS NULL OR g.expires_at > p_as_of))
$$;
COMMENT ON FUNCTION campaigns._is_suppressed(uuid, text, timestamptz) IS
    'True when the address is on the tenant''s or the global suppression list (unexpired) at p_as_of.';

CREATE OR REPLACE FUNCTION campaigns._first_due_at(
    p_campaign campaigns.campaigns, p_contact_id uuid, p_timezone text, p_as_of timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_due  timestamptz;
    v_hour integer;
BEGIN
    IF p_campaign.send_strategy = 'scheduled' THEN
        v_due := greatest(coalesce(p_campaign.start_date, p_as_of), p_as_of);
    ELSIF p_campaign.send_strategy = 'optimized' THEN
        -- The contact's most frequent local open hour over 90 days, with at least 5 opens; sent 15
        -- minutes before it. Otherwise 09:00 local.
        SELECT mode() WITHIN GROUP (ORDER BY extract(hour FROM m.first_opened_at AT TIME ZONE p_timezone))::integer
          INTO v_hour
        FROM campaigns.email_messages m
        WHERE m.tenant_id = p_campaign.tenant_id AND m.contact_id = p_contact_id
          AND m.first_opened_at > p_as_of - interval '90 days'
        HAVING count(*) >= 5;
        v_due := campaigns.next_local_time(p_as_of, p_timezone,
                    CASE WHEN v_hour IS NULL THEN time '09:00' ELSE make_time(v_hour, 0, 0) - interval '15 minutes' END);
    ELSE
        v_due := p_as_of;
    END IF;
    IF p_campaign.window_missed_action = 'wait' THEN
        v_due := campaigns.next_window_open(v_due, p_timezone, p_campaign.sending_days,
                                            p_campaign.sending_window_start, p_campaign.sending_window_end);
    END IF;
    RETURN v_due;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._enroll_segment(
    p_campaign campaigns.campaigns, p_entry_step uuid, p_as_of timestamptz, p_skip_enrolled boolean)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
SET jit = off
AS $$
DECLARE
    v_enrolled integer;
BEGIN
    -- The segment's mailable contacts, minus suppressed ones, at the entry step; with
    -- p_skip_enrolled, contacts already enrolled are skipped (ON CONFLICT), else they raise
    -- unique_violation. Dynamic only for that clause; the values are parameters.
    EXECUTE format($sql$
        INSERT INTO campaigns.campaign_contacts
            (tenant_id, campaign_id, contact_id, status, current_step_id, enrolled_at, next_email_scheduled_at)
        SELECT ($1).tenant_id, ($1).id, c.id, 'enrolled', $2, $3,
               CASE WHEN ($1).send_strategy = 'immediate'
                         AND (($1).window_missed_action = 'send_anyway'
                              OR (($1).sending_days IS NULL AND ($1).sending_window_start IS NULL))
                    THEN $3
                    ELSE campaigns._first_due_at($1, c.id, coalesce(c.timezone, ($1).timezone), $3)
               END
        FROM campaigns.segment_contacts sc
        JOIN campaigns.contacts c ON c.tenant_id = sc.tenant_id AND c.id = sc.contact_id
        WHERE sc.tenant_id = ($1).tenant_id
          AND sc.segment_id = ($1).segment_id
          AND c.status = 'active'
          AND NOT EXISTS (SELECT FROM campaigns.suppressions s
                          WHERE s.tenant_id = c.tenant_id AND lower(s.email) = lower(c.email)
                            AND (s.expires_at IS NULL OR s.expires_at > $3))
          AND NOT EXISTS (SELECT FROM campaigns.global_suppressions g
                          WHERE lower(g.email) = lower(c.email)
                            AND (g.expires_at IS NULL OR g.expires_at > $3))
        %s$sql$,
        CASE WHEN p_skip_enrolled THEN 'ON CONFLICT ON CONSTRAINT uq_campaign_contacts_contact DO NOTHING' ELSE '' END)
    USING p_campaign, p_entry_step, p_as_of;
    GET DIAGNOSTICS v_enrolled = ROW_COUNT;
    RETURN v_enrolled;
END
$$;

CREATE OR REPLACE FUNCTION campaigns.launch_campaign(p_campaign_id uuid, p_as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
-- Batch plans over temp tables are badly estimated; JIT compiling them cost more than it saved.
SET jit = off
AS $$
DECLARE
    v_campaign    campaigns.campaigns;
    v_entry_step  uuid;
    v_email_steps integer;
    v_enrolled    integer;
    v_quota       integer;
    v_used        bigint;
    v_missing     text[];
BEGIN
    -- The row lock makes a concurrent second launch wait, then fail the status check.
    v_campaign := campaigns._lock_campaign(p_campaign_id, ARRAY['draft', 'scheduled'], 'launch');
    IF v_campaign.end_date <= p_as_of THEN
        RAISE EXCEPTION USING ERRCODE = 'QC409', MESSAGE = 'cannot launch a campaign past its end date',
            DETAIL = format('campaign_id=%s end_date=%s', p_campaign_id, v_campaign.end_date),
            HINT = 'Move end_date forward or clear it.';
    END IF;

    SELECT (array_agg(s.id ORDER BY s.step_order))[1], count(*) FILTER (WHERE s.step_type = 'email')
      INTO v_entry_step, v_email_steps
    FROM campaigns.campaign_steps s
    WHERE s.tenant_id = v_campaign.tenant_id AND s.campaign_id = p_campaign_id;
    IF v_entry_step IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC101', MESSAGE = 'cannot launch a campaign without steps',
            DETAIL = format('campaign_id=%s', p_campaign_id), HINT = 'Add at least one email step.';
    END IF;
    PERFORM campaigns._validate_campaign_graph(v_campaign.tenant_id, p_campaign_id, 'QC105');
    PERFORM campaigns._check_campaign_ab_tests(v_campaign.tenant_id, p_campaign_id);

    -- A dynamic segment's members are its rules' matches as of now.
    PERFORM campaigns.refresh_segment(v_campaign.segment_id, p_as_of)
    FROM campaigns.segments g
    WHERE g.tenant_id = v_campaign.tenant_id AND g.id = v_campaign.segment_id AND g.segment_type = 'dynamic';

    -- Set-based enrollment. Nobody is enrolled yet in the usual launch, so the plain INSERT goes
    -- first: the ON CONFLICT arbiter costs a probe of uq_campaign_contacts_contact per row (13% of
    -- the statement for 100,000 contacts, measured). A contact enrolled meanwhile (a
    -- move_to_campaign action into this draft) raises unique_violation, and the idempotent form
    -- runs instead.
    IF EXISTS (SELECT FROM campaigns.campaign_contacts cc
               WHERE cc.tenant_id = v_campaign.tenant_id AND cc.campaign_id = p_campaign_id) THEN
        v_enrolled := campaigns._enroll_segment(v_campaign, v_entry_step, p_as_of, true);
    ELSE
        BEGIN
            v_enrolled := campaigns._enroll_segment(v_campaign, v_entry_step, p_as_of, false);
        EXCEPTION WHEN unique_violation THEN
            v_enrolled := campaigns._enroll_segment(v_campaign, v_entry_step, p_as_of, true);
        END;
    END IF;

    -- Every refusal below raises, which rolls the enrollment back: launch is all or nothing.
    IF v_enrolled = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC102', MESSAGE = 'Cannot launch campaign without leads',
            DETAIL = format('campaign_id=%s segment_id=%s', p_campaign_id, v_campaign.segment_id),
            HINT = 'The segment has no active, unsuppressed contact that is not already enrolled.';
    END IF;

    IF v_campaign.requires_approval THEN
        SELECT array_agg(r) INTO v_missing
        FROM unnest(ARRAY['campaign_manager']
                    || CASE WHEN v_enrolled > 10000 OR v_campaign.is_promotional
                            THEN ARRAY['compliance_officer'] ELSE ARRAY[]::text[] END) AS r
        WHERE NOT EXISTS (
            SELECT FROM campaigns.campaign_approvals a
            WHERE a.tenant_id = v_campaign.tenant_id AND a.campaign_id = p_campaign_id
              AND a.approval_role = r AND a.status = 'approved'
              AND a.round = (SELECT max(a2.round) FROM campaigns.campaign_approvals a2
                             WHERE a2.tenant_id = a.tenant_id AND a2.campaign_id = a.campaign_id))
           OR EXISTS (
            SELECT FROM campaigns.campaign_approvals a
            WHERE a.tenant_id = v_campaign.tenant_id AND a.campaign_id = p_campaign_id
              AND a.approval_role = r AND a.status <> 'approved'
              AND a.round = (SELECT max(a2.round) FROM campaigns.campaign_approvals a2
                             WHERE a2.tenant_id = a.tenant_id AND a2.campaign_id = a.campaign_id));
        IF v_missing IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'QC103', MESSAGE = 'required approvals are missing',
                DETAIL = format('campaign_id=%s missing=%s', p_campaign_id, array_to_string(v_missing, ',')),
                HINT = 'Every required approver must approve the current round.';
        END IF;
    END IF;

    SELECT t.monthly_email_quota INTO v_quota FROM campaigns.tenants t WHERE t.id = v_campaign.tenant_id;
    IF v_quota IS NOT NULL THEN
        -- Mail queued this month, plus what running enrollments elsewhere may still send (each of
        -- their remaining email steps), plus this launch: every enrollment receives every email.
        SELECT (SELECT count(*) FROM campaigns.email_messages m
                WHERE m.tenant_id = v_campaign.tenant_id AND m.status <> 'cancelled'
                  AND m.queued_at >= date_trunc('month', p_as_of, 'UTC'))
             + coalesce((SELECT sum(greatest(e.email_steps - cc.steps_completed, 0))
                         FROM campaigns.campaign_contacts cc
                         JOIN (SELECT s.campaign_id, count(*) AS email_steps FROM campaigns.campaign_steps s
                               WHERE s.tenant_id = v_campaign.tenant_id AND s.step_type = 'email'
                               GROUP BY s.campaign_id) e ON e.campaign_id = cc.campaign_id
                         WHERE cc.tenant_id = v_campaign.tenant_id AND cc.campaign_id <> p_campaign_id
                           AND cc.status IN ('enrolled', 'active', 'paused')), 0)
          INTO v_used;
        IF v_used + v_enrolled::bigint * v_email_steps > v_quota THEN
            RAISE EXCEPTION USING ERRCODE = 'QC104', MESSAGE = 'the monthly email quota would be exceeded',
                DETAIL = format('quota=%s used=%s this launch=%s', v_quota, v_used, v_enrolled::bigint * v_email_steps),
                HINT = 'Raise tenants.monthly_email_quota or narrow the segment.';
        END IF;
    END IF;

    UPDATE campaigns.campaigns
    SET status = 'active', launched_at = p_as_of, total_contacts = total_contacts + v_enrolled,
        scheduled_at = NULL, schedule_error = NULL, completed_at = NULL
    WHERE id = p_campaign_id;
    RETURN v_enrolled;
END
$$;
COMMENT ON FUNCTION campaigns.launch_campaign(uuid, timestamptz) IS
    'Launches a draft or scheduled campaign: enrolls the segment''s active, unsuppressed contacts at the first step (by step_order) with their first due time from the send strategy and sending window, and makes the campaign active. All or nothing. Refuses with QC404 (not found), QC409 (wrong status, or end_date at or before p_as_of), QC101 (no steps), QC105 (invalid steps), QC601 (an A/B test without 2 to 5 variants), QC102 (no eligible contact), QC103 (approvals missing), QC104 (monthly quota: mail queued this UTC month, plus the remaining email steps of running enrollments, plus enrolled x email steps). Returns the number enrolled.';

CREATE OR REPLACE FUNCTION campaigns.schedule_campaign(p_campaign_id uuid, p_start timestamptz, p_as_of timestamptz DEFAULT now())
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    IF p_start IS NULL OR p_start <= p_as_of THEN
        RAISE EXCEPTION USING ERRCODE = 'QC301', MESSAGE = 'the start time must be in the future',
            DETAIL = format('start=%s as_of=%s', p_start, p_as_of);
    END IF;
    PERFORM campaigns._lock_campaign(p_campaign_id, ARRAY['draft', 'scheduled'], 'schedule');
    UPDATE campaigns.campaigns SET status = 'scheduled', scheduled_at = p_start, schedule_error = NULL
    WHERE id = p_campaign_id;
END
$$;
COMMENT ON FUNCTION campaigns.schedule_campaign(uuid, timestamptz, timestamptz) IS
    'Schedules a draft campaign (or moves an existing schedule) to launch at p_start, which must be after p_as_of (QC301). launch_scheduled_campaigns launches it once due.';

CREATE OR REPLACE FUNCTION campaigns.unschedule_campaign(p_campaign_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    PERFORM campaigns._lock_campaign(p_campaign_id, ARRAY['scheduled'], 'unschedule');
    UPDATE campaigns.campaigns SET status = 'draft', scheduled_at = NULL WHERE id = p_campaign_id;
END
$$;
COMMENT ON FUNCTION campaigns.unschedule_campaign(uuid) IS
    'Cancels the schedule of a scheduled campaign, returning it to draft (QC409 otherwise).';

CREATE OR REPLACE FUNCTION campaigns.schedule_recurring_campaign(
    p_campaign_id uuid, p_recurrence jsonb, p_as_of timestamptz DEFAULT now())
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_error text := campaigns._recurrence_error(p_recurrence);
    v_rec   jsonb;
    v_next  timestamptz;
BEGIN
    IF v_error IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'invalid recurrence: ' || v_error,
            HINT = 'See COMMENT ON FUNCTION campaigns.next_occurrence.';
    END IF;
    PERFORM campaigns._lock_campaign(p_campaign_id, ARRAY['draft', 'scheduled'], 'schedule');
    -- The series is anchored on its start day (today in its timezone unless given).
    v_rec := jsonb_build_object('start_date',
                 ((p_as_of AT TIME ZONE coalesce(p_recurrence->>'timezone', 'UTC'))::date)::text) || p_recurrence;
    v_next := campaigns.next_occurrence(v_rec, p_as_of);
    IF v_next IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC301', MESSAGE = 'the recurrence has no occurrence after now',
            DETAIL = format('recurrence=%s as_of=%s', v_rec, p_as_of);
    END IF;
    UPDATE campaigns.campaigns
    SET status = 'scheduled', recurrence = v_rec, scheduled_at = v_next, occurrence_count = 0, schedule_error = NULL
    WHERE id = p_campaign_id;
    RETURN v_next;
END
$$;
COMMENT ON FUNCTION campaigns.schedule_recurring_campaign(uuid, jsonb, timestamptz) IS
    'Makes a draft campaign a recurring template (see next_occurrence for the recurrence object) and schedules its first occurrence after p_as_of, which it returns. At each occurrence launch_scheduled_campaigns launches a clone of it (parent_campaign_id points back), so every occurrence is a new run. QC422 for an invalid recurrence, QC301 when no occurrence remains, QC409 unless draft or scheduled.';

CREATE OR REPLACE FUNCTION campaigns._launch_occurrence(p_parent_id uuid, p_as_of timestamptz)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_parent campaigns.campaigns;
    v_child  uuid;
BEGIN
    SELECT * INTO v_parent FROM campaigns.campaigns WHERE id = p_parent_id;
    v_child := campaigns.clone_campaign(p_parent_id);
    UPDATE campaigns.campaigns
    SET name = left(v_parent.name, 230) || ' — ' ||
               to_char(v_parent.scheduled_at AT TIME ZONE coalesce(v_parent.recurrence->>'timezone', 'UTC'), 'YYYY-MM-DD HH24:MI'),
        parent_campaign_id = p_parent_id
    WHERE id = v_child;
    PERFORM campaigns.launch_campaign(v_child, p_as_of);
    RETURN v_child;
END
$$;

CREATE OR REPLACE FUNCTION campaigns.launch_scheduled_campaigns(p_as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_campaign campaigns.campaigns;
    v_launched integer := 0;
    v_state    text;
    v_message  text;
    v_next     timestamptz;
BEGIN
    -- One campaign at a time, each in its own subtransaction: a failing launch is recorded on its
    -- campaign and does not stop the others. SKIP LOCKED lets a concurrent run take other rows.
    FOR v_campaign IN
        SELECT * FROM campaigns.campaigns c
        WHERE c.status = 'scheduled' AND c.scheduled_at <= p_as_of
        ORDER BY c.scheduled_at
        FOR UPDATE SKIP LOCKED
    LOOP
        BEGIN
            IF v_campaign.recurrence IS NULL THEN
                PERFORM campaigns.launch_campaign(v_campaign.id, p_as_of);
            ELSE
                PERFORM campaigns._launch_occurrence(v_campaign.id, p_as_of);
            END IF;
            v_launched := v_launched + 1;
            UPDATE campaigns.campaigns SET schedule_error = NULL WHERE id = v_campaign.id AND recurrence IS NOT NULL;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
            -- Kept for the user to read. A one-off schedule goes back to draft; a series carries on.
            UPDATE campaigns.campaigns
            SET schedule_error = v_state || ': ' || v_message,
                status = CASE WHEN recurrence IS NULL THEN 'draft' ELSE status END,
                scheduled_at = CASE WHEN recurrence IS NULL THEN NULL ELSE scheduled_at END
            WHERE id = v_campaign.id;
            RAISE WARNING 'scheduled launch of campaign % failed: % %', v_campaign.id, v_state, v_message;
        END;
        IF v_campaign.recurrence IS NOT NULL THEN
            -- The next occurrence after this one; the series completes after its last.
            v_next := campaigns.next_occurrence(v_campaign.recurrence, v_campaign.scheduled_at);
            UPDATE campaigns.campaigns
            SET occurrence_count = occurrence_count + 1,
                scheduled_at = CASE WHEN v_next IS NULL OR occurrence_count + 1 >= coalesce((recurrence->>'occurrences')::integer, 2147483647)
                                    THEN NULL ELSE v_next END,
                status = CASE WHEN v_next IS NULL OR occurrence_count + 1 >= coalesce((recurrence->>'occurrences')::integer, 2147483647)
                              THEN 'completed' ELSE 'scheduled' END,
                completed_at = CASE WHEN v_next IS NULL OR occurrence_count + 1 >= coalesce((recurrence->>'occurrences')::integer, 2147483647)
                                    THEN p_as_of END
            WHERE id = v_campaign.id;
        END IF;
    END LOOP;
    RETURN v_launched;
END
$$;
COMMENT ON FUNCTION campaigns.launch_scheduled_campaigns(timestamptz) IS
    'Launches every scheduled campaign whose scheduled_at is at or before p_as_of, exactly once; for a recurring template it launches a clone and moves scheduled_at to the next occurrence (completing the series after its last). A failed launch keeps its error in schedule_error and does not stop the others: a one-off schedule returns to draft, a series goes on. Returns the number launched. Run by pg_cron every minute.';

CREATE OR REPLACE FUNCTION campaigns.preview_send_times(
    p_campaign_id uuid, p_sample_size integer DEFAULT 10, p_as_of timestamptz DEFAULT now())
RETURNS TABLE (contact_id uuid, email text, contact_timezone text, send_time timestamptz, send_time_local text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
-- Changed per row below to print each zone's abbreviation; restored when the function returns.
SET timezone = 'UTC'
AS $$
DECLARE
    v_campaign campaigns.campaigns;
    v_row      record;
BEGIN
    IF p_sample_size IS NULL OR p_sample_size NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'p_sample_size must be 1 to 1000';
    END IF;
    SELECT * INTO v_campaign FROM campaigns.campaigns WHERE id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found', DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    FOR v_row IN
        SELECT c.id, c.email, coalesce(c.timezone, v_campaign.timezone) AS tz
        FROM campaigns.segment_contacts sc
        JOIN campaigns.contacts c ON c.tenant_id = sc.tenant_id AND c.id = sc.contact_id
        WHERE sc.tenant_id = v_campaign.tenant_id AND sc.segment_id = v_campaign.segment_id AND c.status = 'active'
        ORDER BY c.email
        LIMIT p_sample_size
    LOOP
        contact_id := v_row.id;
        email := v_row.email;
        contact_timezone := v_row.tz;
        send_time := campaigns._first_due_at(v_campaign, v_row.id, v_row.tz,
                         CASE WHEN v_campaign.status = 'scheduled' THEN greatest(p_as_of, v_campaign.scheduled_at) ELSE p_as_of END);
        PERFORM set_config('timezone', v_row.tz, true);
        send_time_local := to_char(send_time, 'YYYY-MM-DD HH24:MI:SS TZ');
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION campaigns.preview_send_times(uuid, integer, timestamptz) IS
    'When the first email would go to a sample of the campaign''s audience if launched at p_as_of (or at its scheduled time): contact, timezone, the instant in UTC and the local time as "YYYY-MM-DD HH:mm:ss ZZZ" (zone abbreviation), from the send strategy and the sending window.';

CREATE OR REPLACE FUNCTION campaigns.pause_campaign(p_campaign_id uuid)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_campaign campaigns.campaigns;
    v_paused   integer;
BEGIN
    v_campaign := campaigns._lock_campaign(p_campaign_id, ARRAY['active'], 'pause');
    UPDATE campaigns.campaigns SET status = 'paused' WHERE id = p_campaign_id;
    -- Due times are kept; queued mail stays queued (the worker holds a paused campaign's mail).
    UPDATE campaigns.campaign_contacts
    SET status = 'paused', pause_reason = 'campaign', updated_at = now()
    WHERE tenant_id = v_campaign.tenant_id AND campaign_id = p_campaign_id AND status IN ('enrolled', 'active');
    GET DIAGNOSTICS v_paused = ROW_COUNT;
    RETURN v_paused;
END
$$;
COMMENT ON FUNCTION campaigns.pause_campaign(uuid) IS
    'Pauses an active campaign and its enrolled/active enrollments in one transaction (QC409 from any other status). Due times are kept. Returns the number of enrollments paused.';

CREATE OR REPLACE FUNCTION campaigns.resume_campaign(p_campaign_id uuid, p_as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_campaign campaigns.campaigns;
    v_resumed  integer;
BEGIN
    v_campaign := campaigns._lock_campaign(p_campaign_id, ARRAY['paused'], 'resume');
    IF v_campaign.end_date <= p_as_of THEN
        RAISE EXCEPTION USING ERRCODE = 'QC409', MESSAGE = 'cannot resume a campaign past its end date',
            DETAIL = format('campaign_id=%s end_date=%s', p_campaign_id, v_campaign.end_date),
            HINT = 'complete_finished_campaigns completes it; clone it to send again.';
    END IF;
    UPDATE campaigns.campaigns SET status = 'active' WHERE id = p_campaign_id;
    -- Only the enrollments the campaign pause paused; those paused on their own (reply, by hand)
    -- stay paused. Overdue ones become due now and are paced by the daily limit and the window
    -- when processed, so resume is not a burst.
    UPDATE campaigns.campaign_contacts
    SET status = CASE WHEN started_at IS NULL THEN 'enrolled' ELSE 'active' END,
        pause_reason = NULL,
        updated_at = now()
    WHERE tenant_id = v_campaign.tenant_id AND campaign_id = p_campaign_id
      AND status = 'paused' AND pause_reason = 'campaign';
    GET DIAGNOSTICS v_resumed = ROW_COUNT;
    RETURN v_resumed;
END
$$;
COMMENT ON FUNCTION campaigns.resume_campaign(uuid, timestamptz) IS
    'Resumes a paused campaign (QC409 from any other status, or when its end_date is at or before p_as_of): enrollments paused with the campaign are released, those paused individually stay paused. Overdue enrollments are paced by the daily limit and sending window when processed. Returns the number released.';

CREATE OR REPLACE FUNCTION campaigns.clone_campaign(p_campaign_id uuid)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_source campaigns.campaigns;
    v_new_id uuid := gen_random_uuid();
    -- The caller (set by the API per request); a DBA's clone keeps the original's creator.
    v_caller uuid := NULLIF(current_setting('campaigns.user_id', true), '')::uuid;
    -- Old and new ids of the steps and A/B tests (element i of one pairs with element i of the other).
    v_old_steps uuid[];
    v_new_steps uuid[];
    v_old_tests uuid[];
    v_new_tests uuid[];
BEGIN
    SELECT * INTO v_source FROM campaigns.campaigns WHERE id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found', DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    INSERT INTO campaigns.campaigns (
        id, tenant_id, workspace_id, name, description, campaign_type, status, segment_id, sender_account_id,
        from_email, from_name, reply_to_email, start_date, end_date, timezone, send_strategy, track_opens,
        track_clicks, unsubscribe_enabled, daily_limit, sending_days, sending_window_start, sending_window_end,
        window_missed_action, on_reply, requires_approval, is_promotional, refresh_audience, created_by)
    SELECT v_new_id, tenant_id, workspace_id, left(name || ' (Copy)', 255), description, campaign_type, 'draft',
        segment_id, sender_account_id, from_email, from_name, reply_to_email, start_date, end_date, timezone,
        send_strategy, track_opens, track_clicks, unsubscribe_enabled, daily_limit, sending_days,
        sending_window_start, sending_window_end, window_missed_action, on_reply, requires_approval,
        is_promotional, refresh_audience, coalesce(v_caller, created_by)
    FROM campaigns.campaigns WHERE id = p_campaign_id;

    -- New ids first, so every target (next, true, false, scope) maps to the copy, never the original.
    SELECT array_agg(s.id), array_agg(gen_random_uuid()) INTO v_old_steps, v_new_steps
    FROM campaigns.campaign_steps s
    WHERE s.tenant_id = v_source.tenant_id AND s.campaign_id = p_campaign_id;
    WITH map AS (
        SELECT * FROM unnest(v_old_steps, v_new_steps) AS m(old_id, new_id)
    )
    INSERT INTO campaigns.campaign_steps (
        id, tenant_id, campaign_id, step_order, step_name, step_type, template_id, subject_line, email_content,
        wait_duration_value, wait_duration_unit, condition_rules, email_step_id, true_next_step_id,
        false_next_step_id, action_type, action_config, next_step_id)
    SELECT m.new_id, s.tenant_id, v_new_id, s.step_order, s.step_name, s.step_type, s.template_id, s.subject_line,
        s.email_content, s.wait_duration_value, s.wait_duration_unit, s.condition_rules,
        (SELECT new_id FROM map WHERE old_id = s.email_step_id),
        (SELECT new_id FROM map WHERE old_id = s.true_next_step_id),
        (SELECT new_id FROM map WHERE old_id = s.false_next_step_id),
        s.action_type, s.action_config,
        (SELECT new_id FROM map WHERE old_id = s.next_step_id)
    FROM campaigns.campaign_steps s JOIN map m ON m.old_id = s.id;

    -- A/B tests come along as drafts (settings and variants; no sample, decision or winner), on the
    -- copies of their steps.
    SELECT array_agg(t.id), array_agg(gen_random_uuid()) INTO v_old_tests, v_new_tests
    FROM campaigns.ab_tests t
    WHERE t.tenant_id = v_source.tenant_id AND t.campaign_id = p_campaign_id;
    INSERT INTO campaigns.ab_tests (
        id, tenant_id, campaign_id, step_id, test_name, sample_percent, duration_hours, win_metric,
        confidence_threshold, minimum_sample_size, if_no_winner)
    SELECT tm.new_id, t.tenant_id, v_new_id, sm.new_id, t.test_name, t.sample_percent, t.duration_hours,
        t.win_metric, t.confidence_threshold, t.minimum_sample_size, t.if_no_winner
    FROM campaigns.ab_tests t
    JOIN unnest(v_old_tests, v_new_tests) AS tm(old_id, new_id) ON tm.old_id = t.id
    JOIN unnest(v_old_steps, v_new_steps) AS sm(old_id, new_id) ON sm.old_id = t.step_id;
    INSERT INTO campaigns.ab_test_variants (
        tenant_id, ab_test_id, variant_name, is_control, subject_line, email_content, sender_name, sender_email)
    SELECT v.tenant_id, tm.new_id, v.variant_name, v.is_control, v.subject_line, v.email_content, v.sender_name,
        v.sender_email
    FROM campaigns.ab_test_variants v
    JOIN unnest(v_old_tests, v_new_tests) AS tm(old_id, new_id) ON tm.old_id = v.ab_test_id
    WHERE v.tenant_id = v_source.tenant_id;
    RETURN v_new_id;
END
$$;
COMMENT ON FUNCTION campaigns.clone_campaign(uuid) IS
    'Copies a campaign as a draft named "<name> (Copy)" with its steps under new ids (branch, next and scope targets remapped to the copies), counters zeroed, and its A/B tests as drafts with their variants (settings kept; no sample, decision or winner); no enrollments, analytics or approvals. created_by is the caller (campaigns.user_id setting) or the original''s creator. Returns the new id.';
