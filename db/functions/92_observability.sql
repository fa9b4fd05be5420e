-- What monitoring reads: one call returns the engine's gauges (outbox depth, enrollments and
-- campaigns by status, pg_cron job runs), and the pg_cron run history is kept bounded.

CREATE OR REPLACE FUNCTION campaigns.engine_metrics(p_as_of timestamptz DEFAULT now())
RETURNS TABLE (metric text, labels jsonb, value double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
SET jit = off
AS $$
BEGIN
    -- Outbox: the partial indexes (queued, sending) answer these without reading the table.
    RETURN QUERY
        SELECT 'campaigns_outbox_messages', jsonb_build_object('status', s.status), s.n::double precision
        FROM (SELECT 'queued' AS status, count(*) AS n FROM campaigns.email_messages WHERE status = 'queued'
              UNION ALL SELECT 'sending', count(*) FROM campaigns.email_messages WHERE status = 'sending'
              UNION ALL SELECT 'failed', count(*) FROM campaigns.email_messages WHERE status = 'failed') s;
    RETURN QUERY
        SELECT 'campaigns_outbox_due_messages', '{}'::jsonb, count(*)::double precision
        FROM campaigns.email_messages WHERE status = 'queued' AND next_attempt_at <= p_as_of;
    RETURN QUERY
        SELECT 'campaigns_outbox_oldest_due_seconds', '{}'::jsonb,
               coalesce(extract(epoch FROM p_as_of - min(next_attempt_at)), 0)::double precision
        FROM campaigns.email_messages WHERE status = 'queued' AND next_attempt_at <= p_as_of;
    -- Sent and tracked mail, from the step counters (small table, kept live by the engine).
    RETURN QUERY
        SELECT 'campaigns_emails_total', jsonb_build_object('kind', k.kind), k.n::double precision
        FROM (SELECT 'sent' AS kind, coalesce(sum(emails_sent), 0) AS n FROM campaigns.campaign_steps
              UNION ALL SELECT 'delivered', coalesce(sum(emails_delivered), 0) FROM campaigns.campaign_steps
              UNION ALL SELECT 'bounced', coalesce(sum(bounces), 0) FROM campaigns.campaign_steps
              UNION ALL SELECT 'opened', coalesce(sum(opens), 0) FROM campaigns.campaign_steps
              UNION ALL SELECT 'clicked', coalesce(sum(clicks), 0) FROM campaigns.campaign_steps
              UNION ALL SELECT 'replied', coalesce(sum(replies), 0) FROM campaigns.campaign_steps
              UNION ALL SELECT 'unsubscribed', coalesce(sum(unsubscribes), 0) FROM campaigns.campaign_steps) k;
    -- Enrollments by status: a scan of campaign_contacts (about 1 s per 5 million rows here); the
    -- service caches the result between scrapes.
    RETURN QUERY
        SELECT 'campaigns_enrollments', jsonb_build_object('status', s.status), coalesce(c.n, 0)::double precision
        FROM unnest(ARRAY['enrolled', 'active', 'paused', 'completed', 'exited']) AS s(status)
        LEFT JOIN (SELECT status, count(*) AS n FROM campaigns.campaign_contacts GROUP BY status) c ON c.status = s.status;
    RETURN QUERY
        SELECT 'campaigns_campaigns', jsonb_build_object('status', s.status), coalesce(c.n, 0)::double precision
        FROM unnest(ARRAY['draft', 'scheduled', 'active', 'paused', 'completed']) AS s(status)
        LEFT JOIN (SELECT status, count(*) AS n FROM campaigns.campaigns GROUP BY status) c ON c.status = s.status;
    IF to_regclass('cron.job_run_details') IS NOT NULL THEN
        -- The latest finished run of each engine job.
        RETURN QUERY
            SELECT m.metric, jsonb_build_object('job', j.jobname), m.v
            FROM cron.job j
            CROSS JOIN LATERAL (SELECT d.start_time, d.end_time, d.status FROM cron.job_run_details d
                                WHERE d.jobid = j.jobid AND d.end_time IS NOT NULL
                                ORDER BY d.runid DESC LIMIT 1) d
            CROSS JOIN LATERAL (VALUES
                ('campaigns_cron_job_last_run_timestamp_seconds', extract(epoch FROM d.start_time)::double precision),
                ('campaigns_cron_job_last_duration_seconds', extract(epoch FROM d.end_time - d.start_time)::double precision),
                ('campaigns_cron_job_last_run_succeeded', (d.status = 'succeeded')::integer::double precision)) m(metric, v)
            WHERE j.jobname LIKE 'campaigns.%';
    END IF;
END
$$;
COMMENT ON FUNCTION campaigns.engine_metrics(timestamptz) IS
    'The engine''s gauges for monitoring (the service exposes them on /metrics): outbox messages by status, due messages and the oldest due age, sent/tracked mail totals from the step counters, enrollments and campaigns by status, and the last run time, duration and success of each pg_cron job.';

CREATE OR REPLACE FUNCTION campaigns.purge_cron_history(p_keep interval DEFAULT '7 days', p_as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_deleted integer := 0;
BEGIN
    -- pg_cron logs every run (process_due_steps alone: 1,440 a day at one minute) and never forgets.
    IF to_regclass('cron.job_run_details') IS NOT NULL THEN
        DELETE FROM cron.job_run_details WHERE end_time < p_as_of - p_keep;
        GET DIAGNOSTICS v_deleted = ROW_COUNT;
    END IF;
    RETURN v_deleted;
END
$$;
COMMENT ON FUNCTION campaigns.purge_cron_history(interval, timestamptz) IS
    'Deletes pg_cron run details older than p_keep (default 7 days). Returns the number deleted. Run by pg_cron daily.';
