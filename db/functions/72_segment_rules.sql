-- Dynamic-segment rules: the rule language validated and compiled to a WHERE clause over contacts.
--
-- Rules:
--   {"match": "all"|"any", "groups": [group…], "conditions": [condition|group…], "exclusions": [condition|group|name…]}
--   group     = {"match": "all"|"any", "conditions": [condition|group…], "groups": [group…]}
--   condition = {"field": f, "operator": op, "value": v, "dataType": ignored}
-- The compiled clause never contains a value: fields come from a whitelist (custom fields by a
-- validated name), operators from a fixed table, and every value is read from the rules document
-- itself, passed as parameter $1 ($2 is the "as of" instant), by a JSON path built from array indexes.

CREATE OR REPLACE FUNCTION campaigns._segment_rule_error(p_path text[], p_message text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'QC501', MESSAGE = 'invalid segment rules: ' || p_message,
        DETAIL = format('at %s', CASE WHEN cardinality(p_path) = 0 THEN '(root)' ELSE array_to_string(p_path, '.') END),
        HINT = 'See docs/api.md, "Segment rules".';
END
$$;

CREATE OR REPLACE FUNCTION campaigns._compile_segment_condition(p_node jsonb, p_path text[])
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_field text;
    v_name  text;
    v_kind  text;
    v_expr  text;
    v_op    text := p_node->>'operator';
    v_value jsonb := p_node->'value';
    v_vtype text := coalesce(jsonb_typeof(p_node->'value'), 'null');
    -- The value, and its elements, as expressions reading the rules parameter.
    v_v     text := format('($1 #> %L::text[])', p_path || ARRAY['value']);
    v_vt    text := format('($1 #>> %L::text[])', p_path || ARRAY['value']);
    v_v0    text := format('($1 #>> %L::text[])', p_path || ARRAY['value', '0']);
    v_v1    text := format('($1 #>> %L::text[])', p_path || ARRAY['value', '1']);
    v_key   text;
BEGIN
    FOR v_key IN SELECT jsonb_object_keys(p_node) LOOP
        IF v_key NOT IN ('field', 'operator', 'value', 'dataType') THEN
            PERFORM campaigns._segment_rule_error(p_path, format('unknown key "%s" in a condition', v_key));
        END IF;
    END LOOP;
    IF jsonb_typeof(p_node->'field') IS DISTINCT FROM 'string' THEN
        PERFORM campaigns._segment_rule_error(p_path, 'a condition needs a string "field"');
    END IF;
    IF jsonb_typeof(p_node->'operator') IS DISTINCT FROM 'string' THEN
        PERFORM campaigns._segment_rule_error(p_path, 'a condition needs a string "operator"');
    END IF;

    -- The field: a whitelisted column, or a custom field by a validated name.
    v_field := regexp_replace(p_node->>'field', '^contact\.', '');
    v_field := CASE v_field
        WHEN 'firstName' THEN 'first_name' WHEN 'lastName' THEN 'last_name' WHEN 'jobTitle' THEN 'job_title'
        WHEN 'leadScore' THEN 'score' WHEN 'createdAt' THEN 'created_at' WHEN 'updatedAt' THEN 'updated_at'
        ELSE v_field END;
    IF v_field ~ '^(custom|customField|custom_fields)\.[A-Za-z0-9_\-]{1,64}$' THEN
        v_kind := 'custom';
        v_name := regexp_replace(v_field, '^(custom|customField|custom_fields)\.', '');
        -- The name matched [A-Za-z0-9_-] above and is quoted as a literal besides.
        v_expr := format('(c.custom_fields ->> %L)', v_name);
    ELSIF v_field IN ('email', 'first_name', 'last_name', 'company', 'job_title', 'city', 'state', 'country', 'timezone', 'status') THEN
        v_kind := 'text';
        v_expr := format('c.%I', v_field);
    ELSIF v_field = 'score' THEN
        v_kind := 'number';
        v_expr := 'c.score';
    ELSIF v_field = 'tags' THEN
        v_kind := 'tags';
    ELSIF v_field IN ('created_at', 'updated_at') THEN
        v_kind := 'time';
        v_expr := format('c.%I', v_field);
    ELSE
        PERFORM campaigns._segment_rule_error(p_path, format('unknown field "%s" (standard fields, score, tags, created_at, updated_at or custom.<name>)', p_node->>'field'));
    END IF;

    -- The value's shape for the operator.
    IF v_op IN ('equals', 'not_equals', 'contains', 'not_contains', 'starts_with', 'greater_than', 'less_than') THEN
        IF v_vtype NOT IN ('string', 'number', 'boolean') THEN
            PERFORM campaigns._segment_rule_error(p_path, format('operator %s needs a string, number or boolean value', v_op));
        END IF;
    ELSIF v_op IN ('in', 'not_in') THEN
        IF v_vtype <> 'array' OR jsonb_array_length(v_value) NOT BETWEEN 1 AND 1000
           OR EXISTS (SELECT FROM jsonb_array_elements(v_value) AS e(v) WHERE jsonb_typeof(e.v) NOT IN ('string', 'number', 'boolean')) THEN
            PERFORM campaigns._segment_rule_error(p_path, format('operator %s needs an array of 1 to 1000 scalar values', v_op));
        END IF;
    ELSIF v_op = 'between' THEN
        IF v_vtype <> 'array' OR jsonb_array_length(v_value) <> 2
           OR EXISTS (SELECT FROM jsonb_array_elements(v_value) AS e(v) WHERE jsonb_typeof(e.v) NOT IN ('string', 'number'))
           OR jsonb_typeof(v_value->0) <> jsonb_typeof(v_value->1) THEN
            PERFORM campaigns._segment_rule_error(p_path, 'operator between needs [min, max] of the same type');
        END IF;
    ELSIF v_op = 'within_last_days' THEN
        IF v_vtype <> 'number' OR (v_value #>> '{}') !~ '^[0-9]{1,5}$' OR (v_value #>> '{}')::integer < 1 THEN
            PERFORM campaigns._segment_rule_error(p_path, 'operator within_last_days needs a whole number of days (1 to 99999)');
        END IF;
    ELSIF v_op IN ('is_empty', 'is_not_empty') THEN
        NULL;  -- no value
    ELSE
        PERFORM campaigns._segment_rule_error(p_path, format('unknown operator "%s"', v_op));
    END IF;

    IF v_kind = 'number' THEN
        IF v_op IN ('contains', 'not_contains', 'starts_with', 'within_last_days', 'is_empty', 'is_not_empty') THEN
            PERFORM campaigns._segment_rule_error(p_path, format('operator %s does not apply to %s', v_op, v_field));
        END IF;
        IF (v_op IN ('in', 'not_in', 'between')
                AND EXISTS (SELECT FROM jsonb_array_elements(v_value) AS e(v) WHERE jsonb_typeof(e.v) <> 'number'))
           OR (v_op NOT IN ('in', 'not_in', 'between') AND v_vtype <> 'number') THEN
            PERFORM campaigns._segment_rule_error(p_path, format('%s compares with numbers', v_field));
        END IF;
        RETURN CASE v_op
            WHEN 'equals'       THEN format('%s = %s::numeric', v_expr, v_vt)
            WHEN 'not_equals'   THEN format('%s <> %s::numeric', v_expr, v_vt)
            WHEN 'greater_than' THEN format('%s > %s::numeric', v_expr, v_vt)
            WHEN 'less_than'    THEN format('%s < %s::numeric', v_expr, v_vt)
            WHEN 'between'      THEN format('%s BETWEEN %s::numeric AND %s::numeric', v_expr, v_v0, v_v1)
            WHEN 'in'           THEN format('%s IN (SELECT x.v::numeric FROM jsonb_array_elements_text(%s) AS x(v))', v_expr, v_v)
            WHEN 'not_in'       THEN format('%s NOT IN (SELECT x.v::numeric FROM jsonb_array_elements_text(%s) AS x(v))', v_expr, v_v)
        END;
    ELSIF v_kind = 'tags' THEN
        IF v_op NOT IN ('contains', 'not_contains', 'in', 'not_in', 'is_empty', 'is_not_empty') THEN
            PERFORM campaigns._segment_rule_error(p_path, format('operator %s does not apply to tags (contains, not_contains, in, not_in, is_empty, is_not_empty)', v_op));
        END IF;
        RETURN CASE v_op
            WHEN 'contains'     THEN format('c.tags @> ARRAY[%s]', v_vt)
            WHEN 'not_contains' THEN format('NOT c.tags @> ARRAY[%s]', v_vt)
            WHEN 'in'           THEN format('c.tags && ARRAY(SELECT x.v FROM jsonb_array_elements_text(%s) AS x(v))', v_v)
            WHEN 'not_in'       THEN format('NOT c.tags && ARRAY(SELECT x.v FROM jsonb_array_elements_text(%s) AS x(v))', v_v)
            WHEN 'is_empty'     THEN 'cardinality(c.tags) = 0'
            WHEN 'is_not_empty' THEN 'cardinality(c.tags) > 0'
        END;
    ELSIF v_kind = 'time' THEN
        IF v_op NOT IN ('greater_than', 'less_than', 'between', 'within_last_days') THEN
            PERFORM campaigns._segment_rule_error(p_path, format('operator %s does not apply to %s (greater_than, less_than, between, within_last_days)', v_op, v_field));
        END IF;
        IF v_op <> 'within_last_days' THEN
            BEGIN
                -- Only to validate: the compiled clause casts the parameter, never this text.
                PERFORM (x.v)::timestamptz
                FROM jsonb_array_elements_text(CASE WHEN v_vtype = 'array' THEN v_value ELSE jsonb_build_array(v_value) END) AS x(v);
            EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_parameter_value THEN
                PERFORM campaigns._segment_rule_error(p_path, format('%s compares with ISO 8601 timestamps', v_field));
            END;
        END IF;
        RETURN CASE v_op
            WHEN 'greater_than'     THEN format('%s > %s::timestamptz', v_expr, v_vt)
            WHEN 'less_than'        THEN format('%s < %s::timestamptz', v_expr, v_vt)
            WHEN 'between'          THEN format('%s BETWEEN %s::timestamptz AND %s::timestamptz', v_expr, v_v0, v_v1)
            WHEN 'within_last_days' THEN format('%s > $2 - make_interval(days => %s::integer)', v_expr, v_vt)
        END;
    END IF;

    -- Text: standard text fields and custom fields; case-insensitive.
    IF v_op = 'within_last_days' THEN
        PERFORM campaigns._segment_rule_error(p_path, format('operator within_last_days does not apply to %s', v_field));
    END IF;
    IF v_op IN ('greater_than', 'less_than', 'between') THEN
        IF v_kind <> 'custom' THEN
            PERFORM campaigns._segment_rule_error(p_path, format('operator %s does not apply to %s', v_op, v_field));
        END IF;
        -- Custom fields: numbers compare as numbers (a stored value that is not a number does not
        -- match), anything else as text (ISO dates compare correctly as text).
        IF (v_op = 'between' AND jsonb_typeof(v_value->0) = 'number') OR (v_op <> 'between' AND v_vtype = 'number') THEN
            RETURN format('coalesce(CASE WHEN %1$s ~ ''^-?[0-9]+(\.[0-9]+)?$'' THEN %1$s::numeric %2$s END, false)', v_expr,
                CASE v_op WHEN 'greater_than' THEN format('> %s::numeric', v_vt)
                          WHEN 'less_than' THEN format('< %s::numeric', v_vt)
                          ELSE format('BETWEEN %s::numeric AND %s::numeric', v_v0, v_v1) END);
        END IF;
        RETURN format('coalesce(%s %s, false)', v_expr,
            CASE v_op WHEN 'greater_than' THEN format('> %s', v_vt)
                      WHEN 'less_than' THEN format('< %s', v_vt)
                      ELSE format('BETWEEN %s AND %s', v_v0, v_v1) END);
    END IF;
    RETURN CASE v_op
        WHEN 'equals'       THEN format('coalesce(lower(%s) = lower(%s), false)', v_expr, v_vt)
        WHEN 'not_equals'   THEN format('lower(%s) IS DISTINCT FROM lower(%s)', v_expr, v_vt)
        WHEN 'contains'     THEN format('coalesce(strpos(lower(%s), lower(%s)) > 0, false)', v_expr, v_vt)
        WHEN 'not_contains' THEN format('NOT coalesce(strpos(lower(%s), lower(%s)) > 0, false)', v_expr, v_vt)
        WHEN 'starts_with'  THEN format('coalesce(starts_with(lower(%s), lower(%s)), false)', v_expr, v_vt)
        WHEN 'in'           THEN format('coalesce(lower(%s) IN (SELECT lower(x.v) FROM jsonb_array_elements_text(%s) AS x(v)), false)', v_expr, v_v)
        WHEN 'not_in'       THEN format('NOT coalesce(lower(%s) IN (SELECT lower(x.v) FROM jsonb_array_elements_text(%s) AS x(v)), false)', v_expr, v_v)
        WHEN 'is_empty'     THEN format('coalesce(%s, '''') = ''''', v_expr)
        WHEN 'is_not_empty' THEN format('coalesce(%s, '''') <> ''''', v_expr)
    END;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._compile_segment_group(p_node jsonb, p_path text[], p_depth integer, p_root boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_match text := coalesce(p_node->>'match', 'all');
    v_parts text[] := '{}';
    v_key   text;
    v_list  text;
    v_item  jsonb;
    v_i     integer;
BEGIN
    IF jsonb_typeof(p_node) IS DISTINCT FROM 'object' THEN
        PERFORM campaigns._segment_rule_error(p_path, 'a group must be an object');
    END IF;
    IF p_depth > 5 THEN
        PERFORM campaigns._segment_rule_error(p_path, 'groups nest at most 5 deep');
    END IF;
    FOR v_key IN SELECT jsonb_object_keys(p_node) LOOP
        IF v_key NOT IN ('match', 'conditions', 'groups') AND NOT (p_root AND v_key = 'exclusions') THEN
            PERFORM campaigns._segment_rule_error(p_path, format('unknown key "%s" in a group', v_key));
        END IF;
    END LOOP;
    IF p_node ? 'match' AND (jsonb_typeof(p_node->'match') <> 'string' OR v_match NOT IN ('all', 'any')) THEN
        PERFORM campaigns._segment_rule_error(p_path || ARRAY['match'], 'match must be "all" or "any"');
    END IF;

    FOREACH v_list IN ARRAY ARRAY['groups', 'conditions'] LOOP
        CONTINUE WHEN NOT p_node ? v_list;
        IF jsonb_typeof(p_node->v_list) <> 'array' OR jsonb_array_length(p_node->v_list) > 100 THEN
            PERFORM campaigns._segment_rule_error(p_path || ARRAY[v_list], format('%s must be an array of at most 100 items', v_list));
        END IF;
        FOR v_i IN 0 .. jsonb_array_length(p_node->v_list) - 1 LOOP
            v_item := p_node->v_list->v_i;
            IF jsonb_typeof(v_item) IS DISTINCT FROM 'object' THEN
                PERFORM campaigns._segment_rule_error(p_path || ARRAY[v_list, v_i::text], 'each item must be an object');
            END IF;
            -- An item with "field" is a condition; anything else is a nested group.
            v_parts := v_parts || CASE WHEN v_item ? 'field'
                THEN campaigns._compile_segment_condition(v_item, p_path || ARRAY[v_list, v_i::text])
                ELSE campaigns._compile_segment_group(v_item, p_path || ARRAY[v_list, v_i::text], p_depth + 1) END;
        END LOOP;
    END LOOP;

    -- An empty group places no constraint.
    IF cardinality(v_parts) = 0 THEN
        RETURN 'true';
    END IF;
    RETURN '(' || array_to_string(v_parts, CASE v_match WHEN 'all' THEN ' AND ' ELSE ' OR ' END) || ')';
END
$$;

CREATE OR REPLACE FUNCTION campaigns.compile_segment_rules(p_rules jsonb)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_include text;
    v_parts   text[] := '{}';
    v_item    jsonb;
    v_i       integer;
BEGIN
    IF p_rules IS NULL OR jsonb_typeof(p_rules) <> 'object' THEN
        PERFORM campaigns._segment_rule_error('{}', 'rules must be a JSON object');
    END IF;
    IF octet_length(p_rules::text) > 65536 THEN
        PERFORM campaigns._segment_rule_error('{}', 'rules are limited to 64 KiB');
    END IF;
    v_include := campaigns._compile_segment_group(p_rules, '{}', 1, true);

    IF p_rules ? 'exclusions' THEN
        IF jsonb_typeof(p_rules->'exclusions') <> 'array' OR jsonb_array_length(p_rules->'exclusions') > 100 THEN
            PERFORM campaigns._segment_rule_error(ARRAY['exclusions'], 'exclusions must be an array of at most 100 items');
        END IF;
        FOR v_i IN 0 .. jsonb_array_length(p_rules->'exclusions') - 1 LOOP
            v_item := p_rules->'exclusions'->v_i;
            v_parts := v_parts || CASE
                WHEN jsonb_typeof(v_item) = 'string' THEN CASE v_item #>> '{}'
                    WHEN 'in_active_campaign' THEN
                        'EXISTS (SELECT FROM campaigns.campaign_contacts x WHERE x.tenant_id = c.tenant_id AND x.contact_id = c.id AND x.status IN (''enrolled'', ''active'', ''paused''))'
                    WHEN 'received_email_last_24h' THEN
                        'EXISTS (SELECT FROM campaigns.email_messages x WHERE x.tenant_id = c.tenant_id AND x.contact_id = c.id AND x.sent_at > $2 - interval ''24 hours'' AND x.sent_at <= $2)'
                    WHEN 'suppressed' THEN
                        'EXISTS (SELECT FROM campaigns._suppressed_addresses($2) x WHERE x.tenant_id = c.tenant_id AND x.email_key = lower(c.email))'
                    ELSE NULL END
                WHEN jsonb_typeof(v_item) = 'object' AND v_item ? 'field' THEN
                    campaigns._compile_segment_condition(v_item, ARRAY['exclusions', v_i::text])
                WHEN jsonb_typeof(v_item) = 'object' THEN
                    campaigns._compile_segment_group(v_item, ARRAY['exclusions', v_i::text], 2)
                END;
            IF v_parts[cardinality(v_parts)] IS NULL THEN
                PERFORM campaigns._segment_rule_error(ARRAY['exclusions', v_i::text],
                    'an exclusion is a condition, a group, or one of "in_active_campaign", "received_email_last_24h", "suppressed"');
            END IF;
        END LOOP;
    END IF;
    IF cardinality(v_parts) = 0 THEN
        RETURN v_include;
    END IF;
    RETURN v_include || ' AND NOT (' || array_to_string(v_parts, ' OR ') || ')';
END
$$;
COMMENT ON FUNCTION campaigns.compile_segment_rules(jsonb) IS
    'Validates dynamic-segment rules and compiles them to a boolean SQL expression over contacts aliased c, in which every value is read from the rules passed as $1 (and "now" is $2) — no value is ever part of the SQL text. Raises QC501 with the path of the first problem. See docs/api.md for fields and operators.';

CREATE OR REPLACE FUNCTION campaigns.segment_rule_contacts(
    p_rules jsonb, p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamptz DEFAULT now())
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    RETURN QUERY EXECUTE format('SELECT c.id FROM campaigns.contacts c WHERE c.tenant_id = $3 AND %s',
                                campaigns.compile_segment_rules(p_rules))
    USING p_rules, p_as_of, p_tenant_id;
END
$$;
COMMENT ON FUNCTION campaigns.segment_rule_contacts(jsonb, uuid, timestamptz) IS
    'The ids of p_tenant_id''s contacts (default: the API transaction''s tenant) matching the segment rules at p_as_of. QC501 for invalid rules.';
