-- Contact events from applications: recorded once per idempotency key, they end the live
-- enrollments of campaigns that name them as exit events (exit_reason goal) and enroll the contact
-- into every active campaign they trigger whose property filter matches.

-- A trigger filter is written in the segment-rule language; there `event.<name>`,
-- `property.<name>` and `properties.<name>` (like `custom.<name>`) read the event's properties, and
-- the standard fields read the contact. Compiled by rewriting those fields to custom fields of a
-- row whose custom_fields are the event's properties.
CREATE OR REPLACE FUNCTION campaigns._trigger_rules(p_filter jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog
AS $$
    SELECT regexp_replace(p_filter::text, '"field":\s*"(event|property|properties)\.', '"field": "custom.', 'g')::jsonb
$$;

CREATE OR REPLACE FUNCTION campaigns._check_trigger_filter()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, campaigns
AS $$
BEGIN
    -- Refused when saved (QC501, like segment rules), not when the first event arrives.
    IF NEW.trigger_filter IS NOT NULL THEN
        PERFORM campaigns.compile_segment_rules(campaigns._trigger_rules(NEW.trigger_filter));
    END IF;
    RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER trg_campaigns_trigger_filter
    BEFORE INSERT OR UPDATE OF trigger_filter ON campaigns.campaigns
    FOR EACH ROW EXECUTE FUNCTION campaigns._check_trigger_filter();

CREATE OR REPLACE FUNCTION campaigns.record_contact_events(
    p_events jsonb, p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamptz DEFAULT now())
RETURNS TABLE (idx integer, result jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_campaign record;
    v_matched  integer[];
    v_triggers jsonb;
BEGIN
    IF p_tenant_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'no tenant: pass p_tenant_id or run inside an API transaction';
    END IF;
    IF p_events IS NULL OR jsonb_typeof(p_events) <> 'array' OR jsonb_array_length(p_events) NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'p_events must be an array of 1 to 1,000 events';
    END IF;

    CREATE TEMP TABLE IF NOT EXISTS _events_in (
        idx integer PRIMARY KEY, key text, contact_id uuid NOT NULL, name text NOT NULL, properties jsonb NOT NULL,
        occurred_at timestamptz NOT NULL, event_id uuid NOT NULL, duplicate boolean NOT NULL DEFAULT false,
        enrolled jsonb NOT NULL DEFAULT '[]', exited jsonb NOT NULL DEFAULT '[]'
    ) ON COMMIT DROP;
    TRUNCATE pg_temp._events_in;
    INSERT INTO pg_temp._events_in (idx, key, contact_id, name, properties, occurred_at, event_id)
    SELECT (e.ord - 1)::integer, e.v->>'idempotency_key', (e.v->>'contact_id')::uuid, e.v->>'name',
           coalesce(e.v->'properties', '{}'), coalesce((e.v->>'occurred_at')::timestamptz, p_as_of), campaigns.uuid_v7()
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(v, ord);
    IF EXISTS (SELECT FROM pg_temp._events_in e
               WHERE NOT EXISTS (SELECT FROM campaigns.contacts c WHERE c.tenant_id = p_tenant_id AND c.id = e.contact_id)) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'an event names a contact that does not exist',
            DETAIL = (SELECT format('contact_id=%s', e.contact_id) FROM pg_temp._events_in e
                      WHERE NOT EXISTS (SELECT FROM campaigns.contacts c WHERE c.tenant_id = p_tenant_id AND c.id = e.contact_id)
                      LIMIT 1);
    END IF;

    -- Idempotency: the first event of a key claims it (a concurrent call with the same key waits on
    -- the unique key, then sees it taken); every other event with that key is a duplicate and
    -- returns the first one's stored result.
    WITH claimed AS (
        INSERT INTO campaigns.event_idempotency_keys (tenant_id, key, event_id, result, created_at)
        SELECT DISTINCT ON (e.key) p_tenant_id, e.key, e.event_id, '{}', p_as_of
        FROM pg_temp._events_in e WHERE e.key IS NOT NULL
        ORDER BY e.key, e.idx
        ON CONFLICT ON CONSTRAINT pk_event_idempotency_keys DO NOTHING
        RETURNING key, event_id
    )
    UPDATE pg_temp._events_in e SET duplicate = true
    WHERE e.key IS NOT NULL AND NOT EXISTS (SELECT FROM claimed c WHERE c.key = e.key AND c.event_id = e.event_id);

    INSERT INTO campaigns.contact_events (id, tenant_id, contact_id, name, properties, occurred_at, received_at)
    SELECT e.event_id, p_tenant_id, e.contact_id, e.name, e.properties, e.occurred_at, p_as_of
    FROM pg_temp._events_in e WHERE NOT e.duplicate;

    -- Exit events first: an event that both ends one enrollment and starts another does both.
    WITH ended AS (
        SELECT x.enrollment_id, cc.campaign_id, cc.contact_id
        FROM campaigns._exit_enrollments(
            ARRAY(SELECT DISTINCT cc.id
                  FROM pg_temp._events_in e
                  JOIN campaigns.campaign_contacts cc ON cc.tenant_id = p_tenant_id AND cc.contact_id = e.contact_id
                  JOIN campaigns.campaigns c ON c.tenant_id = cc.tenant_id AND c.id = cc.campaign_id
                  WHERE NOT e.duplicate AND e.name = ANY (c.exit_events) AND c.status IN ('active', 'paused')
                    -- A completed enrollment whose last mail has not gone out yet exits too: the
                    -- goal is reached, that mail is cancelled.
                    AND (cc.status IN ('enrolled', 'active', 'paused')
                         OR (cc.status = 'completed' AND EXISTS (
                                SELECT FROM campaigns.email_messages m
                                WHERE m.tenant_id = cc.tenant_id AND m.enrollment_id = cc.id AND m.status = 'queued')))),
            ARRAY['goal'], p_as_of, ARRAY['enrolled', 'active', 'paused', 'completed']) x
        JOIN campaigns.campaign_contacts cc ON cc.id = x.enrollment_id
    )
    UPDATE pg_temp._events_in e
    SET exited = (SELECT coalesce(jsonb_agg(jsonb_build_object('campaign_id', d.campaign_id, 'enrollment_id', d.enrollment_id)), '[]')
                  FROM ended d JOIN campaigns.campaigns c ON c.id = d.campaign_id
                  WHERE d.contact_id = e.contact_id AND e.name = ANY (c.exit_events))
    WHERE NOT e.duplicate;

    -- Triggers: campaign by campaign (few per event name), each set-based over its events.
    FOR v_campaign IN
        SELECT c.id, c.trigger_event, c.trigger_filter FROM campaigns.campaigns c
        WHERE c.tenant_id = p_tenant_id AND c.status = 'active'
          AND c.trigger_event IN (SELECT e.name FROM pg_temp._events_in e WHERE NOT e.duplicate)
        ORDER BY c.id
    LOOP
        IF v_campaign.trigger_filter IS NULL THEN
            v_matched := ARRAY(SELECT e.idx FROM pg_temp._events_in e
                               WHERE NOT e.duplicate AND e.name = v_campaign.trigger_event ORDER BY e.idx);
        ELSE
            EXECUTE format($sql$
                SELECT coalesce(array_agg(e.idx ORDER BY e.idx), '{}')
                FROM pg_temp._events_in e
                JOIN campaigns.contacts c0 ON c0.tenant_id = $3 AND c0.id = e.contact_id
                CROSS JOIN LATERAL (
                    SELECT c0.id, c0.tenant_id, c0.email, c0.first_name, c0.last_name, c0.company, c0.job_title, c0.city,
                           c0.state, c0.country, c0.timezone, c0.status, c0.score, c0.tags, c0.created_at, c0.updated_at,
                           e.properties AS custom_fields) c
                WHERE NOT e.duplicate AND e.name = $4 AND (%s)$sql$,
                campaigns.compile_segment_rules(campaigns._trigger_rules(v_campaign.trigger_filter)))
            INTO v_matched
            USING campaigns._trigger_rules(v_campaign.trigger_filter), p_as_of, p_tenant_id, v_campaign.trigger_event;
        END IF;
        CONTINUE WHEN cardinality(v_matched) = 0;
        -- The first matching event of a contact enrolls it; its id and properties stay on the enrollment.
        SELECT jsonb_object_agg(f.contact_id::text, jsonb_build_object('event_id', f.event_id, 'properties', f.properties))
          INTO v_triggers
        FROM (SELECT DISTINCT ON (e.contact_id) e.contact_id, e.event_id, e.properties
              FROM pg_temp._events_in e WHERE e.idx = ANY (v_matched) ORDER BY e.contact_id, e.idx) f;
        WITH enrolled AS (
            SELECT * FROM campaigns._enroll_contacts(
                v_campaign.id, ARRAY(SELECT e.contact_id FROM pg_temp._events_in e WHERE e.idx = ANY (v_matched)),
                p_as_of, v_triggers)
        )
        UPDATE pg_temp._events_in e
        SET enrolled = e.enrolled || jsonb_build_array(jsonb_build_object(
                'campaign_id', v_campaign.id, 'enrollment_id', n.enrollment_id, 'outcome', n.outcome))
        FROM enrolled n
        WHERE e.idx = ANY (v_matched) AND n.contact_id = e.contact_id;
    END LOOP;

    -- The stored result of each key, for its repeats.
    UPDATE campaigns.event_idempotency_keys k
    SET result = jsonb_build_object('event_id', e.event_id, 'contact_id', e.contact_id, 'enrolled', e.enrolled, 'exited', e.exited)
    FROM pg_temp._events_in e
    WHERE k.tenant_id = p_tenant_id AND k.key = e.key AND k.event_id = e.event_id AND NOT e.duplicate;

    RETURN QUERY
    SELECT e.idx,
           CASE WHEN e.duplicate
                THEN (SELECT k.result FROM campaigns.event_idempotency_keys k WHERE k.tenant_id = p_tenant_id AND k.key = e.key)
                     || jsonb_build_object('duplicate', true)
                ELSE jsonb_build_object('event_id', e.event_id, 'contact_id', e.contact_id, 'enrolled', e.enrolled,
                                        'exited', e.exited, 'duplicate', false) END
    FROM pg_temp._events_in e ORDER BY e.idx;
END
$$;
COMMENT ON FUNCTION campaigns.record_contact_events(jsonb, uuid, timestamptz) IS
    'Records 1 to 1,000 contact events ([{contact_id, name, properties, occurred_at, idempotency_key}]) for the tenant (default: the API transaction''s). Each ends the contact''s live enrollments in active or paused campaigns whose exit_events name it (exit_reason goal, queued mail cancelled; also a completed one whose last mail is still queued), then enrolls the contact into every active campaign whose trigger_event is its name and whose trigger_filter (segment rules; event.<name> reads the event''s properties) matches, with launch''s rules and the campaign''s reentry (campaigns._enroll_contacts); the event''s id and properties stay on the enrollment ({{ event.<name> }} in templates). An idempotency_key seen before (also within the batch) records nothing and returns the first event''s result with duplicate true. One row per event, in order: {event_id, contact_id, enrolled: [{campaign_id, enrollment_id, outcome}], exited: [{campaign_id, enrollment_id}], duplicate}. QC404 for an unknown contact; QC422 for a bad batch.';
