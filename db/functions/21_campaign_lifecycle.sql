-- The campaign lifecycle after launch: pause, resume, the API's lifecycle actions, the end date and
-- completion. Every state change is a compare-and-set on campaigns.status under the campaign's row
-- lock (_lock_campaign), so concurrent calls serialise and the loser gets QC409.

DROP FUNCTION IF EXISTS campaigns._lock_campaign(uuid, text[], text);

-- The one way a campaign is locked before it changes (lifecycle, scheduling, launch, step edits,
-- approvals): the row lock, QC404 when it is not visible, and p_errcode (QC409 by default) unless its
-- status is one of p_allowed.
CREATE OR REPLACE FUNCTION campaigns._lock_campaign(
    p_campaign_id uuid, p_allowed text[], p_action text, p_errcode text DEFAULT 'QC409', p_hint text DEFAULT NULL)
RETURNS campaigns.campaigns
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_campaign campaigns.campaigns;
BEGIN
    -- NO KEY UPDATE: serialises state changes without blocking the key-share locks that foreign key
    -- checks (enrollments, steps) take on the campaign row. The step validation trigger takes the
    -- same lock, so step edits that lock here first are ordered too.
    SELECT * INTO v_campaign FROM campaigns.campaigns WHERE id = p_campaign_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found',
            DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    IF NOT v_campaign.status = ANY (p_allowed) THEN
        RAISE EXCEPTION USING ERRCODE = p_errcode,
            MESSAGE = format('cannot %s a campaign in status %s', p_action, v_campaign.status),
            DETAIL = format('campaign_id=%s status=%s', p_campaign_id, v_campaign.status),
            HINT = coalesce(p_hint, format('%s is allowed from: %s', p_action, array_to_string(p_allowed, ', ')));
    END IF;
    RETURN v_campaign;
END
$$;

-- The advisory lock that keeps processing off a campaign: one of 256 slots (a hash of the campaign
-- id), so a batch spanning many campaigns takes at most 256 locks. Each processing batch holds the
-- slots of the campaigns it claims shared (pg_try_advisory_xact_lock_shared in the claim, skipping
-- a campaign whose slot it cannot get); _hold_campaign_processing takes it exclusive. Two campaigns
-- sharing a slot only means one is skipped for a batch while the other is being paused.
-- LANGUAGE sql without a SET clause, so the claim inlines it (every name is qualified instead).
CREATE OR REPLACE FUNCTION campaigns._processing_lock_key(p_campaign_id uuid)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.hashtextextended(
        'campaigns.processing:' || (pg_catalog.hashtextextended(p_campaign_id::text, 0) & 255)::text, 0)
$$;

-- Stops processing of a campaign until the caller's transaction ends: waits for the batches that hold
-- its slot (at most the one running: while this waits, new batches fail their try and skip the
-- campaign), then holds it exclusively. Taken before the campaign's row lock, never after it, so a
-- batch that waits for that row (a move_to_campaign into it) cannot deadlock with it.
CREATE OR REPLACE FUNCTION campaigns._hold_campaign_processing(p_campaign_id uuid)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
    SELECT pg_catalog.pg_advisory_xact_lock(campaigns._processing_lock_key(p_campaign_id))
$$;

CREATE OR REPLACE FUNCTION campaigns.pause_campaign(p_campaign_id uuid)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_campaign campaigns.campaigns;
    v_paused   integer;
BEGIN
    -- First keep processing off the campaign: without this, each next batch of a drain still saw it
    -- active and claimed around the enrollments this pause waited for (a 40,000-contact drain went
    -- on queueing for seconds). With it the pause waits for the running batch only.
    PERFORM campaigns._hold_campaign_processing(p_campaign_id);
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
    'Pauses an active campaign and its enrolled/active enrollments in one transaction (QC409 from any other status). Due times are kept. Takes effect at once: it waits for the processing batch that holds the campaign (at most one batch), and no batch claims its enrollments from then on, so once it returns no new message of the campaign is queued. Returns the number of enrollments paused.';

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

CREATE OR REPLACE FUNCTION campaigns.run_campaign_action(p_campaign_id uuid, p_action text, p_as_of timestamptz DEFAULT now())
RETURNS TABLE (affected integer, campaign campaigns.campaigns)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
#variable_conflict use_column
DECLARE
    v_affected integer := 0;
    v_id       uuid := p_campaign_id;
