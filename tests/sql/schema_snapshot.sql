CREATE SCHEMA campaigns;

CREATE FUNCTION campaigns._action_config_error(p_tenant_id uuid, p_campaign_id uuid, p_action text, p_config jsonb) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $_$
    SELECT CASE p_action
        WHEN 'add_tag' THEN CASE WHEN length(p_config->>'tag') > 0 THEN NULL ELSE 'add_tag needs a tag' END
        WHEN 'remove_tag' THEN CASE WHEN length(p_config->>'tag') > 0 THEN NULL ELSE 'remove_tag needs a tag' END
        WHEN 'update_field' THEN
            CASE WHEN (p_config->>'field' IN ('first_name', 'last_name', 'company', 'job_title', 'city', 'state', 'country')
                       OR p_config->>'field' ~ '^(custom|customField)\.[A-Za-z0-9_\-]+$')
                      AND p_config ? 'value'
                 THEN NULL ELSE 'update_field needs a writable field and a value' END
        WHEN 'adjust_score' THEN
            CASE WHEN jsonb_typeof(p_config->'delta') = 'number' AND (p_config->>'delta') ~ '^-?[0-9]+$'
                 THEN NULL ELSE 'adjust_score needs an integer delta' END
        WHEN 'exit' THEN
            CASE WHEN p_config->'reason' IS NULL OR jsonb_typeof(p_config->'reason') = 'string'
                 THEN NULL ELSE 'exit reason must be a string' END
        WHEN 'notify' THEN NULL
        WHEN 'move_to_campaign' THEN
            CASE WHEN (p_config->>'campaign_id') !~ '^[0-9a-fA-F-]{36}$' THEN 'move_to_campaign needs a campaign_id'
                 WHEN (p_config->>'campaign_id')::uuid = p_campaign_id THEN 'move_to_campaign cannot target its own campaign'
                 ELSE NULL END
        ELSE 'unknown action type'
    END
$_$;

CREATE FUNCTION campaigns._add_wait(p_from timestamp with time zone, p_value integer, p_unit text, p_timezone text) RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS $$
    -- minutes and hours are elapsed time; days and weeks are calendar days in the local zone, so
    -- 09:00 stays 09:00 across a DST change.
    SELECT CASE p_unit
        WHEN 'minutes' THEN p_from + make_interval(mins => p_value)
        WHEN 'hours'   THEN p_from + make_interval(hours => p_value)
        WHEN 'days'    THEN ((p_from AT TIME ZONE p_timezone) + make_interval(days => p_value)) AT TIME ZONE p_timezone
        WHEN 'weeks'   THEN ((p_from AT TIME ZONE p_timezone) + make_interval(days => 7 * p_value)) AT TIME ZONE p_timezone
    END
$$;

COMMENT ON FUNCTION campaigns._add_wait(p_from timestamp with time zone, p_value integer, p_unit text, p_timezone text) IS 'p_from plus a wait of p_value p_unit; days and weeks keep the local wall-clock time in p_timezone.';

