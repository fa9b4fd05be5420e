-- Row bookkeeping shared by every family: updated_at kept by trigger on the tables people edit, and
-- the field-list check of the JSON documents the editing functions accept, and their keyed update.

CREATE OR REPLACE FUNCTION campaigns._touch_updated_at()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER trg_tenants_touch BEFORE UPDATE ON campaigns.tenants FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE OR REPLACE TRIGGER trg_workspaces_touch BEFORE UPDATE ON campaigns.workspaces FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE OR REPLACE TRIGGER trg_users_touch BEFORE UPDATE ON campaigns.users FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE OR REPLACE TRIGGER trg_contacts_touch BEFORE UPDATE ON campaigns.contacts FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE OR REPLACE TRIGGER trg_segments_touch BEFORE UPDATE ON campaigns.segments FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE OR REPLACE TRIGGER trg_templates_touch BEFORE UPDATE ON campaigns.templates FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE OR REPLACE TRIGGER trg_sender_accounts_touch BEFORE UPDATE ON campaigns.sender_accounts FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE OR REPLACE TRIGGER trg_campaigns_touch BEFORE UPDATE ON campaigns.campaigns FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE OR REPLACE TRIGGER trg_campaign_steps_touch BEFORE UPDATE ON campaigns.campaign_steps FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();
-- campaign_contacts is not touched by trigger: the engine sets updated_at in its set-based updates
-- (a row trigger there would tax the hot path for every enrollment).

CREATE OR REPLACE TRIGGER trg_ab_tests_touch BEFORE UPDATE ON campaigns.ab_tests
    FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE OR REPLACE FUNCTION campaigns._json_keys(p_doc jsonb, p_allowed text[], p_what text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog
AS $$
DECLARE
    v_keys    text[];
    v_unknown text[];
BEGIN
    IF p_doc IS NULL OR jsonb_typeof(p_doc) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = format('%s must be a JSON object', p_what);
    END IF;
    SELECT coalesce(array_agg(k ORDER BY k), '{}'),
           coalesce(array_agg(k ORDER BY k) FILTER (WHERE k <> ALL (p_allowed)), '{}')
      INTO v_keys, v_unknown
    FROM jsonb_object_keys(p_doc) AS j(k);
    IF cardinality(v_unknown) > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = format('unknown %s field(s): %s', p_what, array_to_string(v_unknown, ', '));
    END IF;
    RETURN v_keys;
END
$$;

-- The update step of the editing functions: the columns named in p_keys (checked by _json_keys) take
-- their values from p_doc, typed by jsonb_populate_record and never spliced into the statement; the
-- row is found by id in the table of p_row's type and returned as updated (unchanged for no keys).
-- Runs as the caller, so Row Level Security applies as to a direct UPDATE.
CREATE OR REPLACE FUNCTION campaigns._update_keys(p_row anyelement, p_doc jsonb, p_keys text[])
RETURNS anyelement
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    IF cardinality(p_keys) = 0 THEN
        RETURN p_row;
    END IF;
    -- A table's row type has the table's name: %1$s is the table, qualified as search_path needs.
    EXECUTE format(
        'UPDATE %1$s x SET %2$s FROM jsonb_populate_record(NULL::%1$s, $1) r WHERE x.id = $2 RETURNING x.*',
        pg_typeof(p_row), (SELECT string_agg(format('%1$I = r.%1$I', k), ', ') FROM unnest(p_keys) k))
    INTO p_row
    USING p_doc, p_row.id;
    RETURN p_row;
END
$$;
