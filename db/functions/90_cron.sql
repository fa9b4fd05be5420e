-- The pg_cron schedule: which engine function runs when. Each job's command is one function or
-- procedure call; installing is idempotent (cron.schedule replaces a job of the same name).

CREATE OR REPLACE FUNCTION campaigns.engine_jobs(p_step_schedule text DEFAULT '*/5 * * * *')
RETURNS TABLE (jobname text, schedule text, command text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    VALUES
        -- Drains what is due batch by batch (40_processing.sql), not one batch per tick.
        ('campaigns.process_due_steps',           p_step_schedule, 'CALL campaigns.drain_due_steps()'),
        ('campaigns.launch_scheduled_campaigns',  '* * * * *',     'SELECT campaigns.launch_scheduled_campaigns()'),
        ('campaigns.complete_finished_campaigns', '0 * * * *',     'SELECT campaigns.complete_finished_campaigns()'),
        -- Yesterday and the 7 days before, so late events count.
        ('campaigns.rollup_analytics',            '0 2 * * *',     'SELECT campaigns.rollup_analytics(NULL, 7)'),
        ('campaigns.check_deliverability',        '15 * * * *',    'SELECT campaigns.check_deliverability()'),
        ('campaigns.refresh_dynamic_segments',    '*/30 * * * *',  'SELECT campaigns.refresh_dynamic_segments()'),
        ('campaigns.refresh_campaign_audiences',  '0 3 * * *',     'SELECT campaigns.refresh_campaign_audiences()'),
        ('campaigns.evaluate_ab_tests',           '*/15 * * * *',  'SELECT campaigns.evaluate_ab_tests()'),
        -- Keeps cron.job_run_details bounded.
        ('campaigns.purge_cron_history',          '45 3 * * *',    'SELECT campaigns.purge_cron_history()'),
        -- Approvals pending for 48 hours are rejected (74_approvals.sql).
        ('campaigns.expire_approvals',            '30 * * * *',    'SELECT campaigns.expire_approvals()'),
        -- The monthly quota: an over-quota tenant's queued mail waits for next month (50_send_quota.sql).
        ('campaigns.defer_over_quota_mail',       '* * * * *',     'SELECT campaigns.defer_over_quota_mail()')
$$;
COMMENT ON FUNCTION campaigns.engine_jobs(text) IS
    'The engine''s pg_cron jobs, the one list schedule_jobs installs and the readiness check expects: job name, cron schedule (UTC) and command (one function or procedure call). p_step_schedule is the step processing interval (default every 5 minutes).';

CREATE OR REPLACE FUNCTION campaigns.schedule_jobs(p_step_schedule text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_step_schedule text;
BEGIN
    IF to_regclass('cron.job') IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC409', MESSAGE = 'pg_cron is not installed in this database',
            HINT = 'CREATE EXTENSION pg_cron in the database named by cron.database_name.';
    END IF;
    -- An explicit interval wins; otherwise keep the one in place (the demo runs every minute), else
    -- engine_jobs' default.
    SELECT coalesce(p_step_schedule, (SELECT schedule FROM cron.job WHERE jobname = 'campaigns.process_due_steps'),
                    (SELECT j.schedule FROM campaigns.engine_jobs() j WHERE j.jobname = 'campaigns.process_due_steps'))
      INTO v_step_schedule;
    PERFORM cron.schedule(j.jobname, j.schedule, j.command) FROM campaigns.engine_jobs(v_step_schedule) j;
    -- Jobs of ours that are no longer in the list are removed.
    PERFORM cron.unschedule(c.jobid) FROM cron.job c
    WHERE c.jobname LIKE 'campaigns.%' AND c.jobname NOT IN (SELECT j.jobname FROM campaigns.engine_jobs() j);
END
$$;
COMMENT ON FUNCTION campaigns.schedule_jobs(text) IS
    'Installs the engine''s pg_cron jobs (campaigns.engine_jobs()) idempotently and removes engine jobs no longer listed there. The step processing job (CALL drain_due_steps()) runs every p_step_schedule when given, else keeps its current schedule, else every 5 minutes. Run in the database named by cron.database_name; QC409 where pg_cron is not installed.';

CREATE OR REPLACE FUNCTION campaigns.cron_jobs_missing(p_jobs text[] DEFAULT NULL)
RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_jobs text[] := coalesce(p_jobs, ARRAY(SELECT j.jobname FROM campaigns.engine_jobs() j ORDER BY j.jobname));
BEGIN
    -- SECURITY DEFINER: cron.job is not readable by the application role (and its policy shows
    -- each user only their own jobs).
    IF to_regclass('cron.job') IS NULL THEN
        RETURN v_jobs;
    END IF;
    RETURN coalesce((SELECT array_agg(j ORDER BY j) FROM unnest(v_jobs) AS j
                     WHERE NOT EXISTS (SELECT FROM cron.job WHERE jobname = j)), '{}');
END
$$;
COMMENT ON FUNCTION campaigns.cron_jobs_missing(text[]) IS
    'The names in p_jobs (default: every job of campaigns.engine_jobs()) that are not installed as pg_cron jobs in this database (all of them where pg_cron is absent). Used by the readiness check.';