CREATE FUNCTION campaigns._apply_send_limits(p_as_of timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
BEGIN
    IF NOT EXISTS (
        SELECT FROM pg_temp._due_work w
        JOIN campaigns.campaign_steps s ON s.id = w.step_id AND s.step_type = 'email'
        JOIN campaigns.campaigns c ON c.tenant_id = w.tenant_id AND c.id = w.campaign_id
        LEFT JOIN campaigns.sender_accounts sa ON sa.tenant_id = c.tenant_id AND sa.id = c.sender_account_id
        WHERE w.status = 'run'
          AND (c.daily_limit IS NOT NULL OR sa.daily_limit IS NOT NULL OR sa.min_gap_seconds IS NOT NULL)) THEN
        RETURN;  -- the common broadcast case: no limit to account for
    END IF;

    -- Concurrent runs must not both spend the same allowance: lock the limited campaigns and
    -- senders (in id order, so two runs cannot deadlock) and count after the lock.
    PERFORM FROM campaigns.campaigns c
    WHERE c.daily_limit IS NOT NULL
      AND (c.tenant_id, c.id) IN (SELECT tenant_id, campaign_id FROM pg_temp._due_work WHERE status = 'run')
    ORDER BY c.id FOR NO KEY UPDATE;
    PERFORM FROM campaigns.sender_accounts sa
    WHERE (sa.daily_limit IS NOT NULL OR sa.min_gap_seconds IS NOT NULL)
      AND (sa.tenant_id, sa.id) IN (SELECT c.tenant_id, c.sender_account_id FROM campaigns.campaigns c
                                    WHERE (c.tenant_id, c.id) IN (SELECT tenant_id, campaign_id FROM pg_temp._due_work WHERE status = 'run'))
    ORDER BY sa.id FOR NO KEY UPDATE;

    -- Campaign daily limit, per calendar day in the campaign's timezone. Due follow-ups go before
    -- first steps; the excess waits for the next local midnight (then the window applies).
    WITH candidates AS (
        SELECT w.enrollment_id, c.tenant_id, c.id AS campaign_id, c.daily_limit, c.timezone,
               row_number() OVER (PARTITION BY c.id ORDER BY (w.steps_completed = 0), w.due_at, w.enrollment_id) AS rank
        FROM pg_temp._due_work w
        JOIN campaigns.campaign_steps s ON s.id = w.step_id AND s.step_type = 'email'
        JOIN campaigns.campaigns c ON c.tenant_id = w.tenant_id AND c.id = w.campaign_id
        WHERE w.status = 'run' AND c.daily_limit IS NOT NULL
    ), used AS (
        SELECT k.campaign_id, count(m.id) AS n
        FROM (SELECT DISTINCT tenant_id, campaign_id, timezone FROM candidates) k
        LEFT JOIN campaigns.email_messages m
               ON m.tenant_id = k.tenant_id AND m.campaign_id = k.campaign_id
              AND m.queued_at >= ((p_as_of AT TIME ZONE k.timezone)::date)::timestamp AT TIME ZONE k.timezone
        GROUP BY k.campaign_id
    )
    UPDATE pg_temp._due_work w
    SET status = 'deferred',
        due_at = (((p_as_of AT TIME ZONE k.timezone)::date + 1)::timestamp) AT TIME ZONE k.timezone
    FROM candidates k JOIN used u ON u.campaign_id = k.campaign_id
    WHERE w.enrollment_id = k.enrollment_id AND k.rank > k.daily_limit - u.n;

    -- Sender account: a daily cap per UTC day and a minimum gap between sends. Each allowed email
    -- gets its own slot; slots more than an hour ahead are deferred rather than queued far ahead.
    WITH candidates AS (
        SELECT w.enrollment_id, sa.tenant_id, sa.id AS sender_id, sa.daily_limit, sa.min_gap_seconds, sa.last_slot_at,
               row_number() OVER (PARTITION BY sa.id ORDER BY (w.steps_completed = 0), w.due_at, w.enrollment_id) AS rank
        FROM pg_temp._due_work w
        JOIN campaigns.campaign_steps s ON s.id = w.step_id AND s.step_type = 'email'
        JOIN campaigns.campaigns c ON c.tenant_id = w.tenant_id AND c.id = w.campaign_id
        JOIN campaigns.sender_accounts sa ON sa.tenant_id = c.tenant_id AND sa.id = c.sender_account_id
        WHERE w.status = 'run' AND (sa.daily_limit IS NOT NULL OR sa.min_gap_seconds IS NOT NULL)
    ), used AS (
        SELECT k.sender_id, count(m.id) AS n
        FROM (SELECT DISTINCT tenant_id, sender_id FROM candidates) k
        LEFT JOIN campaigns.email_messages m
               ON m.tenant_id = k.tenant_id AND m.sender_account_id = k.sender_id
              AND m.queued_at >= date_trunc('day', p_as_of, 'UTC')
        GROUP BY k.sender_id
    ), slotted AS (
        SELECT k.*, u.n,
               greatest(p_as_of, coalesce(k.last_slot_at + make_interval(secs => k.min_gap_seconds), p_as_of))
                 + make_interval(secs => coalesce(k.min_gap_seconds, 0) * (k.rank - 1)) AS slot
        FROM candidates k JOIN used u ON u.sender_id = k.sender_id
    )
    UPDATE pg_temp._due_work w
    SET status = CASE WHEN k.daily_limit IS NOT NULL AND k.rank > k.daily_limit - k.n THEN 'deferred'
                      WHEN k.slot > p_as_of + interval '1 hour' THEN 'deferred'
                      ELSE w.status END,
        due_at = CASE WHEN k.daily_limit IS NOT NULL AND k.rank > k.daily_limit - k.n THEN date_trunc('day', p_as_of, 'UTC') + interval '1 day'
                      WHEN k.slot > p_as_of + interval '1 hour' THEN k.slot
                      ELSE w.due_at END,
        send_at = k.slot
    FROM slotted k
    WHERE w.enrollment_id = k.enrollment_id;

    UPDATE campaigns.sender_accounts sa SET last_slot_at = x.last_slot
    FROM (SELECT c.tenant_id, c.sender_account_id, max(w.send_at) AS last_slot
          FROM pg_temp._due_work w JOIN campaigns.campaigns c ON c.tenant_id = w.tenant_id AND c.id = w.campaign_id
          WHERE w.status = 'run' AND w.send_at IS NOT NULL
          GROUP BY 1, 2) x
    WHERE sa.tenant_id = x.tenant_id AND sa.id = x.sender_account_id;
END
$$;

CREATE TABLE campaigns.contacts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    email text NOT NULL,
    first_name text,
    last_name text,
    company text,
    job_title text,
    city text,
    state text,
    country text,
    timezone text,
    custom_fields jsonb DEFAULT '{}'::jsonb NOT NULL,
    score integer DEFAULT 0 NOT NULL,
    status text DEFAULT 'active'::text NOT NULL,
    tags text[] DEFAULT '{}'::text[] NOT NULL,
    consecutive_soft_bounces integer DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_contacts_custom_fields CHECK ((jsonb_typeof(custom_fields) = 'object'::text)),
    CONSTRAINT ck_contacts_email CHECK (((email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'::text) AND (length(email) <= 320))),
    CONSTRAINT ck_contacts_soft_bounces CHECK ((consecutive_soft_bounces >= 0)),
    CONSTRAINT ck_contacts_status CHECK ((status = ANY (ARRAY['active'::text, 'unsubscribed'::text, 'bounced'::text])))
);

CREATE FUNCTION campaigns._condition_holds(p_rules jsonb, p_scope_step_id uuid, p_tenant_id uuid, p_enrollment_id uuid, p_contact campaigns.contacts) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
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
        WHEN 'contact_attribute' THEN campaigns._contact_attribute_holds(p_rules, p_contact)
        -- Unknown types cannot be saved (QC202); a row written around the trigger evaluates false.
        ELSE false
    END
$$;

COMMENT ON FUNCTION campaigns._condition_holds(p_rules jsonb, p_scope_step_id uuid, p_tenant_id uuid, p_enrollment_id uuid, p_contact campaigns.contacts) IS 'Evaluates a condition step''s rules for one enrollment: email_opened / email_clicked / email_replied (optionally scoped to one email step), lead_score (score >= threshold), contact_attribute (standard or custom field).';

CREATE FUNCTION campaigns._condition_rules_error(p_rules jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog'
    AS $_$
    -- NULL when the rules are valid, else what is wrong with them.
    SELECT CASE
        WHEN jsonb_typeof(p_rules) <> 'object' THEN 'condition_rules must be an object'
        WHEN p_rules->>'type' IN ('email_opened', 'email_clicked', 'email_replied') THEN NULL
        WHEN p_rules->>'type' = 'lead_score' THEN
            CASE WHEN jsonb_typeof(p_rules->'threshold') = 'number' THEN NULL ELSE 'lead_score needs a numeric threshold' END
        WHEN p_rules->>'type' = 'contact_attribute' THEN
            CASE
                WHEN jsonb_typeof(p_rules->'field') <> 'string' OR NOT (
                        p_rules->>'field' IN ('email', 'first_name', 'last_name', 'company', 'job_title', 'city',
                                              'state', 'country', 'timezone', 'status', 'score')
                        OR p_rules->>'field' ~ '^(custom|customField)\.[A-Za-z0-9_\-]+$')
                    THEN 'contact_attribute needs a standard field or custom.<name>'
                WHEN NOT coalesce(p_rules->>'operator' IN ('equals', 'not_equals', 'contains', 'greater_than',
                                                           'less_than', 'in', 'not_in'), false)
                    THEN 'unknown contact_attribute operator'
                WHEN p_rules->>'operator' IN ('in', 'not_in') AND jsonb_typeof(p_rules->'value') <> 'array'
                    THEN 'in / not_in need an array value'
                WHEN p_rules->>'operator' NOT IN ('in', 'not_in')
                     AND coalesce(jsonb_typeof(p_rules->'value'), 'null') NOT IN ('string', 'number', 'boolean')
                    THEN 'the operator needs a scalar value'
                ELSE NULL
            END
        ELSE 'unknown condition type'
    END
$_$;

CREATE FUNCTION campaigns._contact_attribute_holds(p_rules jsonb, p_contact campaigns.contacts) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog'
    AS $_$
    WITH v AS (
        SELECT CASE WHEN p_rules->>'field' ~ '^(custom|customField)\.'
                    THEN p_contact.custom_fields->>regexp_replace(p_rules->>'field', '^(custom|customField)\.', '')
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
$_$;

CREATE FUNCTION campaigns._end_expired_campaigns(p_as_of timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_ended integer;
BEGIN
    WITH ended AS (
        UPDATE campaigns.campaigns SET status = 'completed', completed_at = p_as_of
        WHERE status IN ('active', 'paused') AND end_date <= p_as_of
        RETURNING tenant_id, id
    ), exited AS (
        UPDATE campaigns.campaign_contacts cc
        SET status = 'exited', exit_reason = 'campaign_ended', exited_at = p_as_of, pause_reason = NULL,
            next_email_scheduled_at = NULL, updated_at = now()
        FROM ended e
        WHERE cc.tenant_id = e.tenant_id AND cc.campaign_id = e.id AND cc.status IN ('enrolled', 'active', 'paused')
        RETURNING cc.id
    ), cancelled AS (
        UPDATE campaigns.email_messages m SET status = 'cancelled', last_error = 'campaign_ended'
        FROM ended e
        WHERE m.tenant_id = e.tenant_id AND m.campaign_id = e.id AND m.status = 'queued'
        RETURNING m.id
    )
    SELECT count(*) INTO v_ended FROM ended;
    RETURN v_ended;
END
$$;

CREATE FUNCTION campaigns._exit_contact_everywhere(p_tenant_id uuid, p_contact_id uuid, p_reason text, p_as_of timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
BEGIN
    -- Enrollments first (this waits for a processing run holding them), then the queued mail that
    -- run may just have committed.
    UPDATE campaigns.campaign_contacts
    SET status = 'exited', exit_reason = p_reason, exited_at = p_as_of, pause_reason = NULL,
        next_email_scheduled_at = NULL, updated_at = now()
    WHERE tenant_id = p_tenant_id AND contact_id = p_contact_id AND status IN ('enrolled', 'active', 'paused');
    UPDATE campaigns.email_messages
    SET status = 'cancelled', last_error = p_reason
    WHERE tenant_id = p_tenant_id AND contact_id = p_contact_id AND status = 'queued';
END
$$;

CREATE TABLE campaigns.campaigns (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    workspace_id uuid,
    name text NOT NULL,
    description text,
    campaign_type text DEFAULT 'drip'::text NOT NULL,
    status text DEFAULT 'draft'::text NOT NULL,
    segment_id uuid,
    sender_account_id uuid,
    total_contacts integer DEFAULT 0 NOT NULL,
    from_email text,
    from_name text,
    reply_to_email text,
    start_date timestamp with time zone,
    end_date timestamp with time zone,
    timezone text DEFAULT 'UTC'::text NOT NULL,
    send_strategy text DEFAULT 'immediate'::text NOT NULL,
    track_opens boolean DEFAULT true NOT NULL,
    track_clicks boolean DEFAULT true NOT NULL,
    unsubscribe_enabled boolean DEFAULT true NOT NULL,
    daily_limit integer,
    sending_days smallint[],
    sending_window_start time without time zone,
    sending_window_end time without time zone,
    window_missed_action text DEFAULT 'wait'::text NOT NULL,
    on_reply text DEFAULT 'exit'::text NOT NULL,
    requires_approval boolean DEFAULT false NOT NULL,
    is_promotional boolean DEFAULT false NOT NULL,
    scheduled_at timestamp with time zone,
    schedule_error text,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    launched_at timestamp with time zone,
    completed_at timestamp with time zone,
    CONSTRAINT ck_campaigns_daily_limit CHECK (((daily_limit IS NULL) OR (daily_limit > 0))),
    CONSTRAINT ck_campaigns_dates CHECK (((end_date IS NULL) OR (start_date IS NULL) OR (start_date < end_date))),
    CONSTRAINT ck_campaigns_name CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 255))),
    CONSTRAINT ck_campaigns_on_reply CHECK ((on_reply = ANY (ARRAY['exit'::text, 'pause'::text, 'continue'::text]))),
    CONSTRAINT ck_campaigns_send_strategy CHECK ((send_strategy = ANY (ARRAY['immediate'::text, 'scheduled'::text, 'optimized'::text]))),
    CONSTRAINT ck_campaigns_sending_days CHECK (((sending_days IS NULL) OR (((cardinality(sending_days) >= 1) AND (cardinality(sending_days) <= 7)) AND (sending_days <@ ARRAY[(1)::smallint, (2)::smallint, (3)::smallint, (4)::smallint, (5)::smallint, (6)::smallint, (7)::smallint])))),
    CONSTRAINT ck_campaigns_sending_window CHECK ((((sending_window_start IS NULL) = (sending_window_end IS NULL)) AND ((sending_window_start IS NULL) OR (sending_window_start < sending_window_end)))),
    CONSTRAINT ck_campaigns_status CHECK ((status = ANY (ARRAY['draft'::text, 'scheduled'::text, 'active'::text, 'paused'::text, 'completed'::text]))),
    CONSTRAINT ck_campaigns_total_contacts CHECK ((total_contacts >= 0)),
    CONSTRAINT ck_campaigns_type CHECK ((campaign_type = ANY (ARRAY['broadcast'::text, 'drip'::text, 'triggered'::text, 'ab_test'::text]))),
    CONSTRAINT ck_campaigns_window_missed_action CHECK ((window_missed_action = ANY (ARRAY['wait'::text, 'send_anyway'::text])))
);

CREATE FUNCTION campaigns._first_due_at(p_campaign campaigns.campaigns, p_contact_id uuid, p_timezone text, p_as_of timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_due  timestamptz;
    v_hour integer;
BEGIN
    IF p_campaign.send_strategy = 'scheduled' THEN
        v_due := greatest(coalesce(p_campaign.start_date, p_as_of), p_as_of);
    ELSIF p_campaign.send_strategy = 'optimized' THEN
        -- The contact's most frequent local open hour over 90 days, with at least 5 opens; sent 15
        -- minutes before it. Otherwise 09:00 local.
        SELECT mode() WITHIN GROUP (ORDER BY extract(hour FROM m.first_opened_at AT TIME ZONE p_timezone))::integer
          INTO v_hour
        FROM campaigns.email_messages m
        WHERE m.tenant_id = p_campaign.tenant_id AND m.contact_id = p_contact_id
          AND m.first_opened_at > p_as_of - interval '90 days'
        HAVING count(*) >= 5;
        v_due := campaigns.next_local_time(p_as_of, p_timezone,
                    CASE WHEN v_hour IS NULL THEN time '09:00' ELSE make_time(v_hour, 0, 0) - interval '15 minutes' END);
    ELSE
        v_due := p_as_of;
    END IF;
    IF p_campaign.window_missed_action = 'wait' THEN
        v_due := campaigns.next_window_open(v_due, p_timezone, p_campaign.sending_days,
                                            p_campaign.sending_window_start, p_campaign.sending_window_end);
    END IF;
    RETURN v_due;
END
$$;

CREATE FUNCTION campaigns._is_suppressed(p_tenant_id uuid, p_email text, p_as_of timestamp with time zone) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
    SELECT EXISTS (SELECT FROM campaigns.suppressions s
                   WHERE s.tenant_id = p_tenant_id AND lower(s.email) = lower(p_email)
                     AND (s.expires_at IS NULL OR s.expires_at > p_as_of))
        OR EXISTS (SELECT FROM campaigns.global_suppressions g
                   WHERE lower(g.email) = lower(p_email)
                     AND (g.expires_at IS NULL OR g.expires_at > p_as_of))
$$;

COMMENT ON FUNCTION campaigns._is_suppressed(p_tenant_id uuid, p_email text, p_as_of timestamp with time zone) IS 'True when the address is on the tenant''s or the global suppression list (unexpired) at p_as_of.';

CREATE FUNCTION campaigns._lock_campaign(p_campaign_id uuid, p_allowed text[], p_action text) RETURNS campaigns.campaigns
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_campaign campaigns.campaigns;
BEGIN
    SELECT * INTO v_campaign FROM campaigns.campaigns WHERE id = p_campaign_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found',
            DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    IF NOT v_campaign.status = ANY (p_allowed) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC409',
            MESSAGE = format('cannot %s a campaign in status %s', p_action, v_campaign.status),
            DETAIL = format('campaign_id=%s status=%s', p_campaign_id, v_campaign.status),
            HINT = format('%s is allowed from: %s', p_action, array_to_string(p_allowed, ', '));
    END IF;
    RETURN v_campaign;
END
$$;

CREATE FUNCTION campaigns._mint_api_key(p_tenant_id uuid, p_user_id uuid, p_name text DEFAULT 'default'::text) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
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

CREATE FUNCTION campaigns._raise_invalid_rule(p_errcode text, p_message text, p_step_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog'
    AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = p_errcode, MESSAGE = p_message, DETAIL = format('step_id=%s', p_step_id);
END
$$;

CREATE FUNCTION campaigns._rate(p_part bigint, p_whole bigint) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS $$
    -- A percentage rounded to 2 decimals; a zero denominator gives 0. Capped at 100 for numeric(5,2).
    SELECT CASE WHEN coalesce(p_whole, 0) = 0 THEN 0
                ELSE least(round(100.0 * p_part / p_whole, 2), 100) END
$$;

CREATE FUNCTION campaigns._run_action_steps(p_as_of timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
BEGIN
    -- The rows of the working set standing on an action step, with the step's configuration.
    IF to_regclass('pg_temp._due_actions') IS NULL THEN
    CREATE TEMP TABLE _due_actions (
        enrollment_id uuid, tenant_id uuid, campaign_id uuid, contact_id uuid,
        action_type text, config jsonb, next_step_id uuid
    ) ON COMMIT DROP;
    END IF;
    TRUNCATE pg_temp._due_actions;
    INSERT INTO pg_temp._due_actions
    SELECT w.enrollment_id, w.tenant_id, w.campaign_id, w.contact_id, s.action_type, s.action_config, s.next_step_id
    FROM pg_temp._due_work w
    JOIN campaigns.campaign_steps s ON s.id = w.step_id
    WHERE w.status = 'run' AND NOT w.emailed AND s.step_type = 'action';
    IF NOT FOUND THEN
        RETURN;
    END IF;

    -- Contact changes are aggregated per contact: one contact may stand in several campaigns' batches.
    UPDATE campaigns.contacts c
    SET tags = ARRAY(SELECT DISTINCT t FROM unnest(c.tags || a.add_tags) t
                     WHERE t <> ALL (a.remove_tags) ORDER BY t),
        score = c.score + a.delta
    FROM (SELECT tenant_id, contact_id,
                 coalesce(array_agg(config->>'tag') FILTER (WHERE action_type = 'add_tag'), '{}') AS add_tags,
                 coalesce(array_agg(config->>'tag') FILTER (WHERE action_type = 'remove_tag'), '{}') AS remove_tags,
                 coalesce(sum((config->>'delta')::integer) FILTER (WHERE action_type = 'adjust_score'), 0) AS delta
          FROM pg_temp._due_actions
          WHERE action_type IN ('add_tag', 'remove_tag', 'adjust_score')
          GROUP BY tenant_id, contact_id) a
    WHERE c.tenant_id = a.tenant_id AND c.id = a.contact_id;

    UPDATE campaigns.contacts c
    SET first_name = CASE WHEN a.field = 'first_name' THEN a.value ELSE c.first_name END,
        last_name  = CASE WHEN a.field = 'last_name'  THEN a.value ELSE c.last_name END,
        company    = CASE WHEN a.field = 'company'    THEN a.value ELSE c.company END,
        job_title  = CASE WHEN a.field = 'job_title'  THEN a.value ELSE c.job_title END,
        city       = CASE WHEN a.field = 'city'       THEN a.value ELSE c.city END,
        state      = CASE WHEN a.field = 'state'      THEN a.value ELSE c.state END,
        country    = CASE WHEN a.field = 'country'    THEN a.value ELSE c.country END,
        custom_fields = CASE WHEN a.field ~ '^(custom|customField)\.'
            THEN jsonb_set(c.custom_fields, ARRAY[regexp_replace(a.field, '^(custom|customField)\.', '')], a.json_value)
            ELSE c.custom_fields END
    FROM (SELECT DISTINCT ON (tenant_id, contact_id) tenant_id, contact_id,
                 config->>'field' AS field, config->>'value' AS value, config->'value' AS json_value
          FROM pg_temp._due_actions WHERE action_type = 'update_field'
          ORDER BY tenant_id, contact_id, enrollment_id) a
    WHERE c.tenant_id = a.tenant_id AND c.id = a.contact_id;

    -- move_to_campaign: enroll in the target (same tenant, not completed) at its first step, due now.
    WITH moved AS (
        INSERT INTO campaigns.campaign_contacts
            (tenant_id, campaign_id, contact_id, status, current_step_id, enrolled_at, next_email_scheduled_at)
        SELECT a.tenant_id, t.id, a.contact_id, 'enrolled', first_step.id, p_as_of, p_as_of
        FROM pg_temp._due_actions a
        JOIN campaigns.campaigns t ON t.tenant_id = a.tenant_id AND t.id = (a.config->>'campaign_id')::uuid
                                  AND t.status <> 'completed'
        CROSS JOIN LATERAL (SELECT s.id FROM campaigns.campaign_steps s
                            WHERE s.tenant_id = t.tenant_id AND s.campaign_id = t.id
                            ORDER BY s.step_order LIMIT 1) first_step
        WHERE a.action_type = 'move_to_campaign'
        ON CONFLICT ON CONSTRAINT uq_campaign_contacts_contact DO NOTHING
        RETURNING tenant_id, campaign_id
    )
    UPDATE campaigns.campaigns c SET total_contacts = c.total_contacts + m.n
    FROM (SELECT tenant_id, campaign_id, count(*) AS n FROM moved GROUP BY 1, 2) m
    WHERE c.tenant_id = m.tenant_id AND c.id = m.campaign_id;

    PERFORM pg_notify('campaigns_actions', json_build_object(
                'tenant_id', a.tenant_id, 'campaign_id', a.campaign_id, 'contact_id', a.contact_id,
                'enrollment_id', a.enrollment_id, 'config', a.config)::text)
    FROM pg_temp._due_actions a WHERE a.action_type = 'notify';

    UPDATE pg_temp._due_work w
    SET status = CASE WHEN a.action_type IN ('exit', 'move_to_campaign') THEN 'exited' ELSE w.status END,
        exit_reason = CASE a.action_type
            WHEN 'exit' THEN coalesce(nullif(a.config->>'reason', ''), 'exit_action')
            WHEN 'move_to_campaign' THEN 'moved_to_campaign'
            ELSE w.exit_reason END,
        step_id = CASE WHEN a.action_type IN ('exit', 'move_to_campaign') THEN w.step_id ELSE a.next_step_id END
    FROM pg_temp._due_actions a
    WHERE w.enrollment_id = a.enrollment_id;
END
$$;

CREATE FUNCTION campaigns._run_email_steps(p_as_of timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_queued integer;
BEGIN
    -- One email per enrollment per pass: an enrollment that queued one already stops here.
    UPDATE pg_temp._due_work w SET status = 'stop'
    FROM campaigns.campaign_steps s
    WHERE w.status = 'run' AND w.emailed AND s.id = w.step_id AND s.step_type = 'email';

    -- Not mailable any more: exits rather than sends.
    UPDATE pg_temp._due_work w
    SET status = 'exited',
        exit_reason = CASE ct.status WHEN 'unsubscribed' THEN 'unsubscribed' WHEN 'bounced' THEN 'bounced' ELSE 'suppressed' END
    FROM campaigns.campaign_steps s, campaigns.contacts ct
    WHERE w.status = 'run' AND s.id = w.step_id AND s.step_type = 'email'
      AND ct.tenant_id = w.tenant_id AND ct.id = w.contact_id
      AND (ct.status <> 'active'
           OR EXISTS (SELECT FROM campaigns.suppressions x
                      WHERE x.tenant_id = ct.tenant_id AND lower(x.email) = lower(ct.email)
                        AND (x.expires_at IS NULL OR x.expires_at > p_as_of))
           OR EXISTS (SELECT FROM campaigns.global_suppressions g
                      WHERE lower(g.email) = lower(ct.email) AND (g.expires_at IS NULL OR g.expires_at > p_as_of)));

    -- Outside the sending window (recipient's local time): wait for the next opening.
    UPDATE pg_temp._due_work w
    SET status = 'deferred',
        due_at = campaigns.next_window_open(p_as_of, w.timezone, c.sending_days, c.sending_window_start, c.sending_window_end)
    FROM campaigns.campaign_steps s, campaigns.campaigns c
    WHERE w.status = 'run' AND s.id = w.step_id AND s.step_type = 'email'
      AND c.tenant_id = w.tenant_id AND c.id = w.campaign_id
      AND c.window_missed_action = 'wait'
      AND (c.sending_days IS NOT NULL OR c.sending_window_start IS NOT NULL)
      AND campaigns.next_window_open(p_as_of, w.timezone, c.sending_days, c.sending_window_start, c.sending_window_end) > p_as_of;

    PERFORM campaigns._apply_send_limits(p_as_of);

    -- Queue the email: exactly one row per (enrollment, step), ever. The Message-ID is fixed here so
    -- every retry carries the same one.
    INSERT INTO campaigns.email_messages
        (id, tenant_id, campaign_id, step_id, enrollment_id, contact_id, sender_account_id, to_email,
         next_attempt_at, smtp_message_id, queued_at)
    SELECT q.id, q.tenant_id, q.campaign_id, q.step_id, q.enrollment_id, q.contact_id, q.sender_account_id, q.email,
           q.send_at, '<' || q.id || '@' || q.domain || '>', p_as_of
    FROM (SELECT gen_random_uuid() AS id, w.tenant_id, w.campaign_id, w.step_id, w.enrollment_id, w.contact_id,
                 c.sender_account_id, ct.email, coalesce(w.send_at, p_as_of) AS send_at,
                 coalesce(nullif(split_part(coalesce(sa.from_email, c.from_email), '@', 2), ''), 'campaigns.invalid') AS domain
          FROM pg_temp._due_work w
          JOIN campaigns.campaign_steps s ON s.id = w.step_id AND s.step_type = 'email'
          JOIN campaigns.campaigns c ON c.tenant_id = w.tenant_id AND c.id = w.campaign_id
          JOIN campaigns.contacts ct ON ct.tenant_id = w.tenant_id AND ct.id = w.contact_id
          LEFT JOIN campaigns.sender_accounts sa ON sa.tenant_id = c.tenant_id AND sa.id = c.sender_account_id
          WHERE w.status = 'run') q
    ON CONFLICT ON CONSTRAINT uq_email_messages_enrollment_step DO NOTHING;
    GET DIAGNOSTICS v_queued = ROW_COUNT;

    -- Advance past the email in the same transaction as the insert (no enqueue-then-update gap).
    UPDATE pg_temp._due_work w
    SET step_id = s.next_step_id, steps_completed = w.steps_completed + 1, last_email_sent_at = p_as_of, emailed = true
    FROM campaigns.campaign_steps s
    WHERE w.status = 'run' AND s.id = w.step_id AND s.step_type = 'email';
    RETURN v_queued;
END
$$;

CREATE FUNCTION campaigns._suppress(p_tenant_id uuid, p_email text, p_reason text, p_as_of timestamp with time zone) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
    INSERT INTO campaigns.suppressions (tenant_id, email, reason, source, added_at)
    VALUES (p_tenant_id, p_email, p_reason, 'event', p_as_of)
    ON CONFLICT (tenant_id, lower(email)) DO NOTHING
$$;

CREATE FUNCTION campaigns._touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog'
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE FUNCTION campaigns._validate_campaign_graph(p_tenant_id uuid, p_campaign_id uuid, p_errcode text DEFAULT 'QC204'::text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_email_step uuid;
BEGIN
    -- Walk every edge from each email step; reaching the same email step again means some
    -- enrollment could be sent that email twice. At most 20 steps, so paths stay short.
    WITH RECURSIVE edges AS (
        SELECT s.id AS src, t.dst
        FROM campaigns.campaign_steps s
        CROSS JOIN LATERAL (VALUES (s.next_step_id), (s.true_next_step_id), (s.false_next_step_id)) AS t(dst)
        WHERE s.tenant_id = p_tenant_id AND s.campaign_id = p_campaign_id AND t.dst IS NOT NULL
    ), walk (origin, node, path) AS (
        SELECT s.id, e.dst, ARRAY[s.id]
        FROM campaigns.campaign_steps s JOIN edges e ON e.src = s.id
        WHERE s.tenant_id = p_tenant_id AND s.campaign_id = p_campaign_id AND s.step_type = 'email'
        UNION ALL
        SELECT w.origin, e.dst, w.path || w.node
        FROM walk w JOIN edges e ON e.src = w.node
        WHERE w.node <> w.origin AND NOT w.node = ANY (w.path)
    )
    SELECT origin INTO v_email_step FROM walk WHERE node = origin LIMIT 1;
    IF v_email_step IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = p_errcode,
            MESSAGE = 'the steps form a cycle through an email step, which could send it twice',
            DETAIL = format('campaign_id=%s email_step_id=%s', p_campaign_id, v_email_step),
            HINT = 'Point next_step_id / branch targets forward, or end the branch.';
    END IF;
END
$$;

CREATE FUNCTION campaigns._validate_step() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_error  text;
    v_target uuid;
BEGIN
    -- Serialise step changes per campaign so the 20-step limit holds under concurrent inserts.
    PERFORM FROM campaigns.campaigns WHERE tenant_id = NEW.tenant_id AND id = NEW.campaign_id FOR NO KEY UPDATE;
    IF (SELECT count(*) FROM campaigns.campaign_steps
        WHERE tenant_id = NEW.tenant_id AND campaign_id = NEW.campaign_id) > 20 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC201', MESSAGE = 'a campaign may have at most 20 steps',
            DETAIL = format('campaign_id=%s', NEW.campaign_id);
    END IF;

    -- Targets must be steps of this campaign (the composite foreign keys say so too; this gives
    -- the caller the engine's own SQLSTATE first).
    FOREACH v_target IN ARRAY ARRAY[NEW.next_step_id, NEW.true_next_step_id, NEW.false_next_step_id, NEW.email_step_id] LOOP
        CONTINUE WHEN v_target IS NULL;
        IF NOT EXISTS (SELECT FROM campaigns.campaign_steps
                       WHERE tenant_id = NEW.tenant_id AND campaign_id = NEW.campaign_id AND id = v_target) THEN
            PERFORM campaigns._raise_invalid_rule('QC203', 'a step target must be a step of the same campaign', NEW.id);
        END IF;
    END LOOP;
    IF NEW.email_step_id IS NOT NULL AND NOT EXISTS (
            SELECT FROM campaigns.campaign_steps WHERE id = NEW.email_step_id AND step_type = 'email') THEN
        PERFORM campaigns._raise_invalid_rule('QC203', 'email_step_id must name an email step of the same campaign', NEW.id);
    END IF;

    IF NEW.step_type = 'condition' THEN
        v_error := campaigns._condition_rules_error(NEW.condition_rules);
    ELSIF NEW.step_type = 'action' THEN
        v_error := campaigns._action_config_error(NEW.tenant_id, NEW.campaign_id, NEW.action_type, NEW.action_config);
        IF v_error IS NULL AND NEW.action_type = 'move_to_campaign' AND NOT EXISTS (
                SELECT FROM campaigns.campaigns
                WHERE tenant_id = NEW.tenant_id AND id = (NEW.action_config->>'campaign_id')::uuid) THEN
            PERFORM campaigns._raise_invalid_rule('QC203', 'move_to_campaign must name a campaign of the same tenant', NEW.id);
        END IF;
    END IF;
    IF v_error IS NOT NULL THEN
        PERFORM campaigns._raise_invalid_rule('QC202', v_error, NEW.id);
    END IF;

    PERFORM campaigns._validate_campaign_graph(NEW.tenant_id, NEW.campaign_id, 'QC204');
    RETURN NULL;
END
$$;

CREATE FUNCTION campaigns.authenticate_api_key(p_key text) RETURNS TABLE(tenant_id uuid, user_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
    SELECT k.tenant_id, k.user_id
    FROM campaigns.api_keys k
    WHERE k.key_hash = sha256(convert_to(p_key, 'UTF8'))
      AND k.revoked_at IS NULL
$$;

COMMENT ON FUNCTION campaigns.authenticate_api_key(p_key text) IS 'Resolves a presented API key to its tenant and user; no row for an unknown or revoked key. Compares hashes only.';

CREATE FUNCTION campaigns.clone_campaign(p_campaign_id uuid) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_source campaigns.campaigns;
    v_new_id uuid := gen_random_uuid();
    -- The caller (set by the API per request); a DBA's clone keeps the original's creator.
    v_caller uuid := NULLIF(current_setting('campaigns.user_id', true), '')::uuid;
BEGIN
    SELECT * INTO v_source FROM campaigns.campaigns WHERE id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'campaign not found', DETAIL = format('campaign_id=%s', p_campaign_id);
    END IF;
    INSERT INTO campaigns.campaigns (
        id, tenant_id, workspace_id, name, description, campaign_type, status, segment_id, sender_account_id,
        from_email, from_name, reply_to_email, start_date, end_date, timezone, send_strategy, track_opens,
        track_clicks, unsubscribe_enabled, daily_limit, sending_days, sending_window_start, sending_window_end,
        window_missed_action, on_reply, requires_approval, is_promotional, created_by)
    SELECT v_new_id, tenant_id, workspace_id, left(name || ' (Copy)', 255), description, campaign_type, 'draft',
        segment_id, sender_account_id, from_email, from_name, reply_to_email, start_date, end_date, timezone,
        send_strategy, track_opens, track_clicks, unsubscribe_enabled, daily_limit, sending_days,
        sending_window_start, sending_window_end, window_missed_action, on_reply, requires_approval,
        is_promotional, coalesce(v_caller, created_by)
    FROM campaigns.campaigns WHERE id = p_campaign_id;

    -- New ids first, so every target (next, true, false, scope) maps to the copy, never the original.
    WITH map AS (
        SELECT s.id AS old_id, gen_random_uuid() AS new_id
        FROM campaigns.campaign_steps s
        WHERE s.tenant_id = v_source.tenant_id AND s.campaign_id = p_campaign_id
    )
    INSERT INTO campaigns.campaign_steps (
        id, tenant_id, campaign_id, step_order, step_name, step_type, template_id, subject_line, email_content,
        wait_duration_value, wait_duration_unit, condition_rules, email_step_id, true_next_step_id,
        false_next_step_id, action_type, action_config, next_step_id)
    SELECT m.new_id, s.tenant_id, v_new_id, s.step_order, s.step_name, s.step_type, s.template_id, s.subject_line,
        s.email_content, s.wait_duration_value, s.wait_duration_unit, s.condition_rules,
        (SELECT new_id FROM map WHERE old_id = s.email_step_id),
        (SELECT new_id FROM map WHERE old_id = s.true_next_step_id),
        (SELECT new_id FROM map WHERE old_id = s.false_next_step_id),
        s.action_type, s.action_config,
        (SELECT new_id FROM map WHERE old_id = s.next_step_id)
    FROM campaigns.campaign_steps s JOIN map m ON m.old_id = s.id;
    RETURN v_new_id;
END
$$;

COMMENT ON FUNCTION campaigns.clone_campaign(p_campaign_id uuid) IS 'Copies a campaign as a draft named "<name> (Copy)" with its steps under new ids (branch, next and scope targets remapped to the copies), counters zeroed; no enrollments, analytics or approvals. created_by is the caller (campaigns.user_id setting) or the original''s creator. Returns the new id.';

CREATE FUNCTION campaigns.complete_finished_campaigns(p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_ended     integer;
    v_completed integer;
BEGIN
    -- Past their end date: remaining enrollments exit (campaign_ended), queued mail is cancelled.
    v_ended := campaigns._end_expired_campaigns(p_as_of);
    -- Nothing left to do: no enrollment that could still act and no mail still to go out.
    UPDATE campaigns.campaigns c
    SET status = 'completed', completed_at = p_as_of
    WHERE c.status = 'active'
      AND c.launched_at <= p_as_of
      AND NOT EXISTS (SELECT FROM campaigns.campaign_contacts cc
                      WHERE cc.tenant_id = c.tenant_id AND cc.campaign_id = c.id
                        AND cc.status IN ('enrolled', 'active', 'paused'))
      AND NOT EXISTS (SELECT FROM campaigns.email_messages m
                      WHERE m.tenant_id = c.tenant_id AND m.campaign_id = c.id AND m.status IN ('queued', 'sending'));
    GET DIAGNOSTICS v_completed = ROW_COUNT;
    RETURN v_ended + v_completed;
END
$$;

COMMENT ON FUNCTION campaigns.complete_finished_campaigns(p_as_of timestamp with time zone) IS 'Completes active campaigns with no enrollment left in enrolled, active or paused and no mail queued or sending; completes active or paused campaigns whose end_date is at or before p_as_of (their enrollments exit with reason campaign_ended, queued mail is cancelled). Returns the number completed. Run by pg_cron hourly.';

CREATE FUNCTION campaigns.create_api_key(p_user_id uuid, p_name text DEFAULT 'default'::text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
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

COMMENT ON FUNCTION campaigns.create_api_key(p_user_id uuid, p_name text) IS 'Mints another API key for an existing user. The key is returned once; only its sha256 is stored.';

CREATE FUNCTION campaigns.create_tenant(p_name text, p_admin_email text DEFAULT NULL::text) RETURNS TABLE(tenant_id uuid, api_key text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
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

COMMENT ON FUNCTION campaigns.create_tenant(p_name text, p_admin_email text) IS 'Creates a tenant with a default workspace, an admin user and a fresh API key for that user. The key is returned once; only its sha256 is stored.';

CREATE FUNCTION campaigns.cron_jobs_missing(p_jobs text[]) RETURNS text[]
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
BEGIN
    -- SECURITY DEFINER: cron.job is not readable by the application role (and its policy shows
    -- each user only their own jobs).
    IF to_regclass('cron.job') IS NULL THEN
        RETURN p_jobs;
    END IF;
    RETURN coalesce((SELECT array_agg(j ORDER BY j) FROM unnest(p_jobs) AS j
                     WHERE NOT EXISTS (SELECT FROM cron.job WHERE jobname = j)), '{}');
END
$$;

COMMENT ON FUNCTION campaigns.cron_jobs_missing(p_jobs text[]) IS 'The names in p_jobs that are not installed as pg_cron jobs in this database (all of them where pg_cron is absent). Used by the readiness check.';

CREATE FUNCTION campaigns.error_codes() RETURNS TABLE(sqlstate text, code text, http_status integer, description text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS $$
    VALUES
        ('QC404', 'NOT_FOUND',                    404, 'the row does not exist (or belongs to another tenant)'),
        ('QC409', 'INVALID_STATE_TRANSITION',     409, 'the object is not in a state that allows this'),
        ('QC422', 'VALIDATION_FAILED',            422, 'an argument is out of range or malformed'),
        ('QC101', 'CAMPAIGN_HAS_NO_STEPS',        422, 'launch: the campaign has no steps'),
        ('QC102', 'CAMPAIGN_HAS_NO_AUDIENCE',     422, 'launch: no eligible contact after exclusions'),
        ('QC103', 'APPROVAL_REQUIRED',            409, 'launch: a required approval is missing'),
        ('QC104', 'MONTHLY_QUOTA_EXCEEDED',       409, 'launch: the tenant''s monthly email quota would be exceeded'),
        ('QC105', 'CAMPAIGN_STEPS_INVALID',       422, 'launch: the sequence has no entry step or an email step without content'),
        ('QC201', 'TOO_MANY_STEPS',               422, 'a campaign may have at most 20 steps'),
        ('QC202', 'INVALID_STEP_RULE',            422, 'a condition rule or action configuration is malformed'),
        ('QC203', 'STEP_TARGET_OUTSIDE_CAMPAIGN', 422, 'a branch, next or scope target is not a step of this campaign'),
        ('QC204', 'STEP_CYCLE',                   422, 'the steps form a cycle that could send an email twice'),
        ('QC205', 'CAMPAIGN_NOT_EDITABLE',        409, 'the campaign''s state does not allow this change'),
        ('QC301', 'INVALID_TIME_RANGE',           400, 'a range whose start is after its end, or a time in the past'),
        ('QC302', 'INVALID_TIMEZONE',             422, 'not an IANA timezone name'),
        ('QC401', 'UNKNOWN_EVENT_TYPE',           422, 'record_email_event: not one of the event types'),
        ('QC402', 'NOT_APPROVER',                 403, 'the approval row is assigned to another user')
$$;

COMMENT ON FUNCTION campaigns.error_codes() IS 'The engine''s own SQLSTATEs (class QC) with their stable API code, HTTP status and meaning. Mirrored by service/errors.py.';

CREATE FUNCTION campaigns.launch_campaign(p_campaign_id uuid, p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_campaign    campaigns.campaigns;
    v_entry_step  uuid;
    v_email_steps integer;
    v_enrolled    integer;
    v_quota       integer;
    v_used        bigint;
    v_missing     text[];
BEGIN
    -- The row lock makes a concurrent second launch wait, then fail the status check.
    v_campaign := campaigns._lock_campaign(p_campaign_id, ARRAY['draft', 'scheduled'], 'launch');

    SELECT (array_agg(s.id ORDER BY s.step_order))[1], count(*) FILTER (WHERE s.step_type = 'email')
      INTO v_entry_step, v_email_steps
    FROM campaigns.campaign_steps s
    WHERE s.tenant_id = v_campaign.tenant_id AND s.campaign_id = p_campaign_id;
    IF v_entry_step IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC101', MESSAGE = 'cannot launch a campaign without steps',
            DETAIL = format('campaign_id=%s', p_campaign_id), HINT = 'Add at least one email step.';
    END IF;
    PERFORM campaigns._validate_campaign_graph(v_campaign.tenant_id, p_campaign_id, 'QC105');

    -- Set-based enrollment: the segment's mailable contacts, minus suppressed and already enrolled.
    INSERT INTO campaigns.campaign_contacts
        (tenant_id, campaign_id, contact_id, status, current_step_id, enrolled_at, next_email_scheduled_at)
    SELECT v_campaign.tenant_id, p_campaign_id, c.id, 'enrolled', v_entry_step, p_as_of,
           CASE WHEN v_campaign.send_strategy = 'immediate'
                     AND (v_campaign.window_missed_action = 'send_anyway'
                          OR (v_campaign.sending_days IS NULL AND v_campaign.sending_window_start IS NULL))
                THEN p_as_of
                ELSE campaigns._first_due_at(v_campaign, c.id, coalesce(c.timezone, v_campaign.timezone), p_as_of)
           END
    FROM campaigns.segment_contacts sc
    JOIN campaigns.contacts c ON c.tenant_id = sc.tenant_id AND c.id = sc.contact_id
    WHERE sc.tenant_id = v_campaign.tenant_id
      AND sc.segment_id = v_campaign.segment_id
      AND c.status = 'active'
      AND NOT EXISTS (SELECT FROM campaigns.suppressions s
                      WHERE s.tenant_id = c.tenant_id AND lower(s.email) = lower(c.email)
                        AND (s.expires_at IS NULL OR s.expires_at > p_as_of))
      AND NOT EXISTS (SELECT FROM campaigns.global_suppressions g
                      WHERE lower(g.email) = lower(c.email)
                        AND (g.expires_at IS NULL OR g.expires_at > p_as_of))
    ON CONFLICT ON CONSTRAINT uq_campaign_contacts_contact DO NOTHING;
    GET DIAGNOSTICS v_enrolled = ROW_COUNT;

    -- Every refusal below raises, which rolls the enrollment back: launch is all or nothing.
    IF v_enrolled = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC102', MESSAGE = 'Cannot launch campaign without leads',
            DETAIL = format('campaign_id=%s segment_id=%s', p_campaign_id, v_campaign.segment_id),
            HINT = 'The segment has no active, unsuppressed contact that is not already enrolled.';
    END IF;

    IF v_campaign.requires_approval THEN
        SELECT array_agg(r) INTO v_missing
        FROM unnest(ARRAY['campaign_manager']
                    || CASE WHEN v_enrolled > 10000 OR v_campaign.is_promotional
                            THEN ARRAY['compliance_officer'] ELSE ARRAY[]::text[] END) AS r
        WHERE NOT EXISTS (
            SELECT FROM campaigns.campaign_approvals a
            WHERE a.tenant_id = v_campaign.tenant_id AND a.campaign_id = p_campaign_id
              AND a.approval_role = r AND a.status = 'approved'
              AND a.round = (SELECT max(a2.round) FROM campaigns.campaign_approvals a2
                             WHERE a2.tenant_id = a.tenant_id AND a2.campaign_id = a.campaign_id))
           OR EXISTS (
            SELECT FROM campaigns.campaign_approvals a
            WHERE a.tenant_id = v_campaign.tenant_id AND a.campaign_id = p_campaign_id
              AND a.approval_role = r AND a.status <> 'approved'
              AND a.round = (SELECT max(a2.round) FROM campaigns.campaign_approvals a2
                             WHERE a2.tenant_id = a.tenant_id AND a2.campaign_id = a.campaign_id));
        IF v_missing IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'QC103', MESSAGE = 'required approvals are missing',
                DETAIL = format('campaign_id=%s missing=%s', p_campaign_id, array_to_string(v_missing, ',')),
                HINT = 'Every required approver must approve the current round.';
        END IF;
    END IF;

    SELECT t.monthly_email_quota INTO v_quota FROM campaigns.tenants t WHERE t.id = v_campaign.tenant_id;
    IF v_quota IS NOT NULL THEN
        SELECT count(*) INTO v_used FROM campaigns.email_messages m
        WHERE m.tenant_id = v_campaign.tenant_id AND m.status <> 'cancelled'
          AND m.queued_at >= date_trunc('month', p_as_of, 'UTC');
        -- Upper bound: every enrollment receives every email step.
        IF v_used + v_enrolled::bigint * v_email_steps > v_quota THEN
            RAISE EXCEPTION USING ERRCODE = 'QC104', MESSAGE = 'the monthly email quota would be exceeded',
                DETAIL = format('quota=%s used=%s this launch=%s', v_quota, v_used, v_enrolled::bigint * v_email_steps),
                HINT = 'Raise tenants.monthly_email_quota or narrow the segment.';
        END IF;
    END IF;

    UPDATE campaigns.campaigns
    SET status = 'active', launched_at = p_as_of, total_contacts = total_contacts + v_enrolled,
        scheduled_at = NULL, schedule_error = NULL, completed_at = NULL
    WHERE id = p_campaign_id;
    RETURN v_enrolled;
END
$$;

COMMENT ON FUNCTION campaigns.launch_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) IS 'Launches a draft or scheduled campaign: enrolls the segment''s active, unsuppressed contacts at the first step (by step_order) with their first due time from the send strategy and sending window, and makes the campaign active. All or nothing. Refuses with QC404 (not found), QC409 (wrong status), QC101 (no steps), QC105 (invalid steps), QC102 (no eligible contact), QC103 (approvals missing), QC104 (monthly quota). Returns the number enrolled.';

CREATE FUNCTION campaigns.launch_scheduled_campaigns(p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_id       uuid;
    v_launched integer := 0;
    v_state    text;
    v_message  text;
BEGIN
    -- One campaign at a time, each in its own subtransaction: a failing launch is recorded on its
    -- campaign and does not stop the others. SKIP LOCKED lets a concurrent run take other rows.
    FOR v_id IN
        SELECT c.id FROM campaigns.campaigns c
        WHERE c.status = 'scheduled' AND c.scheduled_at <= p_as_of
        ORDER BY c.scheduled_at
        FOR UPDATE SKIP LOCKED
    LOOP
        BEGIN
            PERFORM campaigns.launch_campaign(v_id, p_as_of);
            v_launched := v_launched + 1;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
            -- The schedule failed: back to draft with the error kept for the user to read.
            UPDATE campaigns.campaigns
            SET status = 'draft', schedule_error = v_state || ': ' || v_message
            WHERE id = v_id;
            RAISE WARNING 'scheduled launch of campaign % failed: % %', v_id, v_state, v_message;
        END;
    END LOOP;
    RETURN v_launched;
END
$$;

COMMENT ON FUNCTION campaigns.launch_scheduled_campaigns(p_as_of timestamp with time zone) IS 'Launches every scheduled campaign whose scheduled_at is at or before p_as_of, exactly once. A failed launch returns that campaign to draft with schedule_error set and does not stop the others. Returns the number launched. Run by pg_cron every minute.';

CREATE FUNCTION campaigns.next_local_time(p_at timestamp with time zone, p_timezone text, p_time time without time zone) RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS $$
    -- Today at p_time local when still ahead, else tomorrow at p_time local.
    SELECT CASE
        WHEN ((p_at AT TIME ZONE p_timezone)::date + p_time) AT TIME ZONE p_timezone >= p_at
            THEN ((p_at AT TIME ZONE p_timezone)::date + p_time) AT TIME ZONE p_timezone
        ELSE ((p_at AT TIME ZONE p_timezone)::date + 1 + p_time) AT TIME ZONE p_timezone
    END
$$;

COMMENT ON FUNCTION campaigns.next_local_time(p_at timestamp with time zone, p_timezone text, p_time time without time zone) IS 'The next instant at or after p_at whose local time in p_timezone is p_time (today if still ahead, else tomorrow).';

CREATE FUNCTION campaigns.next_window_open(p_at timestamp with time zone, p_timezone text, p_days smallint[], p_start time without time zone, p_end time without time zone) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS $$
DECLARE
    v_local   timestamp := p_at AT TIME ZONE p_timezone;
    v_day     date;
    v_start   time := coalesce(p_start, time '00:00');
BEGIN
    IF p_days IS NULL AND p_start IS NULL THEN
        RETURN p_at;
    END IF;
    -- At most a week ahead: some allowed weekday comes within 7 days.
    FOR v_offset IN 0..7 LOOP
        v_day := v_local::date + v_offset;
        CONTINUE WHEN p_days IS NOT NULL AND extract(isodow FROM v_day)::smallint <> ALL (p_days);
        IF v_offset > 0 THEN
            RETURN (v_day + v_start) AT TIME ZONE p_timezone;
        END IF;
        IF v_local::time < v_start THEN
            RETURN (v_day + v_start) AT TIME ZONE p_timezone;
        END IF;
        IF p_end IS NULL OR v_local::time < p_end THEN
            RETURN p_at;
        END IF;
    END LOOP;
    RETURN p_at;
END
$$;

COMMENT ON FUNCTION campaigns.next_window_open(p_at timestamp with time zone, p_timezone text, p_days smallint[], p_start time without time zone, p_end time without time zone) IS 'The earliest instant at or after p_at that falls inside the sending window (ISO weekdays p_days, local hours [p_start, p_end)) in p_timezone. NULL days and hours = no window.';

CREATE FUNCTION campaigns.pause_campaign(p_campaign_id uuid) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_campaign campaigns.campaigns;
    v_paused   integer;
BEGIN
    v_campaign := campaigns._lock_campaign(p_campaign_id, ARRAY['active'], 'pause');
    UPDATE campaigns.campaigns SET status = 'paused' WHERE id = p_campaign_id;
    -- Due times are kept; queued mail stays queued (the worker holds a paused campaign's mail).
    UPDATE campaigns.campaign_contacts
    SET status = 'paused', pause_reason = 'campaign', updated_at = now()
    WHERE tenant_id = v_campaign.tenant_id AND campaign_id = p_campaign_id AND status IN ('enrolled', 'active');
    GET DIAGNOSTICS v_paused = ROW_COUNT;
    RETURN v_paused;
END
$$;

COMMENT ON FUNCTION campaigns.pause_campaign(p_campaign_id uuid) IS 'Pauses an active campaign and its enrolled/active enrollments in one transaction (QC409 from any other status). Due times are kept. Returns the number of enrollments paused.';

CREATE FUNCTION campaigns.process_due_steps(p_as_of timestamp with time zone DEFAULT now(), p_batch_size integer DEFAULT 5000) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    c_max_hops CONSTANT integer := 10;
    v_claimed  integer;
    v_queued   integer := 0;
BEGIN
    IF p_batch_size IS NULL OR p_batch_size < 1 OR p_as_of IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'p_batch_size must be positive and p_as_of set';
    END IF;
    PERFORM campaigns._end_expired_campaigns(p_as_of);
    -- The idle tick: nothing due means no working set to build (one probe of the due index).
    IF NOT EXISTS (SELECT FROM campaigns.campaign_contacts d
                   WHERE d.status IN ('enrolled', 'active') AND d.next_email_scheduled_at <= p_as_of) THEN
        RETURN 0;
    END IF;

    -- Created once per transaction (ON COMMIT DROP); a second call in one transaction reuses it.
    IF to_regclass('pg_temp._due_work') IS NULL THEN
    CREATE TEMP TABLE _due_work (
        enrollment_id      uuid PRIMARY KEY,
        tenant_id          uuid NOT NULL,
        campaign_id        uuid NOT NULL,
        contact_id         uuid NOT NULL,
        step_id            uuid,
        due_at             timestamptz NOT NULL,
        -- run: keep going; stop: wait for the next pass; deferred: limits or window moved due_at;
        -- completed / exited: terminal.
        status             text NOT NULL,
        exit_reason        text,
        steps_completed    integer NOT NULL,
        last_email_sent_at timestamptz,
        completed_at       timestamptz,
        emailed            boolean NOT NULL DEFAULT false,
        send_at            timestamptz,
        timezone           text NOT NULL
    ) ON COMMIT DROP;
    END IF;
    TRUNCATE pg_temp._due_work;

    -- The claim: due enrollments of active campaigns, oldest first, skipping rows another run (or a
    -- pause, or an event) holds. The partial index ix_campaign_contacts_due serves the scan in order.
    INSERT INTO pg_temp._due_work
        (enrollment_id, tenant_id, campaign_id, contact_id, step_id, due_at, status, steps_completed,
         last_email_sent_at, timezone)
    SELECT cc.id, cc.tenant_id, cc.campaign_id, cc.contact_id, cc.current_step_id, cc.next_email_scheduled_at, 'run',
           cc.steps_completed, cc.last_email_sent_at, coalesce(ct.timezone, c.timezone)
    FROM (SELECT * FROM campaigns.campaign_contacts d
          WHERE d.status IN ('enrolled', 'active') AND d.next_email_scheduled_at <= p_as_of
            AND EXISTS (SELECT FROM campaigns.campaigns a
                        WHERE a.tenant_id = d.tenant_id AND a.id = d.campaign_id AND a.status = 'active')
          ORDER BY d.next_email_scheduled_at
          LIMIT p_batch_size
          FOR UPDATE OF d SKIP LOCKED) cc
    JOIN campaigns.campaigns c ON c.tenant_id = cc.tenant_id AND c.id = cc.campaign_id
    JOIN campaigns.contacts ct ON ct.tenant_id = cc.tenant_id AND ct.id = cc.contact_id;
    GET DIAGNOSTICS v_claimed = ROW_COUNT;
    IF v_claimed = 0 THEN
        RETURN 0;
    END IF;

    FOR v_hop IN 1..c_max_hops LOOP
        -- End of the sequence (also a trailing wait whose time has come).
        UPDATE pg_temp._due_work SET status = 'completed', completed_at = due_at
        WHERE status = 'run' AND step_id IS NULL;

        -- Wait: measured from when this step was due, never from when the run happened.
        UPDATE pg_temp._due_work w
        SET due_at = campaigns._add_wait(w.due_at, s.wait_duration_value, s.wait_duration_unit, w.timezone),
            step_id = s.next_step_id
        FROM campaigns.campaign_steps s
        WHERE w.status = 'run' AND s.id = w.step_id AND s.step_type = 'wait';
        UPDATE pg_temp._due_work SET status = 'stop' WHERE status = 'run' AND due_at > p_as_of;

        -- After an email only a wait is set up in the same pass: conditions are judged later.
        UPDATE pg_temp._due_work w SET status = 'stop'
        FROM campaigns.campaign_steps s
        WHERE w.status = 'run' AND w.emailed AND s.id = w.step_id AND s.step_type IN ('condition', 'action');

        -- Condition: pick the branch; a null branch target ends the sequence on the next hop.
        UPDATE pg_temp._due_work w
        SET step_id = CASE WHEN campaigns._condition_holds(s.condition_rules, s.email_step_id, w.tenant_id, w.enrollment_id, ct)
                           THEN s.true_next_step_id ELSE s.false_next_step_id END
        FROM campaigns.campaign_steps s, campaigns.contacts ct
        WHERE w.status = 'run' AND s.id = w.step_id AND s.step_type = 'condition'
          AND ct.tenant_id = w.tenant_id AND ct.id = w.contact_id;

        PERFORM campaigns._run_action_steps(p_as_of);
        v_queued := v_queued + campaigns._run_email_steps(p_as_of);

        EXIT WHEN NOT EXISTS (SELECT FROM pg_temp._due_work WHERE status = 'run');
    END LOOP;

    -- A loop of instant steps with no wait: stop it rather than spin.
    UPDATE pg_temp._due_work SET status = 'exited', exit_reason = 'hop_limit' WHERE status = 'run';

    -- One write per enrollment. The status guard is belt and braces: the claim's row locks already
    -- kept a concurrent pause or exit from changing these rows under us.
    UPDATE campaigns.campaign_contacts cc
    SET current_step_id = CASE WHEN w.status IN ('completed') THEN NULL ELSE w.step_id END,
        next_email_scheduled_at = CASE WHEN w.status IN ('completed', 'exited') THEN NULL ELSE w.due_at END,
        status = CASE w.status WHEN 'completed' THEN 'completed' WHEN 'exited' THEN 'exited' ELSE 'active' END,
        started_at = coalesce(cc.started_at, p_as_of),
        steps_completed = w.steps_completed,
        last_email_sent_at = w.last_email_sent_at,
        completed_at = w.completed_at,
        exited_at = CASE WHEN w.status = 'exited' THEN p_as_of END,
        exit_reason = w.exit_reason,
        updated_at = now()
    FROM pg_temp._due_work w
    WHERE cc.id = w.enrollment_id AND cc.status IN ('enrolled', 'active');

    IF v_queued > 0 THEN
        PERFORM pg_notify('campaigns_outbox', v_queued::text);
    END IF;
    RETURN v_claimed;
END
$$;

COMMENT ON FUNCTION campaigns.process_due_steps(p_as_of timestamp with time zone, p_batch_size integer) IS 'Processes up to p_batch_size enrollments of active campaigns that are due at p_as_of (FOR UPDATE SKIP LOCKED, so concurrent runs take disjoint rows). Wait, condition and action steps run inline; an email step queues exactly one email_messages row per (enrollment, step) and advances in the same transaction; waits count from the due time (days/weeks keep local wall-clock time). Honours sending windows, campaign and sender daily limits, sender gaps, end_date (exit campaign_ended) and suppression (exit suppressed). Notifies campaigns_outbox. Returns the number of enrollments processed.';

CREATE FUNCTION campaigns.record_email_event(p_message_id uuid, p_event_type text, p_occurred_at timestamp with time zone DEFAULT now(), p_details jsonb DEFAULT '{}'::jsonb) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_msg        campaigns.email_messages;
    v_email      text;
    v_on_reply   text;
    v_threshold  integer;
    v_soft       integer;
    v_provider   text := coalesce(p_details->>'provider_event_id', p_details->>'event_id');
    v_inserted   integer;
    v_first      boolean;
    v_first_open boolean := false;
BEGIN
    IF p_event_type IS NULL OR p_event_type NOT IN ('delivered', 'open', 'click', 'reply', 'bounce_hard',
                                                    'bounce_soft', 'complaint', 'unsubscribe') THEN
        RAISE EXCEPTION USING ERRCODE = 'QC401', MESSAGE = 'unknown event type',
            DETAIL = format('event_type=%s', p_event_type),
            HINT = 'One of delivered, open, click, reply, bounce_hard, bounce_soft, complaint, unsubscribe.';
    END IF;
    IF p_details IS NULL OR jsonb_typeof(p_details) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'p_details must be a JSON object';
    END IF;
    -- The message row lock serialises events of one message, so "first open" is decided once.
    SELECT * INTO v_msg FROM campaigns.email_messages WHERE id = p_message_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'message not found', DETAIL = format('message_id=%s', p_message_id);
    END IF;

    INSERT INTO campaigns.email_events
        (tenant_id, message_id, campaign_id, step_id, contact_id, event_type, occurred_at, provider_event_id, details)
    VALUES (v_msg.tenant_id, v_msg.id, v_msg.campaign_id, v_msg.step_id, v_msg.contact_id, p_event_type,
            coalesce(p_occurred_at, now()), v_provider, p_details)
    ON CONFLICT (tenant_id, message_id, event_type, provider_event_id) WHERE provider_event_id IS NOT NULL DO NOTHING;
    GET DIAGNOSTICS v_inserted = ROW_COUNT;
    IF v_inserted = 0 THEN
        RETURN false;  -- the provider delivered this event before: counted once
    END IF;

    SELECT c.email INTO v_email FROM campaigns.contacts c WHERE c.tenant_id = v_msg.tenant_id AND c.id = v_msg.contact_id;

    CASE p_event_type
    WHEN 'delivered' THEN
        v_first := v_msg.delivered_at IS NULL;
        UPDATE campaigns.email_messages SET delivered_at = coalesce(delivered_at, p_occurred_at) WHERE id = v_msg.id;
        UPDATE campaigns.campaign_steps SET emails_delivered = emails_delivered + v_first::integer
        WHERE v_first AND tenant_id = v_msg.tenant_id AND id = v_msg.step_id;
        UPDATE campaigns.contacts SET consecutive_soft_bounces = 0
        WHERE tenant_id = v_msg.tenant_id AND id = v_msg.contact_id AND consecutive_soft_bounces <> 0;

    WHEN 'open', 'click' THEN
        -- A click without a prior open counts as an open too.
        v_first_open := v_msg.first_opened_at IS NULL;
        v_first := p_event_type = 'click' AND v_msg.first_clicked_at IS NULL;
        UPDATE campaigns.email_messages
        SET first_opened_at = coalesce(first_opened_at, p_occurred_at),
            open_count = open_count + (p_event_type = 'open')::integer,
            first_clicked_at = CASE WHEN p_event_type = 'click' THEN coalesce(first_clicked_at, p_occurred_at) ELSE first_clicked_at END,
            click_count = click_count + (p_event_type = 'click')::integer
        WHERE id = v_msg.id;
        UPDATE campaigns.campaign_steps
        SET opens = opens + v_first_open::integer, clicks = clicks + v_first::integer
        WHERE (v_first_open OR v_first) AND tenant_id = v_msg.tenant_id AND id = v_msg.step_id;

    WHEN 'reply' THEN
        v_first := v_msg.replied_at IS NULL;
        UPDATE campaigns.email_messages SET replied_at = coalesce(replied_at, p_occurred_at) WHERE id = v_msg.id;
        UPDATE campaigns.campaign_steps SET replies = replies + 1
        WHERE v_first AND tenant_id = v_msg.tenant_id AND id = v_msg.step_id;
        SELECT c.on_reply INTO v_on_reply FROM campaigns.campaigns c WHERE c.tenant_id = v_msg.tenant_id AND c.id = v_msg.campaign_id;
        IF v_on_reply = 'exit' THEN
            UPDATE campaigns.campaign_contacts
            SET status = 'exited', exit_reason = 'replied', exited_at = p_occurred_at, pause_reason = NULL,
                next_email_scheduled_at = NULL, updated_at = now()
            WHERE tenant_id = v_msg.tenant_id AND id = v_msg.enrollment_id AND status IN ('enrolled', 'active', 'paused');
            UPDATE campaigns.email_messages SET status = 'cancelled', last_error = 'replied'
            WHERE tenant_id = v_msg.tenant_id AND enrollment_id = v_msg.enrollment_id AND status = 'queued';
        ELSIF v_on_reply = 'pause' THEN
            UPDATE campaigns.campaign_contacts SET status = 'paused', pause_reason = 'reply', updated_at = now()
            WHERE tenant_id = v_msg.tenant_id AND id = v_msg.enrollment_id AND status IN ('enrolled', 'active');
        END IF;

    WHEN 'unsubscribe' THEN
        v_first := v_msg.unsubscribed_at IS NULL;
        UPDATE campaigns.email_messages SET unsubscribed_at = coalesce(unsubscribed_at, p_occurred_at) WHERE id = v_msg.id;
        UPDATE campaigns.campaign_steps SET unsubscribes = unsubscribes + 1
        WHERE v_first AND tenant_id = v_msg.tenant_id AND id = v_msg.step_id;
        UPDATE campaigns.contacts SET status = 'unsubscribed'
        WHERE tenant_id = v_msg.tenant_id AND id = v_msg.contact_id AND status = 'active';
        PERFORM campaigns._suppress(v_msg.tenant_id, v_email, 'unsubscribe', p_occurred_at);
        PERFORM campaigns._exit_contact_everywhere(v_msg.tenant_id, v_msg.contact_id, 'unsubscribed', p_occurred_at);

    WHEN 'bounce_hard' THEN
        v_first := v_msg.bounced_at IS NULL;
        UPDATE campaigns.email_messages SET bounced_at = coalesce(bounced_at, p_occurred_at) WHERE id = v_msg.id;
        UPDATE campaigns.campaign_steps SET bounces = bounces + 1
        WHERE v_first AND tenant_id = v_msg.tenant_id AND id = v_msg.step_id;
        UPDATE campaigns.contacts SET status = 'bounced'
        WHERE tenant_id = v_msg.tenant_id AND id = v_msg.contact_id AND status = 'active';
        PERFORM campaigns._suppress(v_msg.tenant_id, v_email, 'hard_bounce', p_occurred_at);
        PERFORM campaigns._exit_contact_everywhere(v_msg.tenant_id, v_msg.contact_id, 'bounced', p_occurred_at);

    WHEN 'bounce_soft' THEN
        SELECT t.soft_bounce_threshold INTO v_threshold FROM campaigns.tenants t WHERE t.id = v_msg.tenant_id;
        UPDATE campaigns.contacts SET consecutive_soft_bounces = consecutive_soft_bounces + 1
        WHERE tenant_id = v_msg.tenant_id AND id = v_msg.contact_id
        RETURNING consecutive_soft_bounces INTO v_soft;
        IF v_soft >= v_threshold THEN
            UPDATE campaigns.email_messages SET bounced_at = coalesce(bounced_at, p_occurred_at) WHERE id = v_msg.id;
            UPDATE campaigns.campaign_steps SET bounces = bounces + 1
            WHERE v_msg.bounced_at IS NULL AND tenant_id = v_msg.tenant_id AND id = v_msg.step_id;
            UPDATE campaigns.contacts SET status = 'bounced'
            WHERE tenant_id = v_msg.tenant_id AND id = v_msg.contact_id AND status = 'active';
            PERFORM campaigns._suppress(v_msg.tenant_id, v_email, 'soft_bounce', p_occurred_at);
            PERFORM campaigns._exit_contact_everywhere(v_msg.tenant_id, v_msg.contact_id, 'bounced', p_occurred_at);
        END IF;

    WHEN 'complaint' THEN
        UPDATE campaigns.email_messages SET complained_at = coalesce(complained_at, p_occurred_at) WHERE id = v_msg.id;
        UPDATE campaigns.contacts SET status = 'unsubscribed'
        WHERE tenant_id = v_msg.tenant_id AND id = v_msg.contact_id AND status = 'active';
        -- Platform-wide: no tenant may mail this address again.
        INSERT INTO campaigns.global_suppressions (email, reason, source_tenant_id, added_at)
        VALUES (v_email, 'complaint', v_msg.tenant_id, p_occurred_at)
        ON CONFLICT (lower(email)) DO NOTHING;
        PERFORM campaigns._exit_contact_everywhere(v_msg.tenant_id, v_msg.contact_id, 'complained', p_occurred_at);
        PERFORM pg_notify('campaigns_alerts', json_build_object(
            'kind', 'complaint', 'tenant_id', v_msg.tenant_id, 'campaign_id', v_msg.campaign_id,
            'message_id', v_msg.id)::text);
    END CASE;
    RETURN true;
END
$$;

COMMENT ON FUNCTION campaigns.record_email_event(p_message_id uuid, p_event_type text, p_occurred_at timestamp with time zone, p_details jsonb) IS 'Records one event of a sent message (delivered, open, click, reply, bounce_hard, bounce_soft, complaint, unsubscribe) and applies it: first open/click/reply times and unique step counters (a click implies an open); reply exits the enrollment (or pauses it / continues per campaigns.on_reply); unsubscribe suppresses for the tenant and exits the contact from every campaign, cancelling queued mail; a hard bounce, or the tenant''s threshold of consecutive soft bounces, suppresses and exits with reason bounced; a complaint suppresses globally and exits. A repeat of a provider event (details.provider_event_id) returns false and changes nothing. QC401 for an unknown type, QC404 for an unknown message.';

CREATE FUNCTION campaigns.resume_campaign(p_campaign_id uuid, p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_campaign campaigns.campaigns;
    v_resumed  integer;
BEGIN
    v_campaign := campaigns._lock_campaign(p_campaign_id, ARRAY['paused'], 'resume');
    IF v_campaign.end_date <= p_as_of THEN
        RAISE EXCEPTION USING ERRCODE = 'QC409', MESSAGE = 'cannot resume a campaign past its end date',
            DETAIL = format('campaign_id=%s end_date=%s', p_campaign_id, v_campaign.end_date),
            HINT = 'complete_finished_campaigns completes it; clone it to send again.';
    END IF;
    UPDATE campaigns.campaigns SET status = 'active' WHERE id = p_campaign_id;
    -- Only the enrollments the campaign pause paused; those paused on their own (reply, by hand)
    -- stay paused. Overdue ones become due now and are paced by the daily limit and the window
    -- when processed, so resume is not a burst.
    UPDATE campaigns.campaign_contacts
    SET status = CASE WHEN started_at IS NULL THEN 'enrolled' ELSE 'active' END,
        pause_reason = NULL,
        updated_at = now()
    WHERE tenant_id = v_campaign.tenant_id AND campaign_id = p_campaign_id
      AND status = 'paused' AND pause_reason = 'campaign';
    GET DIAGNOSTICS v_resumed = ROW_COUNT;
    RETURN v_resumed;
END
$$;

COMMENT ON FUNCTION campaigns.resume_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) IS 'Resumes a paused campaign (QC409 from any other status, or when its end_date is at or before p_as_of): enrollments paused with the campaign are released, those paused individually stay paused. Overdue enrollments are paced by the daily limit and sending window when processed. Returns the number released.';

CREATE FUNCTION campaigns.rollup_analytics(p_day date DEFAULT NULL::date, p_days_back integer DEFAULT 0) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_last  date := coalesce(p_day, (now() AT TIME ZONE 'UTC')::date - 1);
    v_first date;
    v_rows  integer;
BEGIN
    IF p_days_back IS NULL OR p_days_back < 0 OR p_days_back > 366 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'p_days_back must be between 0 and 366';
    END IF;
    -- Singleton: a second concurrent run (cron plus a DBA) returns at once.
    IF NOT pg_try_advisory_xact_lock(hashtext('campaigns.rollup_analytics')) THEN
        RETURN 0;
    END IF;
    v_first := v_last - p_days_back;

    -- Each count is attributed to the UTC day it happened: sends by sent_at, unique opens/clicks by
    -- the message's first open/click, totals by the events of that day. Every campaign with any
    -- activity that day gets a row, whatever its status (paused ones included).
    WITH bounds AS (
        SELECT d::date AS day, (d::date)::timestamp AT TIME ZONE 'UTC' AS lo, (d::date + 1)::timestamp AT TIME ZONE 'UTC' AS hi
        FROM generate_series(v_first, v_last, interval '1 day') d
    ), sent AS (
        SELECT m.tenant_id, m.campaign_id, b.day, count(*) AS emails_sent
        FROM bounds b JOIN campaigns.email_messages m ON m.sent_at >= b.lo AND m.sent_at < b.hi
        GROUP BY 1, 2, 3
    ), ev AS (
        SELECT e.tenant_id, e.campaign_id, b.day,
               count(DISTINCT e.message_id) FILTER (WHERE e.event_type = 'delivered') AS emails_delivered,
               count(DISTINCT e.message_id) FILTER (WHERE e.event_type IN ('bounce_hard', 'bounce_soft')
                                                    AND m.bounced_at >= b.lo AND m.bounced_at < b.hi) AS emails_bounced,
               count(DISTINCT e.message_id) FILTER (WHERE e.event_type IN ('open', 'click')
                                                    AND m.first_opened_at >= b.lo AND m.first_opened_at < b.hi) AS unique_opens,
               count(*) FILTER (WHERE e.event_type = 'open') AS total_opens,
               count(DISTINCT e.message_id) FILTER (WHERE e.event_type = 'click'
                                                    AND m.first_clicked_at >= b.lo AND m.first_clicked_at < b.hi) AS unique_clicks,
               count(*) FILTER (WHERE e.event_type = 'click') AS total_clicks,
               count(DISTINCT e.message_id) FILTER (WHERE e.event_type = 'reply') AS replies,
               count(DISTINCT e.message_id) FILTER (WHERE e.event_type = 'complaint') AS spam_complaints,
               count(DISTINCT e.message_id) FILTER (WHERE e.event_type = 'unsubscribe') AS unsubscribes
        FROM bounds b
        JOIN campaigns.email_events e ON e.occurred_at >= b.lo AND e.occurred_at < b.hi
        JOIN campaigns.email_messages m ON m.tenant_id = e.tenant_id AND m.id = e.message_id
        GROUP BY 1, 2, 3
    ), totals AS (
        SELECT coalesce(s.tenant_id, v.tenant_id) AS tenant_id, coalesce(s.campaign_id, v.campaign_id) AS campaign_id,
               coalesce(s.day, v.day) AS day,
               coalesce(s.emails_sent, 0) AS emails_sent, coalesce(v.emails_delivered, 0) AS emails_delivered,
               coalesce(v.emails_bounced, 0) AS emails_bounced, coalesce(v.unique_opens, 0) AS unique_opens,
               coalesce(v.total_opens, 0) AS total_opens, coalesce(v.unique_clicks, 0) AS unique_clicks,
               coalesce(v.total_clicks, 0) AS total_clicks, coalesce(v.replies, 0) AS replies,
               coalesce(v.spam_complaints, 0) AS spam_complaints, coalesce(v.unsubscribes, 0) AS unsubscribes
        FROM sent s FULL JOIN ev v ON v.tenant_id = s.tenant_id AND v.campaign_id = s.campaign_id AND v.day = s.day
    )
    INSERT INTO campaigns.campaign_analytics AS a (
        tenant_id, campaign_id, date, emails_sent, emails_delivered, emails_bounced, unique_opens, total_opens,
        unique_clicks, total_clicks, replies, spam_complaints, unsubscribes, delivery_rate, open_rate, click_rate,
        click_to_open_rate, reply_rate, unsubscribe_rate, bounce_rate, complaint_rate, calculated_at)
    SELECT t.tenant_id, t.campaign_id, t.day, t.emails_sent, t.emails_delivered, t.emails_bounced, t.unique_opens,
           t.total_opens, t.unique_clicks, t.total_clicks, t.replies, t.spam_complaints, t.unsubscribes,
           campaigns._rate(t.emails_delivered, t.emails_sent), campaigns._rate(t.unique_opens, t.emails_delivered),
           campaigns._rate(t.unique_clicks, t.emails_delivered), campaigns._rate(t.unique_clicks, t.unique_opens),
           campaigns._rate(t.replies, t.emails_delivered), campaigns._rate(t.unsubscribes, t.emails_delivered),
           campaigns._rate(t.emails_bounced, t.emails_sent), campaigns._rate(t.spam_complaints, t.emails_delivered),
           now()
    FROM totals t
    ON CONFLICT ON CONSTRAINT uq_campaign_analytics_day DO UPDATE
    SET emails_sent = EXCLUDED.emails_sent, emails_delivered = EXCLUDED.emails_delivered,
        emails_bounced = EXCLUDED.emails_bounced, unique_opens = EXCLUDED.unique_opens,
        total_opens = EXCLUDED.total_opens, unique_clicks = EXCLUDED.unique_clicks,
        total_clicks = EXCLUDED.total_clicks, replies = EXCLUDED.replies,
        spam_complaints = EXCLUDED.spam_complaints, unsubscribes = EXCLUDED.unsubscribes,
        delivery_rate = EXCLUDED.delivery_rate, open_rate = EXCLUDED.open_rate, click_rate = EXCLUDED.click_rate,
        click_to_open_rate = EXCLUDED.click_to_open_rate, reply_rate = EXCLUDED.reply_rate,
        unsubscribe_rate = EXCLUDED.unsubscribe_rate, bounce_rate = EXCLUDED.bounce_rate,
        complaint_rate = EXCLUDED.complaint_rate, calculated_at = EXCLUDED.calculated_at
    -- A re-run that finds the same counts leaves the row (and its calculated_at) untouched.
    WHERE (a.emails_sent, a.emails_delivered, a.emails_bounced, a.unique_opens, a.total_opens, a.unique_clicks,
           a.total_clicks, a.replies, a.spam_complaints, a.unsubscribes)
          IS DISTINCT FROM
          (EXCLUDED.emails_sent, EXCLUDED.emails_delivered, EXCLUDED.emails_bounced, EXCLUDED.unique_opens,
           EXCLUDED.total_opens, EXCLUDED.unique_clicks, EXCLUDED.total_clicks, EXCLUDED.replies,
           EXCLUDED.spam_complaints, EXCLUDED.unsubscribes);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;

COMMENT ON FUNCTION campaigns.rollup_analytics(p_day date, p_days_back integer) IS 'Upserts one campaign_analytics row per campaign and UTC day for p_day (NULL = yesterday in UTC) and the p_days_back days before it, so late events count. Rates are percentages rounded to 2 decimals (opens, clicks, replies, unsubscribes, complaints per delivered; delivery and bounce per sent; click-to-open = unique clicks / unique opens; 0 when the denominator is 0). Re-running with unchanged data changes nothing. Singleton (advisory lock): returns 0 when another run holds it; otherwise the number of rows written.';

CREATE FUNCTION campaigns.schedule_campaign(p_campaign_id uuid, p_start timestamp with time zone, p_as_of timestamp with time zone DEFAULT now()) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
BEGIN
    IF p_start IS NULL OR p_start <= p_as_of THEN
        RAISE EXCEPTION USING ERRCODE = 'QC301', MESSAGE = 'the start time must be in the future',
            DETAIL = format('start=%s as_of=%s', p_start, p_as_of);
    END IF;
    PERFORM campaigns._lock_campaign(p_campaign_id, ARRAY['draft', 'scheduled'], 'schedule');
    UPDATE campaigns.campaigns SET status = 'scheduled', scheduled_at = p_start, schedule_error = NULL
    WHERE id = p_campaign_id;
END
$$;

COMMENT ON FUNCTION campaigns.schedule_campaign(p_campaign_id uuid, p_start timestamp with time zone, p_as_of timestamp with time zone) IS 'Schedules a draft campaign (or moves an existing schedule) to launch at p_start, which must be after p_as_of (QC301). launch_scheduled_campaigns launches it once due.';

CREATE FUNCTION campaigns.schedule_jobs(p_step_schedule text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
DECLARE
    v_step_schedule text;
    v_jobs text[][] ;
BEGIN
    IF to_regclass('cron.job') IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC409', MESSAGE = 'pg_cron is not installed in this database',
            HINT = 'CREATE EXTENSION pg_cron in the database named by cron.database_name.';
    END IF;
    -- An explicit interval wins; otherwise keep the one in place (the demo runs every minute), else 5 minutes.
    SELECT coalesce(p_step_schedule, (SELECT schedule FROM cron.job WHERE jobname = 'campaigns.process_due_steps'), '*/5 * * * *')
      INTO v_step_schedule;
    v_jobs := ARRAY[
        ARRAY['campaigns.process_due_steps',           v_step_schedule, 'SELECT campaigns.process_due_steps()'],
        ARRAY['campaigns.launch_scheduled_campaigns',  '* * * * *',     'SELECT campaigns.launch_scheduled_campaigns()'],
        ARRAY['campaigns.complete_finished_campaigns', '0 * * * *',     'SELECT campaigns.complete_finished_campaigns()'],
        ARRAY['campaigns.rollup_analytics',            '0 2 * * *',     'SELECT campaigns.rollup_analytics(NULL, 7)']
    ];
    PERFORM cron.schedule(v_jobs[i][1], v_jobs[i][2], v_jobs[i][3]) FROM generate_subscripts(v_jobs, 1) AS i;
    -- Jobs of ours that are no longer in the list are removed.
    PERFORM cron.unschedule(jobid) FROM cron.job
    WHERE jobname LIKE 'campaigns.%' AND jobname <> ALL (SELECT v_jobs[i][1] FROM generate_subscripts(v_jobs, 1) AS i);
END
$$;

COMMENT ON FUNCTION campaigns.schedule_jobs(p_step_schedule text) IS 'Installs the engine''s pg_cron jobs idempotently: process_due_steps (every 5 minutes unless p_step_schedule or the current job says otherwise), launch_scheduled_campaigns every minute, complete_finished_campaigns hourly, rollup_analytics (yesterday and the 7 days before) daily at 02:00 UTC. Run in the database named by cron.database_name.';

CREATE FUNCTION campaigns.unschedule_campaign(p_campaign_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS $$
BEGIN
    PERFORM campaigns._lock_campaign(p_campaign_id, ARRAY['scheduled'], 'unschedule');
    UPDATE campaigns.campaigns SET status = 'draft', scheduled_at = NULL WHERE id = p_campaign_id;
END
$$;

COMMENT ON FUNCTION campaigns.unschedule_campaign(p_campaign_id uuid) IS 'Cancels the schedule of a scheduled campaign, returning it to draft (QC409 otherwise).';

CREATE TABLE campaigns.api_keys (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    user_id uuid NOT NULL,
    name text DEFAULT 'default'::text NOT NULL,
    key_prefix text NOT NULL,
    key_hash bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_used_at timestamp with time zone,
    revoked_at timestamp with time zone,
    CONSTRAINT ck_api_keys_hash_length CHECK ((octet_length(key_hash) = 32))
);

CREATE TABLE campaigns.campaign_analytics (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    date date NOT NULL,
    emails_sent integer DEFAULT 0 NOT NULL,
    emails_delivered integer DEFAULT 0 NOT NULL,
    emails_bounced integer DEFAULT 0 NOT NULL,
    unique_opens integer DEFAULT 0 NOT NULL,
    total_opens integer DEFAULT 0 NOT NULL,
    unique_clicks integer DEFAULT 0 NOT NULL,
    total_clicks integer DEFAULT 0 NOT NULL,
    replies integer DEFAULT 0 NOT NULL,
    spam_complaints integer DEFAULT 0 NOT NULL,
    unsubscribes integer DEFAULT 0 NOT NULL,
    delivery_rate numeric(5,2) DEFAULT 0 NOT NULL,
    open_rate numeric(5,2) DEFAULT 0 NOT NULL,
    click_rate numeric(5,2) DEFAULT 0 NOT NULL,
    click_to_open_rate numeric(5,2) DEFAULT 0 NOT NULL,
    reply_rate numeric(5,2) DEFAULT 0 NOT NULL,
    unsubscribe_rate numeric(5,2) DEFAULT 0 NOT NULL,
    bounce_rate numeric(5,2) DEFAULT 0 NOT NULL,
    complaint_rate numeric(5,2) DEFAULT 0 NOT NULL,
    calculated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE campaigns.campaign_approvals (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    approver_id uuid NOT NULL,
    approval_role text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    round integer DEFAULT 1 NOT NULL,
    comments text,
    requested_by uuid,
    requested_at timestamp with time zone DEFAULT now() NOT NULL,
    reviewed_at timestamp with time zone,
    CONSTRAINT ck_campaign_approvals_reviewed CHECK (((status = 'pending'::text) = (reviewed_at IS NULL))),
    CONSTRAINT ck_campaign_approvals_role CHECK ((approval_role = ANY (ARRAY['campaign_manager'::text, 'compliance_officer'::text]))),
    CONSTRAINT ck_campaign_approvals_round CHECK ((round >= 1)),
    CONSTRAINT ck_campaign_approvals_status CHECK ((status = ANY (ARRAY['pending'::text, 'approved'::text, 'rejected'::text])))
);

CREATE TABLE campaigns.campaign_contacts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    status text DEFAULT 'enrolled'::text NOT NULL,
    pause_reason text,
    current_step_id uuid,
    enrolled_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    completed_at timestamp with time zone,
    exited_at timestamp with time zone,
    exit_reason text,
    steps_completed integer DEFAULT 0 NOT NULL,
    last_email_sent_at timestamp with time zone,
    next_email_scheduled_at timestamp with time zone,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_campaign_contacts_completed CHECK (((status <> 'completed'::text) OR (completed_at IS NOT NULL))),
    CONSTRAINT ck_campaign_contacts_exited CHECK (((status = 'exited'::text) = ((exited_at IS NOT NULL) AND (exit_reason IS NOT NULL)))),
    CONSTRAINT ck_campaign_contacts_pause_reason CHECK ((((status = 'paused'::text) = (pause_reason IS NOT NULL)) AND ((pause_reason IS NULL) OR (pause_reason = ANY (ARRAY['campaign'::text, 'reply'::text, 'manual'::text]))))),
    CONSTRAINT ck_campaign_contacts_status CHECK ((status = ANY (ARRAY['enrolled'::text, 'active'::text, 'paused'::text, 'completed'::text, 'exited'::text]))),
    CONSTRAINT ck_campaign_contacts_steps_completed CHECK ((steps_completed >= 0))
);

CREATE TABLE campaigns.campaign_steps (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    step_order integer NOT NULL,
    step_name text,
    step_type text NOT NULL,
    template_id uuid,
    subject_line text,
    email_content text,
    wait_duration_value integer,
    wait_duration_unit text,
    condition_rules jsonb,
    email_step_id uuid,
    true_next_step_id uuid,
    false_next_step_id uuid,
    action_type text,
    action_config jsonb DEFAULT '{}'::jsonb NOT NULL,
    next_step_id uuid,
    emails_sent integer DEFAULT 0 NOT NULL,
    emails_delivered integer DEFAULT 0 NOT NULL,
    opens integer DEFAULT 0 NOT NULL,
    clicks integer DEFAULT 0 NOT NULL,
    replies integer DEFAULT 0 NOT NULL,
    unsubscribes integer DEFAULT 0 NOT NULL,
    bounces integer DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_campaign_steps_action CHECK (((step_type <> 'action'::text) OR (action_type = ANY (ARRAY['add_tag'::text, 'remove_tag'::text, 'update_field'::text, 'adjust_score'::text, 'exit'::text, 'move_to_campaign'::text, 'notify'::text])))),
    CONSTRAINT ck_campaign_steps_action_config CHECK ((jsonb_typeof(action_config) = 'object'::text)),
    CONSTRAINT ck_campaign_steps_condition CHECK (((step_type <> 'condition'::text) OR ((jsonb_typeof(condition_rules) = 'object'::text) AND (next_step_id IS NULL)))),
    CONSTRAINT ck_campaign_steps_counters CHECK (((emails_sent >= 0) AND (emails_delivered >= 0) AND (opens >= 0) AND (clicks >= 0) AND (replies >= 0) AND (unsubscribes >= 0) AND (bounces >= 0))),
    CONSTRAINT ck_campaign_steps_email CHECK (((step_type <> 'email'::text) OR (template_id IS NOT NULL) OR ((subject_line IS NOT NULL) AND (email_content IS NOT NULL)))),
    CONSTRAINT ck_campaign_steps_no_self_loop CHECK (((next_step_id IS DISTINCT FROM id) AND (true_next_step_id IS DISTINCT FROM id) AND (false_next_step_id IS DISTINCT FROM id))),
    CONSTRAINT ck_campaign_steps_order CHECK ((step_order >= 1)),
    CONSTRAINT ck_campaign_steps_type CHECK ((step_type = ANY (ARRAY['email'::text, 'wait'::text, 'condition'::text, 'action'::text]))),
    CONSTRAINT ck_campaign_steps_wait CHECK (((step_type <> 'wait'::text) OR ((wait_duration_value > 0) AND (wait_duration_unit = ANY (ARRAY['minutes'::text, 'hours'::text, 'days'::text, 'weeks'::text]))))),
    CONSTRAINT ck_campaign_steps_wait_unit CHECK (((wait_duration_unit IS NULL) OR (wait_duration_unit = ANY (ARRAY['minutes'::text, 'hours'::text, 'days'::text, 'weeks'::text]))))
);

CREATE TABLE campaigns.email_events (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    message_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    step_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    event_type text NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    provider_event_id text,
    details jsonb DEFAULT '{}'::jsonb NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_email_events_details CHECK ((jsonb_typeof(details) = 'object'::text)),
    CONSTRAINT ck_email_events_type CHECK ((event_type = ANY (ARRAY['delivered'::text, 'open'::text, 'click'::text, 'reply'::text, 'bounce_hard'::text, 'bounce_soft'::text, 'complaint'::text, 'unsubscribe'::text])))
);

CREATE TABLE campaigns.email_messages (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    step_id uuid NOT NULL,
    enrollment_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    sender_account_id uuid,
    to_email text NOT NULL,
    status text DEFAULT 'queued'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    max_attempts integer DEFAULT 3 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    locked_at timestamp with time zone,
    locked_by text,
    lease_expires_at timestamp with time zone,
    smtp_message_id text NOT NULL,
    smtp_response text,
    last_error text,
    queued_at timestamp with time zone DEFAULT now() NOT NULL,
    sent_at timestamp with time zone,
    delivered_at timestamp with time zone,
    first_opened_at timestamp with time zone,
    first_clicked_at timestamp with time zone,
    replied_at timestamp with time zone,
    bounced_at timestamp with time zone,
    unsubscribed_at timestamp with time zone,
    complained_at timestamp with time zone,
    open_count integer DEFAULT 0 NOT NULL,
    click_count integer DEFAULT 0 NOT NULL,
    CONSTRAINT ck_email_messages_attempts CHECK (((attempts >= 0) AND (max_attempts >= 1))),
    CONSTRAINT ck_email_messages_counts CHECK (((open_count >= 0) AND (click_count >= 0))),
    CONSTRAINT ck_email_messages_lease CHECK (((status = 'sending'::text) = (lease_expires_at IS NOT NULL))),
    CONSTRAINT ck_email_messages_sent CHECK (((status <> 'sent'::text) OR (sent_at IS NOT NULL))),
    CONSTRAINT ck_email_messages_status CHECK ((status = ANY (ARRAY['queued'::text, 'sending'::text, 'sent'::text, 'failed'::text, 'cancelled'::text])))
);

CREATE TABLE campaigns.global_suppressions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email text NOT NULL,
    reason text NOT NULL,
    source_tenant_id uuid,
    added_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone,
    CONSTRAINT ck_global_suppressions_email CHECK ((email ~ '^[^@\s]+@[^@\s]+$'::text)),
    CONSTRAINT ck_global_suppressions_reason CHECK ((reason = ANY (ARRAY['complaint'::text, 'abuse'::text, 'manual'::text])))
);

CREATE TABLE campaigns.segment_contacts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    segment_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    added_at timestamp with time zone DEFAULT now() NOT NULL,
    added_via text DEFAULT 'manual'::text NOT NULL,
    CONSTRAINT ck_segment_contacts_added_via CHECK ((added_via = ANY (ARRAY['rule_match'::text, 'manual'::text, 'import'::text])))
);

CREATE TABLE campaigns.segments (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    workspace_id uuid,
    name text NOT NULL,
    description text,
    segment_type text DEFAULT 'static'::text NOT NULL,
    rules jsonb,
    contact_count integer DEFAULT 0 NOT NULL,
    last_recalculated_at timestamp with time zone,
    is_active boolean DEFAULT true NOT NULL,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_segments_name CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 255))),
    CONSTRAINT ck_segments_rules CHECK (((segment_type = 'static'::text) OR (jsonb_typeof(rules) = 'object'::text))),
    CONSTRAINT ck_segments_type CHECK ((segment_type = ANY (ARRAY['static'::text, 'dynamic'::text])))
);

CREATE TABLE campaigns.sender_accounts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    workspace_id uuid,
    from_email text NOT NULL,
    from_name text,
    reply_to_email text,
    daily_limit integer,
    min_gap_seconds integer,
    last_slot_at timestamp with time zone,
    is_active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_sender_accounts_daily_limit CHECK (((daily_limit IS NULL) OR (daily_limit > 0))),
    CONSTRAINT ck_sender_accounts_from_email CHECK ((from_email ~ '^[^@\s]+@[^@\s]+$'::text)),
    CONSTRAINT ck_sender_accounts_min_gap CHECK (((min_gap_seconds IS NULL) OR (min_gap_seconds > 0))),
    CONSTRAINT ck_sender_accounts_reply_to CHECK (((reply_to_email IS NULL) OR (reply_to_email ~ '^[^@\s]+@[^@\s]+$'::text)))
);

CREATE TABLE campaigns.suppression_audit (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    email text NOT NULL,
    action text NOT NULL,
    reason text NOT NULL,
    actor_id uuid,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_suppression_audit_action CHECK ((action = ANY (ARRAY['added'::text, 'removed'::text]))),
    CONSTRAINT ck_suppression_audit_reason CHECK ((length(btrim(reason)) > 0))
);

CREATE TABLE campaigns.suppressions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    email text NOT NULL,
    reason text NOT NULL,
    source text,
    added_by uuid,
    added_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone,
    CONSTRAINT ck_suppressions_email CHECK ((email ~ '^[^@\s]+@[^@\s]+$'::text)),
    CONSTRAINT ck_suppressions_reason CHECK ((reason = ANY (ARRAY['unsubscribe'::text, 'hard_bounce'::text, 'soft_bounce'::text, 'complaint'::text, 'manual'::text, 'import'::text])))
);

CREATE TABLE campaigns.templates (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    workspace_id uuid,
    name text NOT NULL,
    subject text DEFAULT ''::text NOT NULL,
    html_content text,
    text_content text,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_templates_body CHECK (((html_content IS NOT NULL) OR (text_content IS NOT NULL))),
    CONSTRAINT ck_templates_name CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 255)))
);

CREATE TABLE campaigns.tenants (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    monthly_email_quota integer,
    max_send_rate_per_second numeric(10,2),
    soft_bounce_threshold integer DEFAULT 3 NOT NULL,
    settings jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_tenants_name CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 255))),
    CONSTRAINT ck_tenants_quota CHECK (((monthly_email_quota IS NULL) OR (monthly_email_quota > 0))),
    CONSTRAINT ck_tenants_rate CHECK (((max_send_rate_per_second IS NULL) OR (max_send_rate_per_second > (0)::numeric))),
    CONSTRAINT ck_tenants_settings CHECK ((jsonb_typeof(settings) = 'object'::text)),
    CONSTRAINT ck_tenants_soft_bounce_threshold CHECK ((soft_bounce_threshold > 0))
);

CREATE TABLE campaigns.timezone_names (
    name text NOT NULL
);

CREATE TABLE campaigns.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    email text NOT NULL,
    name text,
    role text DEFAULT 'member'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_users_email CHECK ((email ~ '^[^@\s]+@[^@\s]+$'::text)),
    CONSTRAINT ck_users_role CHECK ((role = ANY (ARRAY['admin'::text, 'member'::text])))
);

CREATE TABLE campaigns.workspaces (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    name text NOT NULL,
    slug text NOT NULL,
    timezone text DEFAULT 'UTC'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_workspaces_name CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 255))),
    CONSTRAINT ck_workspaces_slug CHECK ((slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'::text))
);

ALTER TABLE ONLY campaigns.api_keys
    ADD CONSTRAINT pk_api_keys PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.campaign_analytics
    ADD CONSTRAINT pk_campaign_analytics PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.campaign_approvals
    ADD CONSTRAINT pk_campaign_approvals PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.campaign_contacts
    ADD CONSTRAINT pk_campaign_contacts PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.campaign_steps
    ADD CONSTRAINT pk_campaign_steps PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.campaigns
    ADD CONSTRAINT pk_campaigns PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.contacts
    ADD CONSTRAINT pk_contacts PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.email_events
    ADD CONSTRAINT pk_email_events PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.email_messages
    ADD CONSTRAINT pk_email_messages PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.global_suppressions
    ADD CONSTRAINT pk_global_suppressions PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.segment_contacts
    ADD CONSTRAINT pk_segment_contacts PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.segments
    ADD CONSTRAINT pk_segments PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.sender_accounts
    ADD CONSTRAINT pk_sender_accounts PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.suppression_audit
    ADD CONSTRAINT pk_suppression_audit PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.suppressions
    ADD CONSTRAINT pk_suppressions PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.templates
    ADD CONSTRAINT pk_templates PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.tenants
    ADD CONSTRAINT pk_tenants PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.timezone_names
    ADD CONSTRAINT pk_timezone_names PRIMARY KEY (name);

ALTER TABLE ONLY campaigns.users
    ADD CONSTRAINT pk_users PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.workspaces
    ADD CONSTRAINT pk_workspaces PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.api_keys
    ADD CONSTRAINT uq_api_keys_key_hash UNIQUE (key_hash);

ALTER TABLE ONLY campaigns.campaign_analytics
    ADD CONSTRAINT uq_campaign_analytics_day UNIQUE (tenant_id, campaign_id, date);

ALTER TABLE ONLY campaigns.campaign_approvals
    ADD CONSTRAINT uq_campaign_approvals_round UNIQUE (tenant_id, campaign_id, approver_id, approval_role, round);

ALTER TABLE ONLY campaigns.campaign_contacts
    ADD CONSTRAINT uq_campaign_contacts_contact UNIQUE (tenant_id, campaign_id, contact_id);

ALTER TABLE ONLY campaigns.campaign_contacts
    ADD CONSTRAINT uq_campaign_contacts_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.campaign_steps
    ADD CONSTRAINT uq_campaign_steps_campaign_id UNIQUE (tenant_id, campaign_id, id);

ALTER TABLE ONLY campaigns.campaign_steps
    ADD CONSTRAINT uq_campaign_steps_order UNIQUE (tenant_id, campaign_id, step_order) DEFERRABLE;

ALTER TABLE ONLY campaigns.campaign_steps
    ADD CONSTRAINT uq_campaign_steps_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.campaigns
    ADD CONSTRAINT uq_campaigns_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.contacts
    ADD CONSTRAINT uq_contacts_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.email_messages
    ADD CONSTRAINT uq_email_messages_enrollment_step UNIQUE (tenant_id, enrollment_id, step_id);

ALTER TABLE ONLY campaigns.email_messages
    ADD CONSTRAINT uq_email_messages_smtp_message_id UNIQUE (smtp_message_id);

ALTER TABLE ONLY campaigns.email_messages
    ADD CONSTRAINT uq_email_messages_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.segment_contacts
    ADD CONSTRAINT uq_segment_contacts_member UNIQUE (tenant_id, segment_id, contact_id);

ALTER TABLE ONLY campaigns.segments
    ADD CONSTRAINT uq_segments_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.sender_accounts
    ADD CONSTRAINT uq_sender_accounts_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.templates
    ADD CONSTRAINT uq_templates_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.users
    ADD CONSTRAINT uq_users_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.workspaces
    ADD CONSTRAINT uq_workspaces_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.workspaces
    ADD CONSTRAINT uq_workspaces_tenant_slug UNIQUE (tenant_id, slug);

CREATE INDEX ix_api_keys_tenant ON campaigns.api_keys USING btree (tenant_id);

CREATE INDEX ix_campaign_analytics_campaign_date ON campaigns.campaign_analytics USING btree (campaign_id, date);

CREATE INDEX ix_campaign_approvals_campaign ON campaigns.campaign_approvals USING btree (tenant_id, campaign_id, status);

CREATE INDEX ix_campaign_approvals_pending ON campaigns.campaign_approvals USING btree (requested_at) WHERE (status = 'pending'::text);

CREATE INDEX ix_campaign_contacts_campaign_status ON campaigns.campaign_contacts USING btree (tenant_id, campaign_id, status);

CREATE INDEX ix_campaign_contacts_contact ON campaigns.campaign_contacts USING btree (tenant_id, contact_id);

CREATE INDEX ix_campaign_contacts_due ON campaigns.campaign_contacts USING btree (next_email_scheduled_at) WHERE (status = ANY (ARRAY['enrolled'::text, 'active'::text]));

CREATE INDEX ix_campaigns_scheduled ON campaigns.campaigns USING btree (scheduled_at) WHERE (status = 'scheduled'::text);

CREATE INDEX ix_campaigns_segment ON campaigns.campaigns USING btree (tenant_id, segment_id);

CREATE INDEX ix_campaigns_tenant_status ON campaigns.campaigns USING btree (tenant_id, status);

CREATE INDEX ix_contacts_custom_fields ON campaigns.contacts USING gin (custom_fields jsonb_path_ops);

CREATE INDEX ix_contacts_tags ON campaigns.contacts USING gin (tags);

CREATE INDEX ix_email_events_message ON campaigns.email_events USING btree (tenant_id, message_id);

CREATE INDEX ix_email_events_occurred ON campaigns.email_events USING btree (occurred_at);

CREATE INDEX ix_email_messages_campaign_queued ON campaigns.email_messages USING btree (tenant_id, campaign_id, queued_at);

CREATE INDEX ix_email_messages_claim ON campaigns.email_messages USING btree (next_attempt_at) WHERE (status = 'queued'::text);

CREATE INDEX ix_email_messages_contact ON campaigns.email_messages USING btree (tenant_id, contact_id);

CREATE INDEX ix_email_messages_lease ON campaigns.email_messages USING btree (lease_expires_at) WHERE (status = 'sending'::text);

CREATE INDEX ix_email_messages_sender_queued ON campaigns.email_messages USING btree (tenant_id, sender_account_id, queued_at) WHERE (sender_account_id IS NOT NULL);

CREATE INDEX ix_email_messages_sent_at ON campaigns.email_messages USING btree (sent_at) WHERE (sent_at IS NOT NULL);

CREATE INDEX ix_segment_contacts_contact ON campaigns.segment_contacts USING btree (tenant_id, contact_id);

CREATE INDEX ix_suppression_audit_tenant ON campaigns.suppression_audit USING btree (tenant_id, at);

CREATE UNIQUE INDEX uq_contacts_tenant_email ON campaigns.contacts USING btree (tenant_id, lower(email));

CREATE UNIQUE INDEX uq_email_events_provider_event ON campaigns.email_events USING btree (tenant_id, message_id, event_type, provider_event_id) WHERE (provider_event_id IS NOT NULL);

CREATE UNIQUE INDEX uq_global_suppressions_email ON campaigns.global_suppressions USING btree (lower(email));

CREATE UNIQUE INDEX uq_sender_accounts_tenant_from ON campaigns.sender_accounts USING btree (tenant_id, lower(from_email));

CREATE UNIQUE INDEX uq_suppressions_tenant_email ON campaigns.suppressions USING btree (tenant_id, lower(email));

CREATE UNIQUE INDEX uq_users_tenant_email ON campaigns.users USING btree (tenant_id, lower(email));

CREATE TRIGGER trg_campaign_steps_touch BEFORE UPDATE ON campaigns.campaign_steps FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_campaign_steps_validate AFTER INSERT OR UPDATE OF campaign_id, step_type, condition_rules, email_step_id, action_type, action_config, next_step_id, true_next_step_id, false_next_step_id ON campaigns.campaign_steps FOR EACH ROW EXECUTE FUNCTION campaigns._validate_step();

CREATE TRIGGER trg_campaigns_touch BEFORE UPDATE ON campaigns.campaigns FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_contacts_touch BEFORE UPDATE ON campaigns.contacts FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_segments_touch BEFORE UPDATE ON campaigns.segments FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_sender_accounts_touch BEFORE UPDATE ON campaigns.sender_accounts FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_templates_touch BEFORE UPDATE ON campaigns.templates FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_tenants_touch BEFORE UPDATE ON campaigns.tenants FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_users_touch BEFORE UPDATE ON campaigns.users FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_workspaces_touch BEFORE UPDATE ON campaigns.workspaces FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

ALTER TABLE ONLY campaigns.api_keys
    ADD CONSTRAINT fk_api_keys_user FOREIGN KEY (tenant_id, user_id) REFERENCES campaigns.users(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.campaign_analytics
    ADD CONSTRAINT fk_campaign_analytics_campaign FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns.campaigns(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.campaign_approvals
    ADD CONSTRAINT fk_campaign_approvals_approver FOREIGN KEY (tenant_id, approver_id) REFERENCES campaigns.users(tenant_id, id);

ALTER TABLE ONLY campaigns.campaign_approvals
    ADD CONSTRAINT fk_campaign_approvals_campaign FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns.campaigns(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.campaign_approvals
    ADD CONSTRAINT fk_campaign_approvals_requested_by FOREIGN KEY (tenant_id, requested_by) REFERENCES campaigns.users(tenant_id, id);

ALTER TABLE ONLY campaigns.campaign_contacts
    ADD CONSTRAINT fk_campaign_contacts_campaign FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns.campaigns(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.campaign_contacts
    ADD CONSTRAINT fk_campaign_contacts_contact FOREIGN KEY (tenant_id, contact_id) REFERENCES campaigns.contacts(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.campaign_contacts
    ADD CONSTRAINT fk_campaign_contacts_step FOREIGN KEY (tenant_id, campaign_id, current_step_id) REFERENCES campaigns.campaign_steps(tenant_id, campaign_id, id) ON DELETE SET NULL (current_step_id);

ALTER TABLE ONLY campaigns.campaign_steps
    ADD CONSTRAINT fk_campaign_steps_campaign FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns.campaigns(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.campaign_steps
    ADD CONSTRAINT fk_campaign_steps_email_step FOREIGN KEY (tenant_id, campaign_id, email_step_id) REFERENCES campaigns.campaign_steps(tenant_id, campaign_id, id) ON DELETE SET NULL (email_step_id);

ALTER TABLE ONLY campaigns.campaign_steps
    ADD CONSTRAINT fk_campaign_steps_false_next FOREIGN KEY (tenant_id, campaign_id, false_next_step_id) REFERENCES campaigns.campaign_steps(tenant_id, campaign_id, id) ON DELETE SET NULL (false_next_step_id);

ALTER TABLE ONLY campaigns.campaign_steps
    ADD CONSTRAINT fk_campaign_steps_next FOREIGN KEY (tenant_id, campaign_id, next_step_id) REFERENCES campaigns.campaign_steps(tenant_id, campaign_id, id) ON DELETE SET NULL (next_step_id);

ALTER TABLE ONLY campaigns.campaign_steps
    ADD CONSTRAINT fk_campaign_steps_template FOREIGN KEY (tenant_id, template_id) REFERENCES campaigns.templates(tenant_id, id);

ALTER TABLE ONLY campaigns.campaign_steps
    ADD CONSTRAINT fk_campaign_steps_true_next FOREIGN KEY (tenant_id, campaign_id, true_next_step_id) REFERENCES campaigns.campaign_steps(tenant_id, campaign_id, id) ON DELETE SET NULL (true_next_step_id);

ALTER TABLE ONLY campaigns.campaigns
    ADD CONSTRAINT fk_campaigns_created_by FOREIGN KEY (tenant_id, created_by) REFERENCES campaigns.users(tenant_id, id);

ALTER TABLE ONLY campaigns.campaigns
    ADD CONSTRAINT fk_campaigns_segment FOREIGN KEY (tenant_id, segment_id) REFERENCES campaigns.segments(tenant_id, id);

ALTER TABLE ONLY campaigns.campaigns
    ADD CONSTRAINT fk_campaigns_sender_account FOREIGN KEY (tenant_id, sender_account_id) REFERENCES campaigns.sender_accounts(tenant_id, id);

ALTER TABLE ONLY campaigns.campaigns
    ADD CONSTRAINT fk_campaigns_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.campaigns
    ADD CONSTRAINT fk_campaigns_timezone FOREIGN KEY (timezone) REFERENCES campaigns.timezone_names(name);

ALTER TABLE ONLY campaigns.campaigns
    ADD CONSTRAINT fk_campaigns_workspace FOREIGN KEY (tenant_id, workspace_id) REFERENCES campaigns.workspaces(tenant_id, id);

ALTER TABLE ONLY campaigns.contacts
    ADD CONSTRAINT fk_contacts_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.contacts
    ADD CONSTRAINT fk_contacts_timezone FOREIGN KEY (timezone) REFERENCES campaigns.timezone_names(name);

ALTER TABLE ONLY campaigns.email_events
    ADD CONSTRAINT fk_email_events_message FOREIGN KEY (tenant_id, message_id) REFERENCES campaigns.email_messages(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.email_messages
    ADD CONSTRAINT fk_email_messages_campaign FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns.campaigns(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.email_messages
    ADD CONSTRAINT fk_email_messages_contact FOREIGN KEY (tenant_id, contact_id) REFERENCES campaigns.contacts(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.email_messages
    ADD CONSTRAINT fk_email_messages_enrollment FOREIGN KEY (tenant_id, enrollment_id) REFERENCES campaigns.campaign_contacts(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.email_messages
    ADD CONSTRAINT fk_email_messages_sender FOREIGN KEY (tenant_id, sender_account_id) REFERENCES campaigns.sender_accounts(tenant_id, id);

ALTER TABLE ONLY campaigns.email_messages
    ADD CONSTRAINT fk_email_messages_step FOREIGN KEY (tenant_id, campaign_id, step_id) REFERENCES campaigns.campaign_steps(tenant_id, campaign_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.segment_contacts
    ADD CONSTRAINT fk_segment_contacts_contact FOREIGN KEY (tenant_id, contact_id) REFERENCES campaigns.contacts(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.segment_contacts
    ADD CONSTRAINT fk_segment_contacts_segment FOREIGN KEY (tenant_id, segment_id) REFERENCES campaigns.segments(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.segments
    ADD CONSTRAINT fk_segments_created_by FOREIGN KEY (tenant_id, created_by) REFERENCES campaigns.users(tenant_id, id);

ALTER TABLE ONLY campaigns.segments
    ADD CONSTRAINT fk_segments_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.segments
    ADD CONSTRAINT fk_segments_workspace FOREIGN KEY (tenant_id, workspace_id) REFERENCES campaigns.workspaces(tenant_id, id);

ALTER TABLE ONLY campaigns.sender_accounts
    ADD CONSTRAINT fk_sender_accounts_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.sender_accounts
    ADD CONSTRAINT fk_sender_accounts_workspace FOREIGN KEY (tenant_id, workspace_id) REFERENCES campaigns.workspaces(tenant_id, id);

ALTER TABLE ONLY campaigns.suppression_audit
    ADD CONSTRAINT fk_suppression_audit_actor FOREIGN KEY (tenant_id, actor_id) REFERENCES campaigns.users(tenant_id, id);

ALTER TABLE ONLY campaigns.suppression_audit
    ADD CONSTRAINT fk_suppression_audit_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.suppressions
    ADD CONSTRAINT fk_suppressions_added_by FOREIGN KEY (tenant_id, added_by) REFERENCES campaigns.users(tenant_id, id);

ALTER TABLE ONLY campaigns.suppressions
    ADD CONSTRAINT fk_suppressions_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.templates
    ADD CONSTRAINT fk_templates_created_by FOREIGN KEY (tenant_id, created_by) REFERENCES campaigns.users(tenant_id, id);

ALTER TABLE ONLY campaigns.templates
    ADD CONSTRAINT fk_templates_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.templates
    ADD CONSTRAINT fk_templates_workspace FOREIGN KEY (tenant_id, workspace_id) REFERENCES campaigns.workspaces(tenant_id, id);

ALTER TABLE ONLY campaigns.users
    ADD CONSTRAINT fk_users_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.workspaces
    ADD CONSTRAINT fk_workspaces_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.workspaces
    ADD CONSTRAINT fk_workspaces_timezone FOREIGN KEY (timezone) REFERENCES campaigns.timezone_names(name);

ALTER TABLE campaigns.api_keys ENABLE ROW LEVEL SECURITY;

CREATE POLICY bi_read_all ON campaigns.campaign_analytics FOR SELECT TO campaigns_readonly USING (true);

ALTER TABLE campaigns.campaign_analytics ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.campaign_approvals ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.campaign_contacts ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.campaign_steps ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.campaigns ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.contacts ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.email_events ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.email_messages ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.segment_contacts ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.segments ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.sender_accounts ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.suppression_audit ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.suppressions ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.templates ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON campaigns.api_keys TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.campaign_analytics TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.campaign_approvals TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.campaign_contacts TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.campaign_steps TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.campaigns TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.contacts TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.email_events TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.email_messages TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.segment_contacts TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.segments TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.sender_accounts TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.suppression_audit TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.suppressions TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.templates TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.tenants TO campaigns_app USING ((id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.users TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.workspaces TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

ALTER TABLE campaigns.tenants ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.users ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.workspaces ENABLE ROW LEVEL SECURITY;

GRANT USAGE ON SCHEMA campaigns TO campaigns_app;
GRANT USAGE ON SCHEMA campaigns TO campaigns_worker;
GRANT USAGE ON SCHEMA campaigns TO campaigns_readonly;

REVOKE ALL ON FUNCTION campaigns._action_config_error(p_tenant_id uuid, p_campaign_id uuid, p_action text, p_config jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._action_config_error(p_tenant_id uuid, p_campaign_id uuid, p_action text, p_config jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._action_config_error(p_tenant_id uuid, p_campaign_id uuid, p_action text, p_config jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._add_wait(p_from timestamp with time zone, p_value integer, p_unit text, p_timezone text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._add_wait(p_from timestamp with time zone, p_value integer, p_unit text, p_timezone text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._add_wait(p_from timestamp with time zone, p_value integer, p_unit text, p_timezone text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._apply_send_limits(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._apply_send_limits(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._apply_send_limits(p_as_of timestamp with time zone) TO campaigns_worker;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.contacts TO campaigns_app;

REVOKE ALL ON FUNCTION campaigns._condition_holds(p_rules jsonb, p_scope_step_id uuid, p_tenant_id uuid, p_enrollment_id uuid, p_contact campaigns.contacts) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._condition_holds(p_rules jsonb, p_scope_step_id uuid, p_tenant_id uuid, p_enrollment_id uuid, p_contact campaigns.contacts) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._condition_holds(p_rules jsonb, p_scope_step_id uuid, p_tenant_id uuid, p_enrollment_id uuid, p_contact campaigns.contacts) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._condition_rules_error(p_rules jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._condition_rules_error(p_rules jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._condition_rules_error(p_rules jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._contact_attribute_holds(p_rules jsonb, p_contact campaigns.contacts) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._contact_attribute_holds(p_rules jsonb, p_contact campaigns.contacts) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._contact_attribute_holds(p_rules jsonb, p_contact campaigns.contacts) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._end_expired_campaigns(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._end_expired_campaigns(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._end_expired_campaigns(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._exit_contact_everywhere(p_tenant_id uuid, p_contact_id uuid, p_reason text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._exit_contact_everywhere(p_tenant_id uuid, p_contact_id uuid, p_reason text, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._exit_contact_everywhere(p_tenant_id uuid, p_contact_id uuid, p_reason text, p_as_of timestamp with time zone) TO campaigns_worker;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.campaigns TO campaigns_app;

REVOKE ALL ON FUNCTION campaigns._first_due_at(p_campaign campaigns.campaigns, p_contact_id uuid, p_timezone text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._first_due_at(p_campaign campaigns.campaigns, p_contact_id uuid, p_timezone text, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._first_due_at(p_campaign campaigns.campaigns, p_contact_id uuid, p_timezone text, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._is_suppressed(p_tenant_id uuid, p_email text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._is_suppressed(p_tenant_id uuid, p_email text, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._is_suppressed(p_tenant_id uuid, p_email text, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._lock_campaign(p_campaign_id uuid, p_allowed text[], p_action text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._lock_campaign(p_campaign_id uuid, p_allowed text[], p_action text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._lock_campaign(p_campaign_id uuid, p_allowed text[], p_action text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._mint_api_key(p_tenant_id uuid, p_user_id uuid, p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._mint_api_key(p_tenant_id uuid, p_user_id uuid, p_name text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._mint_api_key(p_tenant_id uuid, p_user_id uuid, p_name text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._raise_invalid_rule(p_errcode text, p_message text, p_step_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._raise_invalid_rule(p_errcode text, p_message text, p_step_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._raise_invalid_rule(p_errcode text, p_message text, p_step_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._rate(p_part bigint, p_whole bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._rate(p_part bigint, p_whole bigint) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._rate(p_part bigint, p_whole bigint) TO campaigns_worker;
GRANT ALL ON FUNCTION campaigns._rate(p_part bigint, p_whole bigint) TO campaigns_readonly;

REVOKE ALL ON FUNCTION campaigns._run_action_steps(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._run_action_steps(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._run_action_steps(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._run_email_steps(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._run_email_steps(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._run_email_steps(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._suppress(p_tenant_id uuid, p_email text, p_reason text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._suppress(p_tenant_id uuid, p_email text, p_reason text, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._suppress(p_tenant_id uuid, p_email text, p_reason text, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._touch_updated_at() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._touch_updated_at() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._touch_updated_at() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._validate_campaign_graph(p_tenant_id uuid, p_campaign_id uuid, p_errcode text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._validate_campaign_graph(p_tenant_id uuid, p_campaign_id uuid, p_errcode text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._validate_campaign_graph(p_tenant_id uuid, p_campaign_id uuid, p_errcode text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._validate_step() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._validate_step() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._validate_step() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.authenticate_api_key(p_key text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.authenticate_api_key(p_key text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.authenticate_api_key(p_key text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.clone_campaign(p_campaign_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.clone_campaign(p_campaign_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.clone_campaign(p_campaign_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.complete_finished_campaigns(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.complete_finished_campaigns(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.complete_finished_campaigns(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.create_api_key(p_user_id uuid, p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.create_api_key(p_user_id uuid, p_name text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.create_api_key(p_user_id uuid, p_name text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.create_tenant(p_name text, p_admin_email text) FROM PUBLIC;

REVOKE ALL ON FUNCTION campaigns.cron_jobs_missing(p_jobs text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.cron_jobs_missing(p_jobs text[]) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.cron_jobs_missing(p_jobs text[]) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.error_codes() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.error_codes() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.error_codes() TO campaigns_worker;
GRANT ALL ON FUNCTION campaigns.error_codes() TO campaigns_readonly;

REVOKE ALL ON FUNCTION campaigns.launch_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.launch_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.launch_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.launch_scheduled_campaigns(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.launch_scheduled_campaigns(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.launch_scheduled_campaigns(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.next_local_time(p_at timestamp with time zone, p_timezone text, p_time time without time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.next_local_time(p_at timestamp with time zone, p_timezone text, p_time time without time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.next_local_time(p_at timestamp with time zone, p_timezone text, p_time time without time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.next_window_open(p_at timestamp with time zone, p_timezone text, p_days smallint[], p_start time without time zone, p_end time without time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.next_window_open(p_at timestamp with time zone, p_timezone text, p_days smallint[], p_start time without time zone, p_end time without time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.next_window_open(p_at timestamp with time zone, p_timezone text, p_days smallint[], p_start time without time zone, p_end time without time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.pause_campaign(p_campaign_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.pause_campaign(p_campaign_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.pause_campaign(p_campaign_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.process_due_steps(p_as_of timestamp with time zone, p_batch_size integer) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.process_due_steps(p_as_of timestamp with time zone, p_batch_size integer) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.process_due_steps(p_as_of timestamp with time zone, p_batch_size integer) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.record_email_event(p_message_id uuid, p_event_type text, p_occurred_at timestamp with time zone, p_details jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.record_email_event(p_message_id uuid, p_event_type text, p_occurred_at timestamp with time zone, p_details jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.record_email_event(p_message_id uuid, p_event_type text, p_occurred_at timestamp with time zone, p_details jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.resume_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.resume_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.resume_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.rollup_analytics(p_day date, p_days_back integer) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.rollup_analytics(p_day date, p_days_back integer) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.rollup_analytics(p_day date, p_days_back integer) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.schedule_campaign(p_campaign_id uuid, p_start timestamp with time zone, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.schedule_campaign(p_campaign_id uuid, p_start timestamp with time zone, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.schedule_campaign(p_campaign_id uuid, p_start timestamp with time zone, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.schedule_jobs(p_step_schedule text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.schedule_jobs(p_step_schedule text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.schedule_jobs(p_step_schedule text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.unschedule_campaign(p_campaign_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.unschedule_campaign(p_campaign_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.unschedule_campaign(p_campaign_id uuid) TO campaigns_worker;

GRANT SELECT ON TABLE campaigns.api_keys TO campaigns_app;

GRANT UPDATE(name) ON TABLE campaigns.api_keys TO campaigns_app;

GRANT UPDATE(revoked_at) ON TABLE campaigns.api_keys TO campaigns_app;

GRANT SELECT ON TABLE campaigns.campaign_analytics TO campaigns_app;
GRANT SELECT ON TABLE campaigns.campaign_analytics TO campaigns_readonly;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.campaign_approvals TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.campaign_contacts TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.campaign_steps TO campaigns_app;

GRANT SELECT,INSERT ON TABLE campaigns.email_events TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.email_messages TO campaigns_app;

GRANT SELECT ON TABLE campaigns.global_suppressions TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.segment_contacts TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.segments TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.sender_accounts TO campaigns_app;

GRANT SELECT,INSERT ON TABLE campaigns.suppression_audit TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.suppressions TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.templates TO campaigns_app;

GRANT SELECT ON TABLE campaigns.tenants TO campaigns_app;

GRANT UPDATE(name) ON TABLE campaigns.tenants TO campaigns_app;

GRANT UPDATE(updated_at) ON TABLE campaigns.tenants TO campaigns_app;

GRANT SELECT ON TABLE campaigns.timezone_names TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.users TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.workspaces TO campaigns_app;
