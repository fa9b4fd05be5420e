-- How enrollments leave: the one exit (_exit_enrollments) and its callers that are about exits
-- themselves (by hand, and a contact leaving every campaign of its tenant).

-- How enrollments leave their campaign, once: the one SET list of an exit. Only enrollments whose
-- status is in p_from move (compare-and-set: the UPDATE waits for a processing run holding them and
-- re-checks). p_reasons is one reason for all, or one per id. With p_cancel_mail the queued mail of
-- the exited enrollments is cancelled (last_error = the reason) by a second statement, whose fresh
-- snapshot also sees mail a processing run committed while the exit waited for it.
CREATE OR REPLACE FUNCTION campaigns._exit_enrollments(
    p_ids uuid[], p_reasons text[], p_as_of timestamptz,
    p_from text[] DEFAULT ARRAY['enrolled', 'active', 'paused'], p_cancel_mail boolean DEFAULT true)
RETURNS TABLE (enrollment_id uuid, exit_reason text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
#variable_conflict use_column
DECLARE
    v_tenants uuid[];
    v_ids     uuid[];
    v_reasons text[];
BEGIN
    WITH exited AS (
        UPDATE campaigns.campaign_contacts cc
        SET status = 'exited',
            exit_reason = CASE WHEN cardinality(p_reasons) = 1 THEN p_reasons[1]
                               ELSE p_reasons[array_position(p_ids, cc.id)] END,
            exited_at = p_as_of, pause_reason = NULL, next_email_scheduled_at = NULL, updated_at = now()
        WHERE cc.id = ANY (p_ids) AND cc.status = ANY (p_from)
        RETURNING cc.tenant_id, cc.id, cc.exit_reason
    )
    SELECT array_agg(x.tenant_id), array_agg(x.id), array_agg(x.exit_reason) INTO v_tenants, v_ids, v_reasons
    FROM exited x;
    IF p_cancel_mail AND v_ids IS NOT NULL THEN
        UPDATE campaigns.email_messages m SET status = 'cancelled', last_error = r.reason
        FROM unnest(v_tenants, v_ids, v_reasons) AS r(tenant_id, id, reason)
        WHERE m.tenant_id = r.tenant_id AND m.enrollment_id = r.id AND m.status = 'queued';
    END IF;
    RETURN QUERY SELECT r.id, r.reason FROM unnest(v_ids, v_reasons) AS r(id, reason);
END
$$;

CREATE OR REPLACE FUNCTION campaigns.exit_enrollment(
    p_campaign_id uuid, p_contact_id uuid, p_reason text DEFAULT 'manual', p_as_of timestamptz DEFAULT now())
RETURNS campaigns.campaign_contacts
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_enrollment campaigns.campaign_contacts;
BEGIN
    -- The row lock waits for a processing run that holds the enrollment; its write is then seen. A
    -- contact that entered the campaign again (reentry after_exit) is exited from its latest entry.
    SELECT * INTO v_enrollment FROM campaigns.campaign_contacts
    WHERE campaign_id = p_campaign_id AND contact_id = p_contact_id
    ORDER BY entry DESC LIMIT 1 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'the contact is not enrolled in this campaign',
            DETAIL = format('campaign_id=%s contact_id=%s', p_campaign_id, p_contact_id);
    END IF;
    IF v_enrollment.status NOT IN ('enrolled', 'active', 'paused') THEN
        RAISE EXCEPTION USING ERRCODE = 'QC409', MESSAGE = format('the enrollment is already %s', v_enrollment.status),
            DETAIL = format('campaign_id=%s contact_id=%s status=%s', p_campaign_id, p_contact_id, v_enrollment.status);
    END IF;
    PERFORM campaigns._exit_enrollments(ARRAY[v_enrollment.id], ARRAY[coalesce(nullif(btrim(p_reason), ''), 'manual')],
                                        p_as_of);
    SELECT * INTO v_enrollment FROM campaigns.campaign_contacts WHERE id = v_enrollment.id;
    RETURN v_enrollment;
END
$$;
COMMENT ON FUNCTION campaigns.exit_enrollment(uuid, uuid, text, timestamptz) IS
    'Exits one contact from a campaign by hand (exit_reason p_reason, default manual) and cancels its queued mail. QC404 when not enrolled (or not visible), QC409 when the enrollment already completed or exited.';

CREATE OR REPLACE FUNCTION campaigns._exit_contact_everywhere(
    p_tenant_id uuid, p_contact_id uuid, p_reason text, p_as_of timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    -- Enrollments first (this waits for a processing run holding them), then the queued mail that
    -- run may just have committed: all of the contact's, also that of enrollments already completed.
    PERFORM campaigns._exit_enrollments(
        ARRAY(SELECT cc.id FROM campaigns.campaign_contacts cc
              WHERE cc.tenant_id = p_tenant_id AND cc.contact_id = p_contact_id
                AND cc.status IN ('enrolled', 'active', 'paused')),
        ARRAY[p_reason], p_as_of, p_cancel_mail => false);
    UPDATE campaigns.email_messages
    SET status = 'cancelled', last_error = p_reason
    WHERE tenant_id = p_tenant_id AND contact_id = p_contact_id AND status = 'queued';
END
$$;
