-- Local-time arithmetic shared by launch and step processing: wait durations that keep the wall
-- clock across DST, and the next instant inside a sending window in the recipient's timezone.

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
