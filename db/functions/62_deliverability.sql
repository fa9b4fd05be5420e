-- Deliverability alerts: bounce and complaint rates over the last day, with a pause on bounces.

CREATE OR REPLACE FUNCTION campaigns.check_deliverability(p_as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
SET jit = off
AS $$
DECLARE
    c_min_sent CONSTANT integer := 100;   -- below this a rate says little
    v_alert record;
    v_raised integer := 0;
BEGIN
    -- The last 24 hours of each active campaign's sends; one alert of a kind per campaign per day.
    FOR v_alert IN
        WITH stats AS (
            SELECT m.tenant_id, m.campaign_id, count(*) AS sent,
                   count(*) FILTER (WHERE m.bounced_at IS NOT NULL) AS bounced,
                   count(*) FILTER (WHERE m.complained_at IS NOT NULL) AS complained
            FROM campaigns.email_messages m
            WHERE m.sent_at > p_as_of - interval '24 hours' AND m.sent_at <= p_as_of
            GROUP BY 1, 2
            HAVING count(*) >= c_min_sent
        ), breaches AS (
            SELECT s.tenant_id, s.campaign_id, 'bounce_rate' AS kind, round(100.0 * s.bounced / s.sent, 2) AS value, 5.00 AS threshold
            FROM stats s WHERE 100.0 * s.bounced / s.sent > 5
            UNION ALL
            SELECT s.tenant_id, s.campaign_id, 'complaint_rate', round(100.0 * s.complained / s.sent, 2), 0.10
            FROM stats s WHERE 100.0 * s.complained / s.sent > 0.1
        )
        SELECT b.* FROM breaches b
        JOIN campaigns.campaigns c ON c.tenant_id = b.tenant_id AND c.id = b.campaign_id AND c.status = 'active'
        WHERE NOT EXISTS (SELECT FROM campaigns.campaign_alerts a
                          WHERE a.tenant_id = b.tenant_id AND a.campaign_id = b.campaign_id AND a.kind = b.kind
                            AND a.raised_at > p_as_of - interval '24 hours')
        ORDER BY b.campaign_id, b.kind
    LOOP
        -- A bounce rate over 5% pauses the campaign (the operations rule); complaints only alert.
        IF v_alert.kind = 'bounce_rate' THEN
            -- Said to the campaign.paused webhook (db/functions/80_webhooks.sql), which runs at commit.
            PERFORM set_config('campaigns.pause_alerts', (coalesce(nullif(current_setting('campaigns.pause_alerts', true), ''), '{}')::jsonb
                || jsonb_build_object(v_alert.campaign_id, jsonb_build_object(
                       'kind', v_alert.kind, 'value', v_alert.value, 'threshold', v_alert.threshold, 'raised_at', p_as_of)))::text, true);
            PERFORM campaigns.pause_campaign(v_alert.campaign_id)
            FROM campaigns.campaigns WHERE id = v_alert.campaign_id AND status = 'active';
        END IF;
        INSERT INTO campaigns.campaign_alerts (tenant_id, campaign_id, kind, value, threshold, action_taken, raised_at)
        VALUES (v_alert.tenant_id, v_alert.campaign_id, v_alert.kind, v_alert.value, v_alert.threshold,
                CASE WHEN v_alert.kind = 'bounce_rate' THEN 'paused' ELSE 'none' END, p_as_of);
        PERFORM pg_notify('campaigns_alerts', json_build_object(
            'kind', v_alert.kind, 'tenant_id', v_alert.tenant_id, 'campaign_id', v_alert.campaign_id,
            'value', v_alert.value, 'threshold', v_alert.threshold)::text);
        v_raised := v_raised + 1;
    END LOOP;
    RETURN v_raised;
END
$$;
COMMENT ON FUNCTION campaigns.check_deliverability(timestamptz) IS
    'Raises campaign_alerts for active campaigns with at least 100 sends in the 24 hours before p_as_of: a bounce rate over 5% pauses the campaign, a complaint rate over 0.1% alerts only. One alert of a kind per campaign per 24 hours; each is also sent on pg_notify channel campaigns_alerts. Returns the number raised. Run by pg_cron hourly.';
