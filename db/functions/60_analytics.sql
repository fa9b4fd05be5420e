-- Analytics: the daily rollup into campaign_analytics, the rate formulas, and the analytics API's
-- report for one campaign.

CREATE OR REPLACE FUNCTION campaigns._rate(p_part bigint, p_whole bigint)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    -- A percentage rounded to 2 decimals; a zero denominator gives 0. Capped at 100 for numeric(5,2).
    SELECT CASE WHEN coalesce(p_whole, 0) = 0 THEN 0
                ELSE least(round(100.0 * p_part / p_whole, 2), 100) END
$$;

-- The rate formulas, once (the rollup's columns, the analytics report's summary and its per-step figures).
CREATE OR REPLACE FUNCTION campaigns._rates(
    p_sent bigint, p_delivered bigint, p_bounced bigint, p_unique_opens bigint, p_unique_clicks bigint,
    p_replies bigint, p_unsubscribes bigint, p_complaints bigint)
RETURNS TABLE (delivery_rate numeric, open_rate numeric, click_rate numeric, click_to_open_rate numeric,
               reply_rate numeric, unsubscribe_rate numeric, bounce_rate numeric, complaint_rate numeric)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, campaigns
AS $$
    -- Opens, clicks, replies, unsubscribes and complaints per delivered mail; delivery and bounces per
    -- sent mail; click-to-open = unique clicks / unique opens.
    SELECT campaigns._rate(p_delivered, p_sent), campaigns._rate(p_unique_opens, p_delivered),
           campaigns._rate(p_unique_clicks, p_delivered), campaigns._rate(p_unique_clicks, p_unique_opens),
           campaigns._rate(p_replies, p_delivered), campaigns._rate(p_unsubscribes, p_delivered),
           campaigns._rate(p_bounced, p_sent), campaigns._rate(p_complaints, p_delivered)
$$;
COMMENT ON FUNCTION campaigns._rates(bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint) IS
    'The analytics rates, in percent rounded to 2 decimals (0 for a zero denominator): delivery and bounce per sent; open, click, reply, unsubscribe and complaint per delivered; click-to-open = unique clicks / unique opens.';

CREATE OR REPLACE FUNCTION campaigns.rollup_analytics(p_day date DEFAULT NULL, p_days_back integer DEFAULT 0)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
-- JIT compiling the rollup cost more than it saved.
SET jit = off
-- Planned for the actual days every run: a generic plan cannot know how many days the range holds.
SET plan_cache_mode = force_custom_plan
-- The per-message step groups a day's events by message in memory: about 100 bytes a message that
-- had events (a day of 1M messages spilled to disk at 64 MB). A nightly singleton, so generous.
SET work_mem = '256MB'
AS $$
DECLARE
    v_last  date := coalesce(p_day, (now() AT TIME ZONE 'UTC')::date - 1);
    v_first date;
    v_rows  integer;
