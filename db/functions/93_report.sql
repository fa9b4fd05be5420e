-- The campaign report page's data in one call: the campaign, enrollments by status, the step
-- funnel, a live daily series, A/B results, dead letters by reason and recent failures.

CREATE OR REPLACE FUNCTION campaigns.campaign_report(p_campaign_id uuid, p_days integer DEFAULT 30, p_as_of timestamptz DEFAULT now())
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
SET jit = off
AS $$
DECLARE
    v_campaign campaigns.campaigns;
    v_first    date := (p_as_of AT TIME ZONE 'UTC')::date - (p_days - 1);
BEGIN
    IF p_days IS NULL OR p_days NOT BETWEEN 1 AND 366 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'p_days must be 1 to 366';
    END IF;
    -- Runs as the caller: through the API, Row Level Security limits it to the caller's tenant.
    SELECT * INTO v_campaign FROM campaigns.campaigns WHERE id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found', DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    RETURN jsonb_build_object(
        'campaign', jsonb_build_object(
            'id', v_campaign.id, 'name', v_campaign.name, 'status', v_campaign.status,
            'launched_at', v_campaign.launched_at, 'completed_at', v_campaign.completed_at,
            'total_contacts', v_campaign.total_contacts, 'timezone', v_campaign.timezone),
        'generated_at', p_as_of,
        'enrollments', (
            SELECT coalesce(jsonb_object_agg(status, n), '{}')
            FROM (SELECT status, count(*) AS n FROM campaigns.campaign_contacts
                  WHERE tenant_id = v_campaign.tenant_id AND campaign_id = p_campaign_id GROUP BY status) e),
        'outbox', (
            SELECT coalesce(jsonb_object_agg(status, n), '{}')
            FROM (SELECT status, count(*) AS n FROM campaigns.email_messages
                  WHERE tenant_id = v_campaign.tenant_id AND campaign_id = p_campaign_id GROUP BY status) o),
        'funnel', (
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'step_id', s.id, 'step_order', s.step_order, 'name', coalesce(s.step_name, s.subject_line, 'Email ' || s.step_order),
                       'sent', s.emails_sent, 'delivered', s.emails_delivered, 'opens', s.opens, 'clicks', s.clicks,
                       'replies', s.replies, 'unsubscribes', s.unsubscribes, 'bounces', s.bounces) ORDER BY s.step_order), '[]')
            FROM campaigns.campaign_steps s
            WHERE s.tenant_id = v_campaign.tenant_id AND s.campaign_id = p_campaign_id AND s.step_type = 'email'),
        -- Live (not the nightly rollup): each message counted on the UTC day of its send, first
        -- open, first click and reply.
        'daily', (
            SELECT jsonb_agg(jsonb_build_object('date', d.day, 'sent', coalesce(x.sent, 0), 'opens', coalesce(x.opens, 0),
                                                'clicks', coalesce(x.clicks, 0), 'replies', coalesce(x.replies, 0)) ORDER BY d.day)
            FROM (SELECT generate_series(v_first, (p_as_of AT TIME ZONE 'UTC')::date, interval '1 day')::date AS day) d
            LEFT JOIN (
                SELECT day, sum(sent) AS sent, sum(opens) AS opens, sum(clicks) AS clicks, sum(replies) AS replies
                FROM (SELECT (m.sent_at AT TIME ZONE 'UTC')::date AS day, 1 AS sent, 0 AS opens, 0 AS clicks, 0 AS replies
                      FROM campaigns.email_messages m
                      WHERE m.tenant_id = v_campaign.tenant_id AND m.campaign_id = p_campaign_id AND m.sent_at IS NOT NULL
                      UNION ALL
                      SELECT (m.first_opened_at AT TIME ZONE 'UTC')::date, 0, 1, 0, 0 FROM campaigns.email_messages m
                      WHERE m.tenant_id = v_campaign.tenant_id AND m.campaign_id = p_campaign_id AND m.first_opened_at IS NOT NULL
                      UNION ALL
                      SELECT (m.first_clicked_at AT TIME ZONE 'UTC')::date, 0, 0, 1, 0 FROM campaigns.email_messages m
                      WHERE m.tenant_id = v_campaign.tenant_id AND m.campaign_id = p_campaign_id AND m.first_clicked_at IS NOT NULL
                      UNION ALL
                      SELECT (m.replied_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 1 FROM campaigns.email_messages m
                      WHERE m.tenant_id = v_campaign.tenant_id AND m.campaign_id = p_campaign_id AND m.replied_at IS NOT NULL) u
                WHERE day >= v_first
                GROUP BY day) x ON x.day = d.day),
        'ab_tests', (
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'id', t.id, 'name', t.test_name, 'status', t.status, 'win_metric', t.win_metric,
                       'decision', t.decision, 'variants',
                       (SELECT jsonb_agg(to_jsonb(r) ORDER BY r.variant_name) FROM campaigns.ab_test_results(t.id) r))
                   ORDER BY t.created_at), '[]')
            FROM campaigns.ab_tests t WHERE t.tenant_id = v_campaign.tenant_id AND t.campaign_id = p_campaign_id),
        -- Dead letters by failure_kind (NULL only for a row failed by hand outside the engine).
        'dead_letters', (
            SELECT coalesce(jsonb_object_agg(kind, n), '{}')
            FROM (SELECT coalesce(m.failure_kind, 'unknown') AS kind, count(*) AS n FROM campaigns.email_messages m
                  WHERE m.tenant_id = v_campaign.tenant_id AND m.campaign_id = p_campaign_id AND m.status = 'failed'
                  GROUP BY 1) d),
        'failures', (
            SELECT coalesce(jsonb_agg(jsonb_build_object('to_email', f.to_email, 'error', f.last_error, 'kind', f.failure_kind,
                                                         'attempts', f.attempts, 'at', f.queued_at) ORDER BY f.queued_at DESC), '[]')
            FROM (SELECT m.to_email, m.last_error, m.failure_kind, m.attempts, m.queued_at FROM campaigns.email_messages m
                  WHERE m.tenant_id = v_campaign.tenant_id AND m.campaign_id = p_campaign_id AND m.status = 'failed'
                  ORDER BY m.queued_at DESC LIMIT 20) f)
    );
END
$$;
COMMENT ON FUNCTION campaigns.campaign_report(uuid, integer, timestamptz) IS
    'Everything the campaign report page shows, as one JSON document: the campaign, enrollments and outbox messages by status, the email-step funnel (sent and tracked counters), a live daily series of sends, first opens, first clicks and replies over the last p_days UTC days, A/B test results, dead letters counted by failure_kind (dead_letters), and the 20 latest failures with their kind. Runs as the caller (tenant-scoped through the API).';
