-- Tenants, users and API keys: creating a tenant with its first admin and key, minting keys (returned
-- once, only their sha256 stored), resolving a presented key, and the request context (the tenant and
-- user of the API transaction) that Row Level Security and the editing functions read.

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

CREATE OR REPLACE FUNCTION campaigns.current_tenant_id()
RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT NULLIF(current_setting('campaigns.tenant_id', true), '')::uuid
$$;
COMMENT ON FUNCTION campaigns.current_tenant_id() IS
    'The tenant of the current API transaction (setting campaigns.tenant_id, set locally by the service); NULL outside one. Row Level Security keys on the same setting.';

CREATE OR REPLACE FUNCTION campaigns.current_user_id()
RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT NULLIF(current_setting('campaigns.user_id', true), '')::uuid
$$;
COMMENT ON FUNCTION campaigns.current_user_id() IS
    'The user the current API key acts for (setting campaigns.user_id, set locally by the service); NULL outside an API transaction (a DBA).';

CREATE OR REPLACE FUNCTION campaigns._require_admin()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    -- Outside an API transaction (a DBA, no user setting) there is nobody to check.
    IF campaigns.current_user_id() IS NULL THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT FROM campaigns.users u
                   WHERE u.tenant_id = campaigns.current_tenant_id() AND u.id = campaigns.current_user_id()
                     AND u.role = 'admin') THEN
        RAISE EXCEPTION USING ERRCODE = 'QC403', MESSAGE = 'only an admin of the tenant may do this',
            DETAIL = format('user_id=%s', campaigns.current_user_id());
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION campaigns.create_user(p_email text, p_name text DEFAULT NULL, p_role text DEFAULT 'member')
RETURNS campaigns.users
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_user campaigns.users;
BEGIN
    PERFORM campaigns._require_admin();
    INSERT INTO campaigns.users (tenant_id, email, name, role)
    VALUES (campaigns.current_tenant_id(), btrim(p_email), p_name, coalesce(p_role, 'member'))
    RETURNING * INTO v_user;
    RETURN v_user;
END
$$;
COMMENT ON FUNCTION campaigns.create_user(text, text, text) IS
    'Adds a user (admin or member) to the current tenant. Only an admin may (QC403); a duplicate email (case-insensitive) violates uq_users_tenant_email.';

CREATE OR REPLACE FUNCTION campaigns.create_user_api_key(p_user_id uuid, p_name text DEFAULT 'default')
RETURNS TABLE (api_key_id uuid, user_id uuid, name text, key_prefix text, api_key text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_tenant_id uuid := campaigns.current_tenant_id();
    v_key       text;
BEGIN
    -- SECURITY DEFINER (api_keys is not writable by the API role), so the tenant check is explicit:
    -- only a user of the caller's tenant, and only by an admin or the user itself.
    IF v_tenant_id IS NULL OR NOT EXISTS (SELECT FROM campaigns.users u WHERE u.tenant_id = v_tenant_id AND u.id = p_user_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'user not found', DETAIL = format('user_id=%s', p_user_id);
    END IF;
    IF campaigns.current_user_id() IS DISTINCT FROM p_user_id THEN
        PERFORM campaigns._require_admin();
    END IF;
    IF p_name IS NULL OR length(btrim(p_name)) NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'the key name must be 1 to 100 characters';
    END IF;
    v_key := campaigns._mint_api_key(v_tenant_id, p_user_id, btrim(p_name));
    RETURN QUERY
    SELECT k.id, k.user_id, k.name, k.key_prefix, v_key
    FROM campaigns.api_keys k WHERE k.key_hash = sha256(convert_to(v_key, 'UTF8'));
END
$$;
COMMENT ON FUNCTION campaigns.create_user_api_key(uuid, text) IS
    'Mints an API key for a user of the current tenant (setting campaigns.tenant_id), by an admin or for oneself (QC403 otherwise, QC404 for a user of another tenant). The key is returned once; only its sha256 is stored.';

CREATE OR REPLACE FUNCTION campaigns.revoke_api_key(p_api_key_id uuid)
RETURNS TABLE (api_key_id uuid, user_id uuid, name text, key_prefix text, created_at timestamptz, revoked_at timestamptz)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_owner uuid;
BEGIN
    -- Runs as the caller: Row Level Security hides other tenants' keys (QC404).
    SELECT k.user_id INTO v_owner FROM campaigns.api_keys k WHERE k.id = p_api_key_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'API key not found', DETAIL = format('api_key_id=%s', p_api_key_id);
    END IF;
    IF campaigns.current_user_id() IS DISTINCT FROM v_owner THEN
        PERFORM campaigns._require_admin();
    END IF;
    RETURN QUERY
    UPDATE campaigns.api_keys k SET revoked_at = coalesce(k.revoked_at, now())
    WHERE k.id = p_api_key_id
    RETURNING k.id, k.user_id, k.name, k.key_prefix, k.created_at, k.revoked_at;
END
$$;
COMMENT ON FUNCTION campaigns.revoke_api_key(uuid) IS
    'Revokes an API key of the current tenant (its owner or an admin; QC403 otherwise). Idempotent: revoking a revoked key keeps the first revocation time.';