BEGIN
    IF p_days_back IS NULL OR p_days_back < 0 OR p_days_back > 366 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'p_days_back must be between 0 and 366';
    END IF;
    -- Singleton: a second concurrent run (cron plus a DBA) returns at once.
    IF NOT pg_try_advisory_xact_lock(hashtext('campaigns.rollup_analytics')) THEN
        RETURN 0;
    END IF;
    v_first := v_last - p_days_back;

    -- Each count is attributed to the UTC day it happened: sends by sent_at; per-message counts
    -- (delivered, bounced, unique opens and clicks, replies, complaints, unsubscribes) once per
    -- message, on the day of its earliest such event; total opens and clicks by the events of the day. Every campaign with any
    -- activity that day gets a row, whatever its status (paused ones included).
    -- The integer generate_series lets the planner see how many days there are (the date/interval
    -- form is estimated at 1,000 rows, which turned a 100,000-event day into a hash join over the
    -- whole outbox: 1.9 s instead of 0.3 s, measured).
    WITH bounds AS (
        SELECT v_first + i AS day, (v_first + i)::timestamp AT TIME ZONE 'UTC' AS lo,
               (v_first + i + 1)::timestamp AT TIME ZONE 'UTC' AS hi
        FROM generate_series(0, v_last - v_first) i
    ), sent AS (
        SELECT m.tenant_id, m.campaign_id, b.day, count(*) AS emails_sent
        FROM bounds b JOIN campaigns.email_messages m ON m.sent_at >= b.lo AND m.sent_at < b.hi
        GROUP BY 1, 2, 3
    ), touched AS (
        -- Every message with an event in the period, once per day it had one, with that day's
        -- opens and clicks. Aggregating per message first keeps the per-campaign step below free of
        -- count(DISTINCT …), whose sorts of millions of ids spilled to disk (33 s for a day of 5M
        -- events, 13 s this way, measured; see docs/scaling.md).
        SELECT e.tenant_id, e.message_id, b.day,
               count(*) FILTER (WHERE e.event_type = 'open') AS opens,
               count(*) FILTER (WHERE e.event_type = 'click') AS clicks
        FROM bounds b
        JOIN campaigns.email_events e ON e.occurred_at >= b.lo AND e.occurred_at < b.hi
        GROUP BY 1, 2, 3
    ), ev AS (
        -- A message's first delivered/bounced/opened/clicked/replied/complained/unsubscribed time is
        -- the time of its earliest such event (record_email_event and record_send_results keep it
        -- so), so "counted once, on the day of its earliest such event" is: that time falls on a
        -- day the message had events.
        SELECT t.tenant_id, m.campaign_id, t.day,
               count(*) FILTER (WHERE m.delivered_at >= b.lo AND m.delivered_at < b.hi) AS emails_delivered,
               count(*) FILTER (WHERE m.bounced_at >= b.lo AND m.bounced_at < b.hi) AS emails_bounced,
               count(*) FILTER (WHERE m.first_opened_at >= b.lo AND m.first_opened_at < b.hi) AS unique_opens,
               sum(t.opens) AS total_opens,
               count(*) FILTER (WHERE m.first_clicked_at >= b.lo AND m.first_clicked_at < b.hi) AS unique_clicks,
               sum(t.clicks) AS total_clicks,
               count(*) FILTER (WHERE m.replied_at >= b.lo AND m.replied_at < b.hi) AS replies,
               count(*) FILTER (WHERE m.complained_at >= b.lo AND m.complained_at < b.hi) AS spam_complaints,
               count(*) FILTER (WHERE m.unsubscribed_at >= b.lo AND m.unsubscribed_at < b.hi) AS unsubscribes
        FROM touched t
        JOIN bounds b ON b.day = t.day
        -- One primary-key probe per touched message (OFFSET 0 keeps the planner from turning this
        -- into a hash join over the whole outbox, whose size is all of history, not the day's).
        CROSS JOIN LATERAL (SELECT x.campaign_id, x.delivered_at, x.bounced_at, x.first_opened_at, x.first_clicked_at,
                                   x.replied_at, x.complained_at, x.unsubscribed_at
                            FROM campaigns.email_messages x
                            WHERE x.tenant_id = t.tenant_id AND x.id = t.message_id OFFSET 0) m
        GROUP BY 1, 2, 3
    ), totals AS (
        SELECT coalesce(s.tenant_id, v.tenant_id) AS tenant_id, coalesce(s.campaign_id, v.campaign_id) AS campaign_id,
               coalesce(s.day, v.day) AS day,
               coalesce(s.emails_sent, 0) AS emails_sent, coalesce(v.emails_delivered, 0) AS emails_delivered,
               coalesce(v.emails_bounced, 0) AS emails_bounced, coalesce(v.unique_opens, 0) AS unique_opens,
               coalesce(v.total_opens, 0) AS total_opens, coalesce(v.unique_clicks, 0) AS unique_clicks,
               coalesce(v.total_clicks, 0) AS total_clicks, coalesce(v.replies, 0) AS replies,
               coalesce(v.spam_complaints, 0) AS spam_complaints, coalesce(v.unsubscribes, 0) AS unsubscribes
        FROM sent s FULL JOIN ev v ON v.tenant_id = s.tenant_id AND v.campaign_id = s.campaign_id AND v.day = s.day
    )
    INSERT INTO campaigns.campaign_analytics AS a (
        tenant_id, campaign_id, date, emails_sent, emails_delivered, emails_bounced, unique_opens, total_opens,
        unique_clicks, total_clicks, replies, spam_complaints, unsubscribes, delivery_rate, open_rate, click_rate,
        click_to_open_rate, reply_rate, unsubscribe_rate, bounce_rate, complaint_rate, calculated_at)
    SELECT t.tenant_id, t.campaign_id, t.day, t.emails_sent, t.emails_delivered, t.emails_bounced, t.unique_opens,
           t.total_opens, t.unique_clicks, t.total_clicks, t.replies, t.spam_complaints, t.unsubscribes,
           r.delivery_rate, r.open_rate, r.click_rate, r.click_to_open_rate, r.reply_rate, r.unsubscribe_rate,
           r.bounce_rate, r.complaint_rate, now()
    FROM totals t
    CROSS JOIN LATERAL campaigns._rates(t.emails_sent, t.emails_delivered, t.emails_bounced, t.unique_opens,
                                        t.unique_clicks, t.replies, t.unsubscribes, t.spam_complaints) r
    ON CONFLICT ON CONSTRAINT uq_campaign_analytics_day DO UPDATE
    SET emails_sent = EXCLUDED.emails_sent, emails_delivered = EXCLUDED.emails_delivered,
        emails_bounced = EXCLUDED.emails_bounced, unique_opens = EXCLUDED.unique_opens,
        total_opens = EXCLUDED.total_opens, unique_clicks = EXCLUDED.unique_clicks,
        total_clicks = EXCLUDED.total_clicks, replies = EXCLUDED.replies,
        spam_complaints = EXCLUDED.spam_complaints, unsubscribes = EXCLUDED.unsubscribes,
        delivery_rate = EXCLUDED.delivery_rate, open_rate = EXCLUDED.open_rate, click_rate = EXCLUDED.click_rate,
        click_to_open_rate = EXCLUDED.click_to_open_rate, reply_rate = EXCLUDED.reply_rate,
        unsubscribe_rate = EXCLUDED.unsubscribe_rate, bounce_rate = EXCLUDED.bounce_rate,
        complaint_rate = EXCLUDED.complaint_rate, calculated_at = EXCLUDED.calculated_at
    -- A re-run that finds the same counts leaves the row (and its calculated_at) untouched.
    WHERE (a.emails_sent, a.emails_delivered, a.emails_bounced, a.unique_opens, a.total_opens, a.unique_clicks,
           a.total_clicks, a.replies, a.spam_complaints, a.unsubscribes)
          IS DISTINCT FROM
          (EXCLUDED.emails_sent, EXCLUDED.emails_delivered, EXCLUDED.emails_bounced, EXCLUDED.unique_opens,
           EXCLUDED.total_opens, EXCLUDED.unique_clicks, EXCLUDED.total_clicks, EXCLUDED.replies,
           EXCLUDED.spam_complaints, EXCLUDED.unsubscribes);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;
COMMENT ON FUNCTION campaigns.rollup_analytics(date, integer) IS
    'Upserts one campaign_analytics row per campaign and UTC day for p_day (NULL = yesterday in UTC) and the p_days_back days before it, so late events count. Rates are percentages rounded to 2 decimals (opens, clicks, replies, unsubscribes, complaints per delivered; delivery and bounce per sent; click-to-open = unique clicks / unique opens; 0 when the denominator is 0). Re-running with unchanged data changes nothing. Singleton (advisory lock): returns 0 when another run holds it; otherwise the number of rows written.';

CREATE OR REPLACE FUNCTION campaigns.campaign_analytics_report(
    p_campaign_id uuid, p_start date DEFAULT NULL, p_end date DEFAULT NULL, p_group_by text DEFAULT 'day',
    p_days integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_campaign campaigns.campaigns;
    -- The end defaults to today (UTC); the start to p_days (default 30) days ending at the end.
    v_days     integer := coalesce(p_days, 30);
    v_end      date := coalesce(p_end, (now() AT TIME ZONE 'UTC')::date);
    v_start    date := coalesce(p_start, coalesce(p_end, (now() AT TIME ZONE 'UTC')::date) - (coalesce(p_days, 30) - 1));
BEGIN
    IF v_days < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'the number of days must be positive';
    END IF;
    SELECT * INTO v_campaign FROM campaigns.campaigns WHERE id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found', DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    IF v_start > v_end THEN
        RAISE EXCEPTION USING ERRCODE = 'QC301', MESSAGE = 'Start date must be before end date',
            DETAIL = format('startDate=%s endDate=%s', v_start, v_end);
    END IF;
    IF v_end - v_start > 3660 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC301', MESSAGE = 'the range is limited to 10 years',
            DETAIL = format('startDate=%s endDate=%s', v_start, v_end);
    END IF;
    IF p_group_by IS NULL OR p_group_by NOT IN ('day', 'week', 'month') THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'groupBy is day, week or month';
    END IF;
    RETURN (
        WITH rows AS (
            SELECT a.* FROM campaigns.campaign_analytics a
            WHERE a.tenant_id = v_campaign.tenant_id AND a.campaign_id = p_campaign_id AND a.date BETWEEN v_start AND v_end
        ), totals AS (
            SELECT coalesce(sum(emails_sent), 0)::bigint AS emails_sent, coalesce(sum(emails_delivered), 0)::bigint AS emails_delivered,
                   coalesce(sum(emails_bounced), 0)::bigint AS emails_bounced, coalesce(sum(unique_opens), 0)::bigint AS unique_opens,
                   coalesce(sum(total_opens), 0)::bigint AS total_opens, coalesce(sum(unique_clicks), 0)::bigint AS unique_clicks,
                   coalesce(sum(total_clicks), 0)::bigint AS total_clicks, coalesce(sum(replies), 0)::bigint AS replies,
                   coalesce(sum(spam_complaints), 0)::bigint AS spam_complaints, coalesce(sum(unsubscribes), 0)::bigint AS unsubscribes
            FROM rows
        ), series AS (
            SELECT date_trunc(p_group_by, r.date::timestamp)::date AS period_start,
                   sum(r.emails_sent) AS emails_sent, sum(r.emails_delivered) AS emails_delivered,
                   sum(r.emails_bounced) AS emails_bounced, sum(r.unique_opens) AS unique_opens,
                   sum(r.unique_clicks) AS unique_clicks, sum(r.replies) AS replies, sum(r.unsubscribes) AS unsubscribes
            FROM rows r GROUP BY 1
        )
        SELECT jsonb_build_object(
            'campaign_id', p_campaign_id,
            'start_date', v_start,
            'end_date', v_end,
            'group_by', p_group_by,
            'summary', (SELECT to_jsonb(t) || to_jsonb(r)
                        FROM totals t
                        CROSS JOIN LATERAL campaigns._rates(t.emails_sent, t.emails_delivered, t.emails_bounced,
                            t.unique_opens, t.unique_clicks, t.replies, t.unsubscribes, t.spam_complaints) r),
            'overall', coalesce((SELECT jsonb_agg(to_jsonb(r) - 'tenant_id' ORDER BY r.date) FROM rows r), '[]'::jsonb),
            'time_series', coalesce((SELECT jsonb_agg(to_jsonb(s) ORDER BY s.period_start) FROM series s), '[]'::jsonb),
            'byStep', coalesce((
                SELECT jsonb_agg(jsonb_build_object(
                        'step_id', s.id, 'step_order', s.step_order, 'step_name', s.step_name, 'step_type', s.step_type,
                        'emails_sent', s.emails_sent, 'emails_delivered', s.emails_delivered, 'opens', s.opens,
                        'clicks', s.clicks, 'replies', s.replies, 'unsubscribes', s.unsubscribes, 'bounces', s.bounces,
                        'open_rate', r.open_rate, 'click_rate', r.click_rate, 'reply_rate', r.reply_rate)
                    ORDER BY s.step_order)
                FROM campaigns.campaign_steps s
                CROSS JOIN LATERAL campaigns._rates(s.emails_sent, s.emails_delivered, s.bounces, s.opens, s.clicks,
                                                    s.replies, s.unsubscribes, 0) r
                WHERE s.tenant_id = v_campaign.tenant_id AND s.campaign_id = p_campaign_id), '[]'::jsonb))
    );
END
$$;
COMMENT ON FUNCTION campaigns.campaign_analytics_report(uuid, date, date, text, integer) IS
    'The analytics API''s document for one campaign: overall = the campaign_analytics rows dated in [p_start, p_end] (inclusive; default the p_days, else 30, days ending today UTC), summary = their totals with the rates (delivery and bounce per sent; open, click, reply, unsubscribe and complaint per delivered; click-to-open), time_series = the same grouped by day, week or month, byStep = each step''s lifetime counters in step order. QC301 when start is after end, QC404 when not visible.';
