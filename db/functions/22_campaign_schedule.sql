-- Scheduling: one-off schedules (by instant or local wall-clock time), recurring templates and the
-- pg_cron job that launches what is due.

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

-- The whole "when to launch" rule of a schedule request, so a client (the API) passes the request's
-- fields as they came: start_at is text because whether it carries a UTC offset is part of the rule.
CREATE OR REPLACE FUNCTION campaigns.schedule_campaign_from_request(
    p_campaign_id uuid, p_start_at text DEFAULT NULL, p_local_date date DEFAULT NULL, p_local_time time DEFAULT NULL,
    p_timezone text DEFAULT NULL, p_as_of timestamptz DEFAULT now())
RETURNS campaigns.campaigns
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_start_at text := nullif(btrim(p_start_at), '');
    v_instant  timestamptz;
    v_local    timestamp;
    v_timezone text;
    v_campaign campaigns.campaigns;
BEGIN
    IF (v_start_at IS NULL) = (p_local_date IS NULL AND p_local_time IS NULL)
       OR (p_local_date IS NULL) <> (p_local_time IS NULL) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'give start_at, or local_date and local_time together',
            HINT = 'start_at with a UTC offset is an instant; without one it is a wall-clock time in timezone.';
    END IF;
    BEGIN
        -- An ISO 8601 date-time whose time ends in Z or ±hh[:mm] is an instant; any other is a local time.
        IF v_start_at ~* '\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(z|[+-]\d{2}(:?\d{2})?)$' THEN
            v_instant := v_start_at::timestamptz;
        ELSIF v_start_at IS NOT NULL THEN
            v_local := v_start_at::timestamp;
        ELSE
            v_local := p_local_date + p_local_time;
        END IF;
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'start_at is not an ISO 8601 date-time',
            DETAIL = format('start_at=%s', v_start_at);
    END;
    IF v_instant IS NOT NULL AND p_timezone IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'timezone only applies to a local time',
            HINT = 'Drop the UTC offset from start_at, or drop timezone.';
    END IF;
    PERFORM campaigns._check_timezone(p_timezone);
    SELECT coalesce(p_timezone, c.timezone) INTO v_timezone FROM campaigns.campaigns c WHERE c.id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found', DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    -- A local wall-clock time in the zone (the campaign's unless given); a time skipped by a DST
    -- change resolves as PostgreSQL's AT TIME ZONE does (forward by the gap).
    PERFORM campaigns.schedule_campaign(p_campaign_id, coalesce(v_instant, v_local AT TIME ZONE v_timezone), p_as_of);
    SELECT * INTO v_campaign FROM campaigns.campaigns WHERE id = p_campaign_id;
    RETURN v_campaign;
END
$$;
COMMENT ON FUNCTION campaigns.schedule_campaign_from_request(uuid, text, date, time, text, timestamptz) IS
    'Schedules a draft (or reschedules a scheduled) campaign from a schedule request: p_start_at (ISO 8601) with a UTC offset or Z is an instant; without one, or p_local_date + p_local_time, it is a wall-clock time in p_timezone, default the campaign''s. QC422 unless exactly one form is given (both local fields together), for an unparsable p_start_at, or for p_timezone with an instant; QC302 for a bad timezone; QC301 when the instant is not after p_as_of; QC404 when not visible; QC409 from another status.';

CREATE OR REPLACE FUNCTION campaigns.schedule_campaign_at(
    p_campaign_id uuid, p_start_at timestamptz DEFAULT NULL, p_local_start timestamp DEFAULT NULL,
    p_timezone text DEFAULT NULL, p_as_of timestamptz DEFAULT now())
RETURNS campaigns.campaigns
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
    -- The typed form of schedule_campaign_from_request, which holds the rule (an instant is passed
    -- with its offset, a local time without one).
    SELECT campaigns.schedule_campaign_from_request(
        p_campaign_id, to_char(p_start_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        p_local_start::date, p_local_start::time, p_timezone, p_as_of)
$$;
COMMENT ON FUNCTION campaigns.schedule_campaign_at(uuid, timestamptz, timestamp, text, timestamptz) IS
    'Schedules a draft (or reschedules a scheduled) campaign at an instant (p_start_at) or at a local wall-clock time (p_local_start) in p_timezone, default the campaign''s timezone; the rules and refusals are schedule_campaign_from_request''s. QC301 when the instant is not after p_as_of, QC302 for a bad timezone, QC422 unless exactly one form is given, QC409 from another status.';

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
