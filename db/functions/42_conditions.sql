-- Condition steps: how a condition's rules are evaluated for one enrollment when it is reached.

DROP FUNCTION IF EXISTS campaigns._contact_attribute_holds(jsonb, campaigns.contacts);

-- p_event: the properties of the event that started the enrollment (event.<name> reads them).
CREATE OR REPLACE FUNCTION campaigns._contact_attribute_holds(p_rules jsonb, p_contact campaigns.contacts, p_event jsonb)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog
AS $$
    WITH v AS (
        SELECT CASE WHEN p_rules->>'field' ~ '^(custom|customField)\.'
                    THEN p_contact.custom_fields->>regexp_replace(p_rules->>'field', '^(custom|customField)\.', '')
                    WHEN p_rules->>'field' ~ '^event\.'
                    THEN p_event->>regexp_replace(p_rules->>'field', '^event\.', '')
                    ELSE to_jsonb(p_contact)->>(p_rules->>'field') END AS actual,
               p_rules->>'value' AS expected,
               p_rules->>'operator' AS op
    )
    SELECT CASE v.op
        WHEN 'equals'     THEN coalesce(lower(v.actual) = lower(v.expected), false)
        WHEN 'not_equals' THEN coalesce(lower(v.actual) <> lower(v.expected), true)
        WHEN 'contains'   THEN coalesce(strpos(lower(v.actual), lower(v.expected)) > 0, false)
        WHEN 'in'         THEN coalesce(lower(v.actual) IN (SELECT lower(x) FROM jsonb_array_elements_text(p_rules->'value') x), false)
        WHEN 'not_in'     THEN coalesce(lower(v.actual) NOT IN (SELECT lower(x) FROM jsonb_array_elements_text(p_rules->'value') x), true)
        -- Numbers compare as numbers; anything else as text.
        WHEN 'greater_than' THEN CASE
            WHEN v.actual ~ '^-?[0-9]+(\.[0-9]+)?$' AND v.expected ~ '^-?[0-9]+(\.[0-9]+)?$' THEN v.actual::numeric > v.expected::numeric
            ELSE coalesce(v.actual > v.expected, false) END
        WHEN 'less_than' THEN CASE
            WHEN v.actual ~ '^-?[0-9]+(\.[0-9]+)?$' AND v.expected ~ '^-?[0-9]+(\.[0-9]+)?$' THEN v.actual::numeric < v.expected::numeric
            ELSE coalesce(v.actual < v.expected, false) END
        ELSE false
    END
    FROM v
$$;

CREATE OR REPLACE FUNCTION campaigns._condition_holds(
    p_rules jsonb, p_scope_step_id uuid, p_tenant_id uuid, p_enrollment_id uuid, p_contact campaigns.contacts)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, campaigns
AS $$
    SELECT CASE p_rules->>'type'
        WHEN 'email_opened' THEN EXISTS (
            SELECT FROM campaigns.email_messages m
            WHERE m.tenant_id = p_tenant_id AND m.enrollment_id = p_enrollment_id
              AND (p_scope_step_id IS NULL OR m.step_id = p_scope_step_id) AND m.first_opened_at IS NOT NULL)
        WHEN 'email_clicked' THEN EXISTS (
            SELECT FROM campaigns.email_messages m
            WHERE m.tenant_id = p_tenant_id AND m.enrollment_id = p_enrollment_id
              AND (p_scope_step_id IS NULL OR m.step_id = p_scope_step_id) AND m.first_clicked_at IS NOT NULL)
        WHEN 'email_replied' THEN EXISTS (
            SELECT FROM campaigns.email_messages m
            WHERE m.tenant_id = p_tenant_id AND m.enrollment_id = p_enrollment_id
              AND (p_scope_step_id IS NULL OR m.step_id = p_scope_step_id) AND m.replied_at IS NOT NULL)
        WHEN 'lead_score' THEN p_contact.score >= (p_rules->>'threshold')::numeric
        WHEN 'contact_attribute' THEN campaigns._contact_attribute_holds(p_rules, p_contact,
            CASE WHEN p_rules->>'field' LIKE 'event.%' THEN
                (SELECT cc.trigger_properties FROM campaigns.campaign_contacts cc
                 WHERE cc.tenant_id = p_tenant_id AND cc.id = p_enrollment_id) END)
        -- Unknown types cannot be saved (QC202); a row written around the trigger evaluates false.
        ELSE false
    END
$$;
COMMENT ON FUNCTION campaigns._condition_holds(jsonb, uuid, uuid, uuid, campaigns.contacts) IS
    'Evaluates a condition step''s rules for one enrollment: email_opened / email_clicked / email_replied (optionally scoped to one email step), lead_score (score >= threshold), contact_attribute (standard or custom field, or event.<name>: a property of the event that started the enrollment; absent when none did).';
