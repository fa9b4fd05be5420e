-- Local-time and calendar rules: wait durations that keep the wall clock across DST, the next instant
-- inside a sending window or at a local time, timezone names, recurring schedules (the next
-- occurrence) and blackout dates (what a local day allows).

CREATE OR REPLACE FUNCTION campaigns._add_wait(p_from timestamptz, p_value integer, p_unit text, p_timezone text)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    -- minutes and hours are elapsed time; days and weeks are calendar days in the local zone, so
    -- 09:00 stays 09:00 across a DST change.
    SELECT CASE p_unit
        WHEN 'minutes' THEN p_from + make_interval(mins => p_value)
        WHEN 'hours'   THEN p_from + make_interval(hours => p_value)
        WHEN 'days'    THEN ((p_from AT TIME ZONE p_timezone) + make_interval(days => p_value)) AT TIME ZONE p_timezone
        WHEN 'weeks'   THEN ((p_from AT TIME ZONE p_timezone) + make_interval(days => 7 * p_value)) AT TIME ZONE p_timezone
    END
$$;
COMMENT ON FUNCTION campaigns._add_wait(timestamptz, integer, text, text) IS
    'p_from plus a wait of p_value p_unit; days and weeks keep the local wall-clock time in p_timezone.';

CREATE OR REPLACE FUNCTION campaigns.next_window_open(
    p_at timestamptz, p_timezone text, p_days smallint[], p_start time, p_end time)
RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
DECLARE
    v_local   timestamp := p_at AT TIME ZONE p_timezone;
    v_day     date;
    v_start   time := coalesce(p_start, time '00:00');
BEGIN
    IF p_days IS NULL AND p_start IS NULL THEN
        RETURN p_at;
    END IF;
    -- At most a week ahead: some allowed weekday comes within 7 days.
    FOR v_offset IN 0..7 LOOP
        v_day := v_local::date + v_offset;
        CONTINUE WHEN p_days IS NOT NULL AND extract(isodow FROM v_day)::smallint <> ALL (p_days);
        IF v_offset > 0 THEN
            RETURN (v_day + v_start) AT TIME ZONE p_timezone;
        END IF;
        IF v_local::time < v_start THEN
            RETURN (v_day + v_start) AT TIME ZONE p_timezone;
        END IF;
        IF p_end IS NULL OR v_local::time < p_end THEN
            RETURN p_at;
        END IF;
    END LOOP;
    RETURN p_at;
END
$$;
COMMENT ON FUNCTION campaigns.next_window_open(timestamptz, text, smallint[], time, time) IS
    'The earliest instant at or after p_at that falls inside the sending window (ISO weekdays p_days, local hours [p_start, p_end)) in p_timezone. NULL days and hours = no window.';

CREATE OR REPLACE FUNCTION campaigns.next_local_time(p_at timestamptz, p_timezone text, p_time time)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    -- Today at p_time local when still ahead, else tomorrow at p_time local.
    SELECT CASE
        WHEN ((p_at AT TIME ZONE p_timezone)::date + p_time) AT TIME ZONE p_timezone >= p_at
            THEN ((p_at AT TIME ZONE p_timezone)::date + p_time) AT TIME ZONE p_timezone
        ELSE ((p_at AT TIME ZONE p_timezone)::date + 1 + p_time) AT TIME ZONE p_timezone
    END
$$;
COMMENT ON FUNCTION campaigns.next_local_time(timestamptz, text, time) IS
    'The next instant at or after p_at whose local time in p_timezone is p_time (today if still ahead, else tomorrow).';

