-- Enrolling given contacts into a running campaign now (an application's "this user just signed
-- up"), with the rules of launch: only mailable, unsuppressed contacts, at the first step, first due
-- time by the send strategy and sending window. Re-entry follows the campaign's `reentry`.

-- The enrollment itself; p_triggers maps a contact id to the event that enrolls it
-- ({"<contact id>": {"event_id": …, "properties": {…}}}), kept on the enrollment for templates.
CREATE OR REPLACE FUNCTION campaigns._enroll_contacts(
    p_campaign_id uuid, p_contact_ids uuid[], p_as_of timestamptz, p_triggers jsonb)
RETURNS TABLE (contact_id uuid, outcome text, enrollment_id uuid)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_campaign campaigns.campaigns;
    v_entry    uuid;
    v_enrolled integer;
BEGIN
    IF p_contact_ids IS NULL OR cardinality(p_contact_ids) > 10000 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'p_contact_ids must be an array of at most 10,000 ids',
            DETAIL = format('count=%s', cardinality(p_contact_ids));
    END IF;
    -- The lifecycle's row lock (NO KEY UPDATE, as _lock_campaign): a pause, resume or end waits for
    -- this call and it for them, so no contact is enrolled into a campaign that is no longer active;
    -- calls for one campaign take turns (each updates its total_contacts), calls for others do not.
    SELECT * INTO v_campaign FROM campaigns.campaigns c WHERE c.id = p_campaign_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found', DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    IF v_campaign.status <> 'active' OR (v_campaign.end_date IS NOT NULL AND v_campaign.end_date <= p_as_of) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC409', MESSAGE = format('cannot enroll into a campaign in status %s', v_campaign.status),
            DETAIL = format('campaign_id=%s status=%s end_date=%s', p_campaign_id, v_campaign.status, v_campaign.end_date),
            HINT = 'Contacts are enrolled into active campaigns only; launch it first.';
    END IF;
    SELECT s.id INTO v_entry FROM campaigns.campaign_steps s
    WHERE s.tenant_id = v_campaign.tenant_id AND s.campaign_id = v_campaign.id ORDER BY s.step_order LIMIT 1;

    -- Every distinct id asked for, with what decides its outcome.
    CREATE TEMP TABLE IF NOT EXISTS _enroll_ask (
        contact_id uuid PRIMARY KEY, outcome text, entry smallint, timezone text, enrollment_id uuid
    ) ON COMMIT DROP;
    TRUNCATE pg_temp._enroll_ask;
    INSERT INTO pg_temp._enroll_ask (contact_id, outcome, entry, timezone)
    SELECT a.id,
           CASE WHEN c.id IS NULL THEN 'not_found'
                WHEN c.status <> 'active' THEN 'not_mailable'
                WHEN EXISTS (SELECT FROM campaigns._suppressed_addresses(p_as_of) x
                             WHERE x.tenant_id = c.tenant_id AND x.email_key = lower(c.email)) THEN 'suppressed'
                WHEN prev.live THEN 'already_enrolled'
                WHEN prev.entry IS NOT NULL AND v_campaign.reentry = 'once' THEN 'already_enrolled'
           END,
           coalesce(prev.entry, 0) + 1, coalesce(c.timezone, v_campaign.timezone)
    FROM (SELECT DISTINCT unnest(p_contact_ids) AS id) a
    LEFT JOIN campaigns.contacts c ON c.tenant_id = v_campaign.tenant_id AND c.id = a.id
    LEFT JOIN LATERAL (
        SELECT max(cc.entry) AS entry, bool_or(cc.status IN ('enrolled', 'active', 'paused')) AS live
        FROM campaigns.campaign_contacts cc
        WHERE cc.tenant_id = v_campaign.tenant_id AND cc.campaign_id = v_campaign.id AND cc.contact_id = a.id
    ) prev ON true
    WHERE a.id IS NOT NULL;

    -- The eligible ones at the entry step, exactly as launch enrolls them. A concurrent call that
    -- enrolled the same contact first takes the same entry number: this one then does nothing.
    WITH added AS (
        INSERT INTO campaigns.campaign_contacts
            (tenant_id, campaign_id, contact_id, entry, status, current_step_id, enrolled_at, next_email_scheduled_at,
             trigger_event_id, trigger_properties)
        SELECT v_campaign.tenant_id, v_campaign.id, a.contact_id, a.entry, 'enrolled', v_entry, p_as_of,
               CASE WHEN v_campaign.send_strategy = 'immediate'
                         AND (v_campaign.window_missed_action = 'send_anyway'
                              OR (v_campaign.sending_days IS NULL AND v_campaign.sending_window_start IS NULL))
                    THEN p_as_of
                    ELSE campaigns._first_due_at(v_campaign, a.contact_id, a.timezone, p_as_of)
               END,
               (p_triggers -> a.contact_id::text ->> 'event_id')::uuid, p_triggers -> a.contact_id::text -> 'properties'
        FROM pg_temp._enroll_ask a
        WHERE a.outcome IS NULL
        ORDER BY a.contact_id
        ON CONFLICT ON CONSTRAINT uq_campaign_contacts_contact DO NOTHING
        RETURNING campaign_contacts.contact_id, campaign_contacts.id
    )
    UPDATE pg_temp._enroll_ask a SET outcome = 'enrolled', enrollment_id = added.id
    FROM added WHERE a.contact_id = added.contact_id;
    GET DIAGNOSTICS v_enrolled = ROW_COUNT;

    UPDATE campaigns.campaigns SET total_contacts = total_contacts + v_enrolled WHERE id = v_campaign.id AND v_enrolled > 0;
    -- The first step of those due now runs in this transaction (a welcome mail is queued at once, not
    -- at the next pg_cron tick); the others wait for their time as after a launch.
    IF v_enrolled > 0 THEN
        PERFORM campaigns.process_due_steps(p_as_of, 10000,
                                            ARRAY(SELECT a.enrollment_id FROM pg_temp._enroll_ask a WHERE a.outcome = 'enrolled'));
    END IF;
    RETURN QUERY
    SELECT a.contact_id, coalesce(a.outcome, 'already_enrolled'),
           coalesce(a.enrollment_id, (SELECT cc.id FROM campaigns.campaign_contacts cc
                                      WHERE cc.tenant_id = v_campaign.tenant_id AND cc.campaign_id = v_campaign.id
                                        AND cc.contact_id = a.contact_id ORDER BY cc.entry DESC LIMIT 1))
    FROM pg_temp._enroll_ask a
    ORDER BY a.contact_id;
END
$$;
CREATE OR REPLACE FUNCTION campaigns.enroll_contacts(
    p_campaign_id uuid, p_contact_ids uuid[], p_as_of timestamptz DEFAULT now())
RETURNS TABLE (contact_id uuid, outcome text, enrollment_id uuid)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
    SELECT * FROM campaigns._enroll_contacts(p_campaign_id, p_contact_ids, p_as_of, NULL)
$$;

COMMENT ON FUNCTION campaigns.enroll_contacts(uuid, uuid[], timestamptz) IS
    'Enrolls contacts (at most 10,000 ids) into an active campaign now, at its first step, with launch''s rules: the first due time by the send strategy and sending window, and only mailable, unsuppressed contacts. Re-entry follows campaigns.reentry: once (default) never enrolls a contact twice; after_exit enrolls again once the previous enrollment has ended, never two live ones. Idempotent and safe under concurrent calls (calls for one campaign take turns on its row lock). One row per distinct id: outcome enrolled, already_enrolled, suppressed, not_mailable (unsubscribed, bounced, …) or not_found, with the enrollment''s id when there is one. QC409 unless the campaign is active; QC404 for an unknown campaign. The enrollments due now are processed at once, in the same transaction (process_due_steps with their ids), so a first email step is queued before this returns.';
