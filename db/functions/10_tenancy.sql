-- Tenants, their first user and API keys: minting a key (returned once, only its sha256 stored) and
-- resolving a presented key to the tenant and user it acts for.

CREATE OR REPLACE FUNCTION campaigns._mint_api_key(p_tenant_id uuid, p_user_id uuid, p_name text DEFAULT 'default')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    -- 256 bits from two v4 UUIDs (122 random bits each), hex, with a recognisable prefix.
    v_key text := 'ck_' || replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '');
BEGIN
    INSERT INTO campaigns.api_keys (tenant_id, user_id, name, key_prefix, key_hash)
    VALUES (p_tenant_id, p_user_id, p_name, left(v_key, 11), sha256(convert_to(v_key, 'UTF8')));
    RETURN v_key;
END
$$;

CREATE OR REPLACE FUNCTION campaigns.create_tenant(p_name text, p_admin_email text DEFAULT NULL)
RETURNS TABLE (tenant_id uuid, api_key text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_tenant_id uuid;
    v_user_id   uuid;
BEGIN
    IF p_name IS NULL OR length(btrim(p_name)) NOT BETWEEN 1 AND 255 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'tenant name must be 1 to 255 characters',
            HINT = 'Pass a non-empty name.';
    END IF;
    INSERT INTO campaigns.tenants (name) VALUES (btrim(p_name)) RETURNING id INTO v_tenant_id;
    INSERT INTO campaigns.workspaces (tenant_id, name, slug) VALUES (v_tenant_id, 'Default', 'default');
    INSERT INTO campaigns.users (tenant_id, email, name, role)
    VALUES (v_tenant_id, coalesce(p_admin_email, 'admin@' || v_tenant_id || '.invalid'), 'Administrator', 'admin')
    RETURNING id INTO v_user_id;
    RETURN QUERY SELECT v_tenant_id, campaigns._mint_api_key(v_tenant_id, v_user_id);
END
$$;
COMMENT ON FUNCTION campaigns.create_tenant(text, text) IS
    'Creates a tenant with a default workspace, an admin user and a fresh API key for that user. The key is returned once; only its sha256 is stored.';

CREATE OR REPLACE FUNCTION campaigns.create_api_key(p_user_id uuid, p_name text DEFAULT 'default')
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_tenant_id uuid;
BEGIN
    SELECT u.tenant_id INTO v_tenant_id FROM campaigns.users u WHERE u.id = p_user_id;
    IF v_tenant_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'user not found', DETAIL = format('user_id=%s', p_user_id);
    END IF;
    RETURN campaigns._mint_api_key(v_tenant_id, p_user_id, p_name);
END
$$;
COMMENT ON FUNCTION campaigns.create_api_key(uuid, text) IS
    'Mints another API key for an existing user. The key is returned once; only its sha256 is stored.';

CREATE OR REPLACE FUNCTION campaigns.authenticate_api_key(p_key text)
RETURNS TABLE (tenant_id uuid, user_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
    SELECT k.tenant_id, k.user_id
    FROM campaigns.api_keys k
    WHERE k.key_hash = sha256(convert_to(p_key, 'UTF8'))
      AND k.revoked_at IS NULL
$$;
COMMENT ON FUNCTION campaigns.authenticate_api_key(text) IS
    'Resolves a presented API key to its tenant and user; no row for an unknown or revoked key. Compares hashes only.';