CREATE OR REPLACE FUNCTION campaigns._check_timezone(p_timezone text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    IF p_timezone IS NOT NULL AND NOT EXISTS (SELECT FROM campaigns.timezone_names WHERE name = p_timezone) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC302', MESSAGE = 'not an IANA timezone name', DETAIL = format('timezone=%s', p_timezone),
            HINT = 'For example Europe/Paris or America/New_York.';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._recurrence_error(p_rec jsonb)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    -- NULL when the recurrence is valid, else what is wrong with it. Checked by pattern before any
    -- cast, so a malformed value is reported rather than raised.
    SELECT CASE
        WHEN jsonb_typeof(p_rec) IS DISTINCT FROM 'object' THEN 'recurrence must be an object'
        WHEN NOT coalesce(p_rec->>'frequency' IN ('daily', 'weekly', 'monthly'), false) THEN 'frequency must be daily, weekly or monthly'
        WHEN p_rec ? 'interval' AND NOT coalesce((p_rec->>'interval') ~ '^[0-9]{1,2}$' AND (p_rec->>'interval')::integer BETWEEN 1 AND 52, false)
            THEN 'interval must be 1 to 52'
        WHEN p_rec->>'frequency' = 'weekly' AND NOT coalesce(
                jsonb_typeof(p_rec->'days_of_week') = 'array' AND jsonb_array_length(p_rec->'days_of_week') BETWEEN 1 AND 7
                AND (SELECT bool_and(d ~ '^[1-7]$') FROM jsonb_array_elements_text(p_rec->'days_of_week') d), false)
            THEN 'weekly needs days_of_week, ISO 1 (Monday) to 7 (Sunday)'
        WHEN p_rec->>'frequency' = 'monthly' AND NOT coalesce((p_rec->>'day_of_month') ~ '^[0-9]{1,2}$'
                AND (p_rec->>'day_of_month')::integer BETWEEN 1 AND 31, false)
            THEN 'monthly needs day_of_month 1 to 31'
        WHEN p_rec ? 'time' AND NOT coalesce((p_rec->>'time') ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$', false) THEN 'time must be HH:MM'
        WHEN p_rec ? 'timezone' AND NOT EXISTS (SELECT FROM campaigns.timezone_names WHERE name = p_rec->>'timezone')
            THEN 'unknown timezone'
        WHEN p_rec ? 'start_date' AND NOT coalesce((p_rec->>'start_date') ~ '^\d{4}-\d{2}-\d{2}$', false) THEN 'start_date must be YYYY-MM-DD'
        WHEN p_rec ? 'end_date' AND NOT coalesce((p_rec->>'end_date') ~ '^\d{4}-\d{2}-\d{2}$', false) THEN 'end_date must be YYYY-MM-DD'
        WHEN p_rec ? 'occurrences' AND NOT coalesce((p_rec->>'occurrences') ~ '^[0-9]{1,4}$' AND (p_rec->>'occurrences')::integer >= 1, false)
            THEN 'occurrences must be a positive integer'
        ELSE NULL
    END
$$;

CREATE OR REPLACE FUNCTION campaigns.next_occurrence(p_recurrence jsonb, p_after timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_tz       text := coalesce(p_recurrence->>'timezone', 'UTC');
    v_time     time := coalesce((p_recurrence->>'time')::time, time '09:00');
    v_freq     text := p_recurrence->>'frequency';
    v_interval integer := coalesce((p_recurrence->>'interval')::integer, 1);
    v_first    date := (p_after AT TIME ZONE v_tz)::date;
    v_start    date := coalesce((p_recurrence->>'start_date')::date, v_first);
    v_end      date := (p_recurrence->>'end_date')::date;
    v_days     integer[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(p_recurrence->'days_of_week', '[]'))::integer);
    v_dom      integer := (p_recurrence->>'day_of_month')::integer;
    v_day      date;
    v_at       timestamptz;
BEGIN
    -- Day by day from the later of p_after's local day and the start; bounded by a full cycle of
    -- the longest interval (52 months).
    FOR v_offset IN 0 .. 1600 LOOP
        v_day := greatest(v_first, v_start) + v_offset;
        EXIT WHEN v_end IS NOT NULL AND v_day > v_end;
        CONTINUE WHEN NOT CASE v_freq
            WHEN 'daily' THEN (v_day - v_start) % v_interval = 0
            WHEN 'weekly' THEN extract(isodow FROM v_day)::integer = ANY (v_days)
                          AND ((date_trunc('week', v_day)::date - date_trunc('week', v_start)::date) / 7) % v_interval = 0
            -- Day 31 in a 30-day month is the 30th (the month's last day), never the 1st of the next.
            WHEN 'monthly' THEN ((extract(year FROM v_day) - extract(year FROM v_start)) * 12
                                 + extract(month FROM v_day) - extract(month FROM v_start))::integer % v_interval = 0
                          AND extract(day FROM v_day)::integer
                              = least(v_dom, extract(day FROM (date_trunc('month', v_day) + interval '1 month - 1 day'))::integer)
            ELSE false
        END;
        v_at := (v_day + v_time) AT TIME ZONE v_tz;
        IF v_at > p_after THEN
            RETURN v_at;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION campaigns.next_occurrence(jsonb, timestamptz) IS
    'The first occurrence of a recurrence strictly after p_after, or NULL when the series has ended (end_date). recurrence = {frequency daily|weekly|monthly, interval (default 1), days_of_week ISO 1-7 (weekly), day_of_month 1-31 clamped to the month''s last day (monthly), time HH:MM local (default 09:00), timezone (default UTC), start_date, end_date}. Local wall-clock time is kept across DST.';

CREATE OR REPLACE FUNCTION campaigns.blackout_action(p_tenant_id uuid, p_campaign_id uuid, p_day date)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    -- allow beats skip beats delay; NULL when no blackout covers the day.
    SELECT b.action
    FROM campaigns.blackout_dates b
    WHERE b.tenant_id = p_tenant_id AND p_day BETWEEN b.starts_on AND b.ends_on
      AND (b.campaign_ids IS NULL OR p_campaign_id = ANY (b.campaign_ids))
    ORDER BY CASE b.action WHEN 'allow' THEN 0 WHEN 'skip' THEN 1 ELSE 2 END
    LIMIT 1
$$;
COMMENT ON FUNCTION campaigns.blackout_action(uuid, uuid, date) IS
    'What the tenant''s blackout dates say about sending campaign p_campaign_id on local day p_day: allow (an override), skip, delay, or NULL (no blackout).';

CREATE OR REPLACE FUNCTION campaigns._next_unblocked_day(p_tenant_id uuid, p_campaign_id uuid, p_day date)
RETURNS date
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    -- The first day after p_day that no delay or skip blackout covers (an allow counts as open).
    -- generate_series yields the days in order, so LIMIT 1 stops at the first open one.
    SELECT d::date
    FROM generate_series(p_day + 1, p_day + 400, interval '1 day') AS d
    WHERE coalesce(campaigns.blackout_action(p_tenant_id, p_campaign_id, d::date), 'allow') = 'allow'
    LIMIT 1
$$;
