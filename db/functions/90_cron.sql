-- The pg_cron schedule: which engine function runs when. Each job's command is one function or
-- procedure call; installing is idempotent (cron.schedule replaces a job of the same name).

CREATE OR REPLACE FUNCTION campaigns.schedule_jobs(p_step_schedule text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_step_schedule text;
    v_jobs text[][] ;
BEGIN
    IF to_regclass('cron.job') IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC409', MESSAGE = 'pg_cron is not installed in this database',
            HINT = 'CREATE EXTENSION pg_cron in the database named by cron.database_name.';
    END IF;
    -- An explicit interval wins; otherwise keep the one in place (the demo runs every minute), else 5 minutes.
    SELECT coalesce(p_step_schedule, (SELECT schedule FROM cron.job WHERE jobname = 'campaigns.process_due_steps'), '*/5 * * * *')
      INTO v_step_schedule;
    v_jobs := ARRAY[
        -- Drains what is due batch by batch (35_processing.sql), not one batch per tick.
        ARRAY['campaigns.process_due_steps',           v_step_schedule, 'CALL campaigns.drain_due_steps()'],
        ARRAY['campaigns.launch_scheduled_campaigns',  '* * * * *',     'SELECT campaigns.launch_scheduled_campaigns()'],
        ARRAY['campaigns.complete_finished_campaigns', '0 * * * *',     'SELECT campaigns.complete_finished_campaigns()'],
        ARRAY['campaigns.rollup_analytics',            '0 2 * * *',     'SELECT campaigns.rollup_analytics(NULL, 7)'],
        ARRAY['campaigns.check_deliverability',        '15 * * * *',    'SELECT campaigns.check_deliverability()'],
        ARRAY['campaigns.refresh_dynamic_segments',    '*/30 * * * *',  'SELECT campaigns.refresh_dynamic_segments()'],
        ARRAY['campaigns.refresh_campaign_audiences',  '0 3 * * *',     'SELECT campaigns.refresh_campaign_audiences()'],
        ARRAY['campaigns.evaluate_ab_tests',           '*/15 * * * *',  'SELECT campaigns.evaluate_ab_tests()'],
        ARRAY['campaigns.purge_cron_history',          '45 3 * * *',    'SELECT campaigns.purge_cron_history()'],
        -- Approvals pending for 48 hours are rejected (74_approvals.sql).
        ARRAY['campaigns.expire_approvals',            '30 * * * *',    'SELECT campaigns.expire_approvals()'],
        -- The monthly quota: an over-quota tenant's queued mail waits for next month (39_send_quota.sql).
        ARRAY['campaigns.defer_over_quota_mail',       '* * * * *',     'SELECT campaigns.defer_over_quota_mail()']
    ];
    PERFORM cron.schedule(v_jobs[i][1], v_jobs[i][2], v_jobs[i][3]) FROM generate_subscripts(v_jobs, 1) AS i;
    -- Jobs of ours that are no longer in the list are removed.
    PERFORM cron.unschedule(jobid) FROM cron.job
    WHERE jobname LIKE 'campaigns.%' AND jobname <> ALL (SELECT v_jobs[i][1] FROM generate_subscripts(v_jobs, 1) AS i);
END
$$;
COMMENT ON FUNCTION campaigns.schedule_jobs(text) IS
    'Installs the engine''s pg_cron jobs idempotently: process_due_steps (CALL drain_due_steps(): due enrollments in batches until none is left, every 5 minutes unless p_step_schedule or the current job says otherwise), launch_scheduled_campaigns every minute, complete_finished_campaigns hourly, rollup_analytics (yesterday and the 7 days before) daily at 02:00 UTC, check_deliverability hourly at :15, refresh_dynamic_segments every 30 minutes, refresh_campaign_audiences daily at 03:00 UTC, expire_approvals hourly at :30, defer_over_quota_mail every minute, evaluate_ab_tests every 15 minutes, purge_cron_history daily at 03:45 UTC. Run in the database named by cron.database_name.';

CREATE OR REPLACE FUNCTION campaigns.cron_jobs_missing(p_jobs text[])
RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    -- SECURITY DEFINER: cron.job is not readable by the application role (and its policy shows
    -- each user only their own jobs).
    IF to_regclass('cron.job') IS NULL THEN
        RETURN p_jobs;
    END IF;
    RETURN coalesce((SELECT array_agg(j ORDER BY j) FROM unnest(p_jobs) AS j
                     WHERE NOT EXISTS (SELECT FROM cron.job WHERE jobname = j)), '{}');
END
$$;
COMMENT ON FUNCTION campaigns.cron_jobs_missing(text[]) IS
    'The names in p_jobs that are not installed as pg_cron jobs in this database (all of them where pg_cron is absent). Used by the readiness check.';