BEGIN
    CASE p_action
    WHEN 'launch', 'start' THEN
        -- launch_campaign materialises a dynamic segment as of p_as_of itself (one rule scan).
        v_affected := campaigns.launch_campaign(p_campaign_id, p_as_of);
    WHEN 'pause' THEN
        v_affected := campaigns.pause_campaign(p_campaign_id);
    WHEN 'resume' THEN
        v_affected := campaigns.resume_campaign(p_campaign_id, p_as_of);
    WHEN 'unschedule' THEN
        PERFORM campaigns.unschedule_campaign(p_campaign_id);
    WHEN 'clone' THEN
        v_id := campaigns.clone_campaign(p_campaign_id);
        SELECT count(*)::integer INTO v_affected FROM campaigns.campaign_steps s WHERE s.campaign_id = v_id;
    ELSE
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = format('unknown campaign action "%s"', p_action),
            HINT = 'launch (start), pause, resume, unschedule or clone.';
    END CASE;
    RETURN QUERY SELECT v_affected, c FROM campaigns.campaigns c WHERE c.id = v_id;
END
$$;
COMMENT ON FUNCTION campaigns.run_campaign_action(uuid, text, timestamptz) IS
    'One lifecycle action and the campaign afterwards: launch / start (launch_campaign, which refreshes a dynamic segment first; affected = enrolled), pause (affected = enrollments paused), resume (released), unschedule, clone (the new draft; affected = steps copied). The refusals are those of launch_campaign, pause_campaign, resume_campaign, unschedule_campaign and clone_campaign.';

CREATE OR REPLACE FUNCTION campaigns._end_expired_campaigns(p_as_of timestamptz)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_ended     integer;
    v_tenants   uuid[];
    v_campaigns uuid[];
BEGIN
    WITH ended AS (
        UPDATE campaigns.campaigns SET status = 'completed', completed_at = p_as_of
        WHERE status IN ('active', 'paused') AND end_date <= p_as_of
        RETURNING tenant_id, id
    )
    SELECT count(*), array_agg(tenant_id), array_agg(id) INTO v_ended, v_tenants, v_campaigns FROM ended;
    IF v_ended > 0 THEN
        PERFORM campaigns._exit_enrollments(
            ARRAY(SELECT cc.id FROM unnest(v_tenants, v_campaigns) AS e(tenant_id, id)
                  JOIN campaigns.campaign_contacts cc ON cc.tenant_id = e.tenant_id AND cc.campaign_id = e.id
                  WHERE cc.status IN ('enrolled', 'active', 'paused')),
            ARRAY['campaign_ended'], p_as_of, p_cancel_mail => false);
        -- A separate statement: the exits above waited for any run holding those enrollments, and
        -- this one's fresh snapshot sees the mail that run committed meanwhile (all of the campaign's,
        -- also that of enrollments already completed).
        UPDATE campaigns.email_messages m SET status = 'cancelled', last_error = 'campaign_ended'
        FROM campaigns.campaigns c
        WHERE c.status = 'completed' AND c.completed_at = p_as_of AND c.end_date <= p_as_of
          AND m.tenant_id = c.tenant_id AND m.campaign_id = c.id AND m.status = 'queued';
    END IF;
    RETURN v_ended;
END
$$;

CREATE OR REPLACE FUNCTION campaigns.complete_finished_campaigns(p_as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_ended     integer;
    v_completed integer;
BEGIN
    -- Past their end date: remaining enrollments exit (campaign_ended), queued mail is cancelled.
    v_ended := campaigns._end_expired_campaigns(p_as_of);
    -- Nothing left to do: no enrollment that could still act and no mail still to go out.
    UPDATE campaigns.campaigns c
    SET status = 'completed', completed_at = p_as_of
    WHERE c.status = 'active'
      AND c.launched_at <= p_as_of
      AND NOT EXISTS (SELECT FROM campaigns.campaign_contacts cc
                      WHERE cc.tenant_id = c.tenant_id AND cc.campaign_id = c.id
                        AND cc.status IN ('enrolled', 'active', 'paused'))
      AND NOT EXISTS (SELECT FROM campaigns.email_messages m
                      WHERE m.tenant_id = c.tenant_id AND m.campaign_id = c.id AND m.status IN ('queued', 'sending'));
    GET DIAGNOSTICS v_completed = ROW_COUNT;
    RETURN v_ended + v_completed;
END
$$;
COMMENT ON FUNCTION campaigns.complete_finished_campaigns(timestamptz) IS
    'Completes active campaigns with no enrollment left in enrolled, active or paused and no mail queued or sending; completes active or paused campaigns whose end_date is at or before p_as_of (their enrollments exit with reason campaign_ended, queued mail is cancelled). Returns the number completed. Run by pg_cron hourly.';
