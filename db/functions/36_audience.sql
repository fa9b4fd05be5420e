-- Keeping a running campaign's audience in step with its segment: contacts that joined the segment
-- are enrolled at the first step, contacts that left it exit with reason segment_exit.

CREATE OR REPLACE FUNCTION campaigns.refresh_campaign_audiences(p_as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
SET jit = off
AS $$
DECLARE
    v_changed integer := 0;
    v_campaign campaigns.campaigns;
    v_entry uuid;
    v_enrolled integer;
    v_exited integer;
BEGIN
    -- Campaign by campaign (there are few), each under its row lock; SKIP LOCKED leaves a campaign
    -- that is being paused or launched to the next run. The membership work inside is set-based.
    FOR v_campaign IN
        SELECT * FROM campaigns.campaigns
        WHERE status = 'active' AND refresh_audience AND segment_id IS NOT NULL
        ORDER BY id FOR UPDATE SKIP LOCKED
    LOOP
        -- A dynamic segment is materialised first, so the audience follows its rules as of now.
        PERFORM campaigns.refresh_segment(v_campaign.segment_id, p_as_of)
        FROM campaigns.segments g
        WHERE g.tenant_id = v_campaign.tenant_id AND g.id = v_campaign.segment_id AND g.segment_type = 'dynamic';
        SELECT s.id INTO v_entry FROM campaigns.campaign_steps s
        WHERE s.tenant_id = v_campaign.tenant_id AND s.campaign_id = v_campaign.id ORDER BY s.step_order LIMIT 1;
        CONTINUE WHEN v_entry IS NULL;

        -- The segment's eligible members not enrolled yet, exactly as launch enrolls them.
        v_enrolled := campaigns._enroll_segment(v_campaign, v_entry, p_as_of, true);

        -- Leavers exit with their queued mail cancelled.
        SELECT count(*) INTO v_exited
        FROM campaigns._exit_enrollments(
            ARRAY(SELECT cc.id FROM campaigns.campaign_contacts cc
                  WHERE cc.tenant_id = v_campaign.tenant_id AND cc.campaign_id = v_campaign.id
                    AND cc.status IN ('enrolled', 'active', 'paused')
                    AND NOT EXISTS (SELECT FROM campaigns.segment_contacts sc
                                    WHERE sc.tenant_id = cc.tenant_id AND sc.segment_id = v_campaign.segment_id
                                      AND sc.contact_id = cc.contact_id)),
            ARRAY['segment_exit'], p_as_of);

        UPDATE campaigns.campaigns SET total_contacts = total_contacts + v_enrolled WHERE id = v_campaign.id;
        v_changed := v_changed + v_enrolled + v_exited;
    END LOOP;
    RETURN v_changed;
END
$$;
COMMENT ON FUNCTION campaigns.refresh_campaign_audiences(timestamptz) IS
    'For active campaigns with refresh_audience: enrolls the segment''s new eligible members at the first step (due per the send strategy and window) and exits enrollments whose contact left the segment (reason segment_exit, queued mail cancelled). A dynamic segment is refreshed from its rules first (refresh_segment). Returns the number of enrollments added plus exited. Run by pg_cron daily.';
