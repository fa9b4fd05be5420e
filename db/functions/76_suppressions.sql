-- Suppressions as the API manages them: adding one (audited), removing one with a required reason
-- (audited, the row itself is gone), and checking an address against the tenant's and the global
-- lists.

CREATE OR REPLACE FUNCTION campaigns.add_suppression(
    p_email text, p_reason text DEFAULT 'manual', p_source text DEFAULT 'api', p_expires_at timestamptz DEFAULT NULL,
    p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamptz DEFAULT now())
RETURNS campaigns.suppressions
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_row campaigns.suppressions;
BEGIN
    IF p_expires_at IS NOT NULL AND p_expires_at <= p_as_of THEN
        RAISE EXCEPTION USING ERRCODE = 'QC301', MESSAGE = 'expires_at must be in the future',
            DETAIL = format('expires_at=%s as_of=%s', p_expires_at, p_as_of);
    END IF;
    -- The same address twice for one tenant fails uq_suppressions_tenant_email.
    INSERT INTO campaigns.suppressions (tenant_id, email, reason, source, added_by, added_at, expires_at)
    VALUES (p_tenant_id, btrim(p_email), coalesce(p_reason, 'manual'), p_source, campaigns.current_user_id(), p_as_of, p_expires_at)
    RETURNING * INTO v_row;
    INSERT INTO campaigns.suppression_audit (tenant_id, email, action, reason, actor_id, at)
    VALUES (p_tenant_id, v_row.email, 'added', v_row.reason, campaigns.current_user_id(), p_as_of);
    RETURN v_row;
END
$$;
COMMENT ON FUNCTION campaigns.add_suppression(text, text, text, timestamptz, uuid, timestamptz) IS
    'Suppresses an address for the tenant (default: the API transaction''s) with a reason (manual, import, unsubscribe, hard_bounce, soft_bounce, complaint) and an optional expiry (NULL = never; a past one is QC301), and writes an audit entry. A second suppression of the same address (case-insensitive) violates uq_suppressions_tenant_email. Enrollments are not touched: the next email step exits a suppressed contact.';

CREATE OR REPLACE FUNCTION campaigns.remove_suppression(p_suppression_id uuid, p_reason text, p_as_of timestamptz DEFAULT now())
RETURNS campaigns.suppressions
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_row campaigns.suppressions;
BEGIN
    IF p_reason IS NULL OR length(btrim(p_reason)) = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'removing a suppression requires a reason',
            HINT = 'Say why the address may be mailed again (for example the documented consent).';
    END IF;
    DELETE FROM campaigns.suppressions WHERE id = p_suppression_id RETURNING * INTO v_row;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'suppression not found',
            DETAIL = format('suppression_id=%s', p_suppression_id);
    END IF;
    INSERT INTO campaigns.suppression_audit (tenant_id, email, action, reason, actor_id, at)
    VALUES (v_row.tenant_id, v_row.email, 'removed', btrim(p_reason), campaigns.current_user_id(), p_as_of);
    RETURN v_row;
END
$$;
COMMENT ON FUNCTION campaigns.remove_suppression(uuid, text, timestamptz) IS
    'Removes one of the tenant''s suppressions; a non-empty reason is required (QC422) and kept, with the actor, in suppression_audit. Global suppressions cannot be removed by a tenant (they are not in this table). QC404 when not visible. Returns the removed row.';

CREATE OR REPLACE FUNCTION campaigns.check_suppression(
    p_email text, p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamptz DEFAULT now())
RETURNS TABLE (email text, suppressed boolean, scope text, reason text, added_at timestamptz, expires_at timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    -- The tenant's own entry first, then the global list; expired entries do not count.
    SELECT btrim(p_email), hit.scope IS NOT NULL, hit.scope, hit.reason, hit.added_at, hit.expires_at
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
        SELECT x.scope, x.reason, x.added_at, x.expires_at
        FROM campaigns._suppressed_addresses(p_as_of) x
        WHERE x.email_key = lower(btrim(p_email))
          -- Without a tenant (a DBA outside the API) only the global list applies.
          AND (x.tenant_id = p_tenant_id OR (p_tenant_id IS NULL AND x.scope = 'global'))
        ORDER BY x.scope = 'global'
        LIMIT 1
    ) hit ON true
$$;
COMMENT ON FUNCTION campaigns.check_suppression(text, uuid, timestamptz) IS
    'Whether an address is suppressed for the tenant at p_as_of: its own list first, then the global one (complaints, abuse). One row: email, suppressed, scope (tenant, global or NULL), reason, added_at, expires_at.';
