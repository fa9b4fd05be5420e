-- Campaign approvals: a request opens a round of approval rows (one per approver and role), the
-- assigned approver approves or rejects with comments, any rejection closes the round and returns the
-- campaign to draft, and a pending request older than 48 hours is rejected automatically. Launch
-- (35_enrollment.sql) checks the latest round.

CREATE OR REPLACE FUNCTION campaigns.request_approval(p_campaign_id uuid, p_approvers jsonb, p_as_of timestamptz DEFAULT now())
RETURNS SETOF campaigns.campaign_approvals
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_campaign campaigns.campaigns;
    v_round    integer;
BEGIN
    IF p_approvers IS NULL OR jsonb_typeof(p_approvers) <> 'array' OR jsonb_array_length(p_approvers) NOT BETWEEN 1 AND 20
       OR EXISTS (SELECT FROM jsonb_array_elements(p_approvers) AS a(v)
                  WHERE jsonb_typeof(a.v) <> 'object'
                     OR coalesce(a.v->>'user_id', '') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                     OR coalesce(a.v->>'role', '') NOT IN ('campaign_manager', 'compliance_officer')) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422',
            MESSAGE = 'approvers must be 1 to 20 objects {user_id, role} with role campaign_manager or compliance_officer';
    END IF;
    IF (SELECT count(*) FROM jsonb_array_elements(p_approvers)) <>
       (SELECT count(DISTINCT (lower(a.v->>'user_id'), a.v->>'role')) FROM jsonb_array_elements(p_approvers) AS a(v)) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'the same approver and role appear twice';
    END IF;

    v_campaign := campaigns._lock_campaign(p_campaign_id, ARRAY['draft', 'scheduled'], 'request approval for');
    -- One open round at a time: pending rows and no rejection yet.
    SELECT max(a.round) INTO v_round FROM campaigns.campaign_approvals a
    WHERE a.tenant_id = v_campaign.tenant_id AND a.campaign_id = p_campaign_id;
    IF EXISTS (SELECT FROM campaigns.campaign_approvals a
               WHERE a.tenant_id = v_campaign.tenant_id AND a.campaign_id = p_campaign_id AND a.round = v_round
                 AND a.status = 'pending') THEN
        RAISE EXCEPTION USING ERRCODE = 'QC409', MESSAGE = 'an approval round is still pending',
            DETAIL = format('campaign_id=%s round=%s', p_campaign_id, v_round),
            HINT = 'Wait for the approvers, or have one reject, before requesting again.';
    END IF;

    -- Unknown approvers (or another tenant's users) fail fk_campaign_approvals_approver.
    RETURN QUERY
    INSERT INTO campaigns.campaign_approvals (tenant_id, campaign_id, approver_id, approval_role, round, requested_by, requested_at)
    SELECT v_campaign.tenant_id, p_campaign_id, (a.v->>'user_id')::uuid, a.v->>'role', coalesce(v_round, 0) + 1,
           campaigns.current_user_id(), p_as_of
    FROM jsonb_array_elements(p_approvers) AS a(v)
    RETURNING *;
END
$$;
COMMENT ON FUNCTION campaigns.request_approval(uuid, jsonb, timestamptz) IS
    'Opens a new approval round for a draft or scheduled campaign (QC409 otherwise, or while a round is pending): one pending row per {user_id, role} in p_approvers (roles campaign_manager, compliance_officer). requested_by is the API caller. Returns the new rows.';

CREATE OR REPLACE FUNCTION campaigns.review_approval(
    p_approval_id uuid, p_decision text, p_comments text DEFAULT NULL, p_as_of timestamptz DEFAULT now())
RETURNS campaigns.campaign_approvals
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_approval campaigns.campaign_approvals;
BEGIN
    IF p_decision IS NULL OR p_decision NOT IN ('approved', 'rejected') THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'the decision is approved or rejected';
    END IF;
    -- The campaign first, then the approval row: the same order as launch and expire_approvals.
    SELECT * INTO v_approval FROM campaigns.campaign_approvals WHERE id = p_approval_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'approval not found', DETAIL = format('approval_id=%s', p_approval_id);
    END IF;
    PERFORM FROM campaigns.campaigns WHERE tenant_id = v_approval.tenant_id AND id = v_approval.campaign_id FOR UPDATE;
    SELECT * INTO v_approval FROM campaigns.campaign_approvals WHERE id = p_approval_id FOR UPDATE;
    IF v_approval.approver_id IS DISTINCT FROM campaigns.current_user_id() THEN
        RAISE EXCEPTION USING ERRCODE = 'QC402', MESSAGE = 'this approval is assigned to another user',
            DETAIL = format('approval_id=%s', p_approval_id);
    END IF;
    IF v_approval.status <> 'pending' THEN
        RAISE EXCEPTION USING ERRCODE = 'QC409', MESSAGE = format('the approval is already %s', v_approval.status),
            DETAIL = format('approval_id=%s status=%s', p_approval_id, v_approval.status);
    END IF;

    UPDATE campaigns.campaign_approvals
    SET status = p_decision, comments = p_comments, reviewed_at = p_as_of
    WHERE id = p_approval_id
    RETURNING * INTO v_approval;

    IF p_decision = 'rejected' THEN
        -- A rejection closes the round (its other pending rows are rejected with it) and sends a
        -- scheduled campaign back to draft.
        UPDATE campaigns.campaign_approvals
        SET status = 'rejected', reviewed_at = p_as_of,
            comments = 'round closed: rejected by another approver'
        WHERE tenant_id = v_approval.tenant_id AND campaign_id = v_approval.campaign_id
          AND round = v_approval.round AND status = 'pending';
        UPDATE campaigns.campaigns SET status = 'draft', scheduled_at = NULL
        WHERE tenant_id = v_approval.tenant_id AND id = v_approval.campaign_id AND status = 'scheduled';
    END IF;
    RETURN v_approval;
END
$$;
COMMENT ON FUNCTION campaigns.review_approval(uuid, text, text, timestamptz) IS
    'Approves or rejects (p_decision) a pending approval with comments, by its assigned approver only (QC402 for anyone else; QC409 when no longer pending). Sets reviewed_at. A rejection closes the round and returns a scheduled campaign to draft.';

CREATE OR REPLACE FUNCTION campaigns.expire_approvals(p_as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_expired integer;
BEGIN
    -- A round's rows are requested together, so a whole round expires at once. The campaign row
    -- lock is taken first (as review_approval does); a concurrent review waits and then finds the
    -- row no longer pending.
    PERFORM FROM campaigns.campaigns c
    WHERE (c.tenant_id, c.id) IN (SELECT a.tenant_id, a.campaign_id FROM campaigns.campaign_approvals a
                                  WHERE a.status = 'pending' AND a.requested_at <= p_as_of - interval '48 hours')
    ORDER BY c.id FOR UPDATE;
    WITH expired AS (
        UPDATE campaigns.campaign_approvals a
        SET status = 'rejected', reviewed_at = p_as_of,
            comments = 'auto-rejected: not reviewed within 48 hours'
        WHERE a.status = 'pending' AND a.requested_at <= p_as_of - interval '48 hours'
        RETURNING a.tenant_id, a.campaign_id
    ), back_to_draft AS (
        UPDATE campaigns.campaigns c SET status = 'draft', scheduled_at = NULL
        FROM (SELECT DISTINCT tenant_id, campaign_id FROM expired) e
        WHERE c.tenant_id = e.tenant_id AND c.id = e.campaign_id AND c.status = 'scheduled'
    )
    SELECT count(*) INTO v_expired FROM expired;
    RETURN v_expired;
END
$$;
COMMENT ON FUNCTION campaigns.expire_approvals(timestamptz) IS
    'Rejects every approval still pending 48 hours after it was requested (as of p_as_of), with a comment saying so, and returns scheduled campaigns among them to draft. Returns the number rejected. Run by pg_cron hourly; safe to run by hand at the same time.';
