CREATE SCHEMA campaigns;

CREATE FUNCTION campaigns._action_config_error(p_tenant_id uuid, p_campaign_id uuid, p_action text, p_config jsonb) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._add_send_usage(p_tenant_id uuid, p_sent bigint, p_as_of timestamp with time zone) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns._add_send_usage(p_tenant_id uuid, p_sent bigint, p_as_of timestamp with time zone) IS 'Adds p_sent messages to the tenant''s count for the month of p_as_of (internal: called where a send is recorded).';

CREATE FUNCTION campaigns._add_wait(p_from timestamp with time zone, p_value integer, p_unit text, p_timezone text) RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS <body>;

COMMENT ON FUNCTION campaigns._add_wait(p_from timestamp with time zone, p_value integer, p_unit text, p_timezone text) IS 'p_from plus a wait of p_value p_unit; days and weeks keep the local wall-clock time in p_timezone.';

CREATE FUNCTION campaigns._apply_blackouts(p_as_of timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

CREATE FUNCTION campaigns._apply_contact_caps(p_as_of timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

CREATE FUNCTION campaigns._apply_send_limits(p_as_of timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

CREATE TABLE campaigns.ab_tests (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    step_id uuid NOT NULL,
    test_name text DEFAULT 'A/B test'::text NOT NULL,
    status text DEFAULT 'draft'::text NOT NULL,
    sample_percent numeric(5,2) DEFAULT 20 NOT NULL,
    duration_hours numeric(6,2) DEFAULT 4 NOT NULL,
    win_metric text DEFAULT 'open_rate'::text NOT NULL,
    confidence_threshold numeric(5,2) DEFAULT 95 NOT NULL,
    minimum_sample_size integer DEFAULT 100 NOT NULL,
    if_no_winner text DEFAULT 'send_control'::text NOT NULL,
    started_at timestamp with time zone,
    decided_at timestamp with time zone,
    decision text,
    winner_variant_id uuid,
    results_summary jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_ab_tests_confidence CHECK (((confidence_threshold > (0)::numeric) AND (confidence_threshold < (100)::numeric))),
    CONSTRAINT ck_ab_tests_decision CHECK (((decision IS NULL) OR (decision = ANY (ARRAY['manual'::text, 'significant'::text, 'no_winner'::text])))),
    CONSTRAINT ck_ab_tests_deployed CHECK (((status = 'winner_deployed'::text) = ((winner_variant_id IS NOT NULL) AND (decided_at IS NOT NULL)))),
    CONSTRAINT ck_ab_tests_duration CHECK ((duration_hours >= (2)::numeric)),
    CONSTRAINT ck_ab_tests_if_no_winner CHECK ((if_no_winner = 'send_control'::text)),
    CONSTRAINT ck_ab_tests_metric CHECK ((win_metric = ANY (ARRAY['open_rate'::text, 'click_rate'::text]))),
    CONSTRAINT ck_ab_tests_minimum_sample CHECK ((minimum_sample_size >= 1)),
    CONSTRAINT ck_ab_tests_sample CHECK (((sample_percent > (0)::numeric) AND (sample_percent <= (100)::numeric))),
    CONSTRAINT ck_ab_tests_started CHECK (((status = 'draft'::text) OR (started_at IS NOT NULL))),
    CONSTRAINT ck_ab_tests_status CHECK ((status = ANY (ARRAY['draft'::text, 'running'::text, 'winner_deployed'::text])))
);

CREATE FUNCTION campaigns._assign_ab_sample(p_test campaigns.ab_tests, p_as_of timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._campaign_settings() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._campaign_structure() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._check_campaign_ab_tests(p_tenant_id uuid, p_campaign_id uuid) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

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
    CONSTRAINT ck_campaign_steps_action CHECK (((step_type <> 'action'::text) OR COALESCE((action_type = ANY (ARRAY['add_tag'::text, 'remove_tag'::text, 'update_field'::text, 'adjust_score'::text, 'exit'::text, 'move_to_campaign'::text, 'notify'::text, 'webhook'::text])), false))),
    CONSTRAINT ck_campaign_steps_action_config CHECK ((jsonb_typeof(action_config) = 'object'::text)),
    CONSTRAINT ck_campaign_steps_condition CHECK (((step_type <> 'condition'::text) OR COALESCE(((jsonb_typeof(condition_rules) = 'object'::text) AND (next_step_id IS NULL)), false))),
    CONSTRAINT ck_campaign_steps_counters CHECK (((emails_sent >= 0) AND (emails_delivered >= 0) AND (opens >= 0) AND (clicks >= 0) AND (replies >= 0) AND (unsubscribes >= 0) AND (bounces >= 0))),
    CONSTRAINT ck_campaign_steps_email CHECK (((step_type <> 'email'::text) OR (template_id IS NOT NULL) OR ((subject_line IS NOT NULL) AND (email_content IS NOT NULL)))),
    CONSTRAINT ck_campaign_steps_no_self_loop CHECK (((next_step_id IS DISTINCT FROM id) AND (true_next_step_id IS DISTINCT FROM id) AND (false_next_step_id IS DISTINCT FROM id))),
    CONSTRAINT ck_campaign_steps_order CHECK ((step_order >= 1)),
    CONSTRAINT ck_campaign_steps_type CHECK ((step_type = ANY (ARRAY['email'::text, 'wait'::text, 'condition'::text, 'action'::text]))),
    CONSTRAINT ck_campaign_steps_wait CHECK (((step_type <> 'wait'::text) OR COALESCE(((wait_duration_value > 0) AND (wait_duration_unit = ANY (ARRAY['minutes'::text, 'hours'::text, 'days'::text, 'weeks'::text]))), false))),
    CONSTRAINT ck_campaign_steps_wait_unit CHECK (((wait_duration_unit IS NULL) OR (wait_duration_unit = ANY (ARRAY['minutes'::text, 'hours'::text, 'days'::text, 'weeks'::text]))))
);

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
    refresh_audience boolean DEFAULT false NOT NULL,
    recurrence jsonb,
    occurrence_count integer DEFAULT 0 NOT NULL,
    parent_campaign_id uuid,
    reentry text DEFAULT 'once'::text NOT NULL,
    trigger_event text,
    trigger_filter jsonb,
    exit_events text[] DEFAULT '{}'::text[] NOT NULL,
    CONSTRAINT ck_campaigns_daily_limit CHECK (((daily_limit IS NULL) OR (daily_limit > 0))),
    CONSTRAINT ck_campaigns_dates CHECK (((end_date IS NULL) OR (start_date IS NULL) OR (start_date < end_date))),
    CONSTRAINT ck_campaigns_exit_events CHECK ((cardinality(exit_events) <= 20)),
    CONSTRAINT ck_campaigns_name CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 255))),
    CONSTRAINT ck_campaigns_occurrence_count CHECK ((occurrence_count >= 0)),
    CONSTRAINT ck_campaigns_on_reply CHECK ((on_reply = ANY (ARRAY['exit'::text, 'pause'::text, 'continue'::text]))),
    CONSTRAINT ck_campaigns_recurrence CHECK (((recurrence IS NULL) OR (jsonb_typeof(recurrence) = 'object'::text))),
    CONSTRAINT ck_campaigns_reentry CHECK ((reentry = ANY (ARRAY['once'::text, 'after_exit'::text]))),
    CONSTRAINT ck_campaigns_send_strategy CHECK ((send_strategy = ANY (ARRAY['immediate'::text, 'scheduled'::text, 'optimized'::text]))),
    CONSTRAINT ck_campaigns_sending_days CHECK (((sending_days IS NULL) OR (((cardinality(sending_days) >= 1) AND (cardinality(sending_days) <= 7)) AND (sending_days <@ ARRAY[(1)::smallint, (2)::smallint, (3)::smallint, (4)::smallint, (5)::smallint, (6)::smallint, (7)::smallint])))),
    CONSTRAINT ck_campaigns_sending_window CHECK ((((sending_window_start IS NULL) = (sending_window_end IS NULL)) AND ((sending_window_start IS NULL) OR (sending_window_start < sending_window_end)))),
    CONSTRAINT ck_campaigns_status CHECK ((status = ANY (ARRAY['draft'::text, 'scheduled'::text, 'active'::text, 'paused'::text, 'completed'::text]))),
    CONSTRAINT ck_campaigns_total_contacts CHECK ((total_contacts >= 0)),
    CONSTRAINT ck_campaigns_trigger_event CHECK (((trigger_event IS NULL) OR (trigger_event ~ '^[A-Za-z0-9_.:\-]{1,100}$'::text))),
    CONSTRAINT ck_campaigns_trigger_filter CHECK (((trigger_filter IS NULL) OR (jsonb_typeof(trigger_filter) = 'object'::text))),
    CONSTRAINT ck_campaigns_type CHECK ((campaign_type = ANY (ARRAY['broadcast'::text, 'drip'::text, 'triggered'::text, 'ab_test'::text]))),
    CONSTRAINT ck_campaigns_window_missed_action CHECK ((window_missed_action = ANY (ARRAY['wait'::text, 'send_anyway'::text])))
);

CREATE FUNCTION campaigns._check_step_not_in_use(p_campaign campaigns.campaigns, p_step campaigns.campaign_steps, p_refusal text, p_hint text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._check_step_targets() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._check_timezone(p_timezone text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._check_trigger_filter() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._compile_segment_condition(p_node jsonb, p_path text[]) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._compile_segment_group(p_node jsonb, p_path text[], p_depth integer, p_root boolean DEFAULT false) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns.uuid_v7() RETURNS uuid
    LANGUAGE sql PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS <body>;

COMMENT ON FUNCTION campaigns.uuid_v7() IS 'A new UUID version 7 (RFC 9562): 48 bits of Unix time in milliseconds, then random bits. The default id of the high-volume tables (contacts, segment members, enrollments, outbox messages, events, A/B assignments): time-ordered ids keep bulk inserts at the right edge of their indexes.';

CREATE TABLE campaigns.contacts (
    id uuid DEFAULT campaigns.uuid_v7() NOT NULL,
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
    AS <body>;

COMMENT ON FUNCTION campaigns._condition_holds(p_rules jsonb, p_scope_step_id uuid, p_tenant_id uuid, p_enrollment_id uuid, p_contact campaigns.contacts) IS 'Evaluates a condition step''s rules for one enrollment: email_opened / email_clicked / email_replied (optionally scoped to one email step), lead_score (score >= threshold), contact_attribute (standard or custom field, or event.<name>: a property of the event that started the enrollment; absent when none did).';

CREATE FUNCTION campaigns._condition_rules_error(p_rules jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._contact_attribute_holds(p_rules jsonb, p_contact campaigns.contacts, p_event jsonb) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._count_deliveries(p_tenant_ids uuid[], p_step_ids uuid[], p_contact_ids uuid[], p_first boolean[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET plan_cache_mode TO 'force_generic_plan'
    AS <body>;

CREATE FUNCTION campaigns._deploy_ab_winner(p_test campaigns.ab_tests, p_winner uuid, p_decision text, p_as_of timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._end_expired_campaigns(p_as_of timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._enqueue_webhooks(p_events jsonb) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._enroll_contacts(p_campaign_id uuid, p_contact_ids uuid[], p_as_of timestamp with time zone, p_triggers jsonb) RETURNS TABLE(contact_id uuid, outcome text, enrollment_id uuid)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

CREATE FUNCTION campaigns._enroll_segment(p_campaign campaigns.campaigns, p_entry_step uuid, p_as_of timestamp with time zone, p_skip_enrolled boolean) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

CREATE FUNCTION campaigns._exit_contact_everywhere(p_tenant_id uuid, p_contact_id uuid, p_reason text, p_as_of timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._exit_enrollments(p_ids uuid[], p_reasons text[], p_as_of timestamp with time zone, p_from text[] DEFAULT ARRAY['enrolled'::text, 'active'::text, 'paused'::text], p_cancel_mail boolean DEFAULT true) RETURNS TABLE(enrollment_id uuid, exit_reason text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._first_due_at(p_campaign campaigns.campaigns, p_contact_id uuid, p_timezone text, p_as_of timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._hold_campaign_processing(p_campaign_id uuid) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._json_keys(p_doc jsonb, p_allowed text[], p_what text) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._launch_occurrence(p_parent_id uuid, p_as_of timestamp with time zone) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._lock_campaign(p_campaign_id uuid, p_allowed text[], p_action text, p_errcode text DEFAULT 'QC409'::text, p_hint text DEFAULT NULL::text) RETURNS campaigns.campaigns
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

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

CREATE FUNCTION campaigns._lock_static_segment(p_segment_id uuid) RETURNS campaigns.segments
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._lock_step(p_campaign campaigns.campaigns, p_step_id uuid) RETURNS campaigns.campaign_steps
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._mint_api_key(p_tenant_id uuid, p_user_id uuid, p_name text DEFAULT 'default'::text) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._monthly_usage(p_tenant_id uuid, p_as_of timestamp with time zone) RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns._monthly_usage(p_tenant_id uuid, p_as_of timestamp with time zone) IS 'The messages the tenant has sent in the UTC month of p_as_of (tenant_send_usage): the one monthly usage that launch, the sender and the usage API read.';

CREATE FUNCTION campaigns._next_unblocked_day(p_tenant_id uuid, p_campaign_id uuid, p_day date) RETURNS date
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._normal_cdf(p_z double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._notify_outbox_hold() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._processing_lock_key(p_campaign_id uuid) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS <body>;

CREATE FUNCTION campaigns._quota_room(p_as_of timestamp with time zone) RETURNS TABLE(tenant_id uuid, remaining bigint)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns._quota_room(p_as_of timestamp with time zone) IS 'For each tenant with a monthly_email_quota: how many more messages it may send in the month of p_as_of (quota - sent this month - mail leased to a worker now); 0 or less means its mail is held.';

CREATE FUNCTION campaigns._raise_invalid_rule(p_errcode text, p_message text, p_step_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._rate(p_part bigint, p_whole bigint) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._rates(p_sent bigint, p_delivered bigint, p_bounced bigint, p_unique_opens bigint, p_unique_clicks bigint, p_replies bigint, p_unsubscribes bigint, p_complaints bigint) RETURNS TABLE(delivery_rate numeric, open_rate numeric, click_rate numeric, click_to_open_rate numeric, reply_rate numeric, unsubscribe_rate numeric, bounce_rate numeric, complaint_rate numeric)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns._rates(p_sent bigint, p_delivered bigint, p_bounced bigint, p_unique_opens bigint, p_unique_clicks bigint, p_replies bigint, p_unsubscribes bigint, p_complaints bigint) IS 'The analytics rates, in percent rounded to 2 decimals (0 for a zero denominator): delivery and bounce per sent; open, click, reply, unsubscribe and complaint per delivered; click-to-open = unique clicks / unique opens.';

CREATE TABLE campaigns.email_messages (
    id uuid DEFAULT campaigns.uuid_v7() NOT NULL,
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
    ab_variant_id uuid,
    failed_at timestamp with time zone,
    subject text,
    retry_expires_at timestamp with time zone,
    lease_reclaims integer DEFAULT 0 NOT NULL,
    failure_kind text,
    CONSTRAINT ck_email_messages_attempts CHECK (((attempts >= 0) AND (max_attempts >= 1))),
    CONSTRAINT ck_email_messages_counts CHECK (((open_count >= 0) AND (click_count >= 0))),
    CONSTRAINT ck_email_messages_failed CHECK (((failed_at IS NULL) OR (status = 'failed'::text))),
    CONSTRAINT ck_email_messages_failure_kind CHECK ((failure_kind = ANY (ARRAY['bounced'::text, 'rejected'::text, 'retry_lifetime_expired'::text, 'worker_crashed'::text, 'render_limit'::text, 'attempts_exhausted'::text]))),
    CONSTRAINT ck_email_messages_failure_kind_status CHECK (((failure_kind IS NULL) OR (status = 'failed'::text))),
    CONSTRAINT ck_email_messages_lease CHECK (((status = 'sending'::text) = (lease_expires_at IS NOT NULL))),
    CONSTRAINT ck_email_messages_lease_reclaims CHECK ((lease_reclaims >= 0)),
    CONSTRAINT ck_email_messages_sent CHECK (((status <> 'sent'::text) OR (sent_at IS NOT NULL))),
    CONSTRAINT ck_email_messages_status CHECK ((status = ANY (ARRAY['queued'::text, 'sending'::text, 'sent'::text, 'failed'::text, 'cancelled'::text])))
);

COMMENT ON COLUMN campaigns.email_messages.attempts IS 'SMTP attempts whose result was recorded (sent, retry, failed, rejected); a claim or a release does not count.';

COMMENT ON COLUMN campaigns.email_messages.max_attempts IS 'Unused since retry lifetimes (kept for compatibility): transient failures are retried until retry_expires_at.';

CREATE FUNCTION campaigns._record_opt_out(p_msg campaigns.email_messages, p_email text, p_reason text, p_occurred_at timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._record_sent(p_worker text, p_ids uuid[], p_responses text[], p_subjects text[], p_as_of timestamp with time zone) RETURNS SETOF uuid
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET plan_cache_mode TO 'force_generic_plan'
    AS <body>;

CREATE FUNCTION campaigns._recount_segment(p_segment campaigns.segments, p_as_of timestamp with time zone) RETURNS integer
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._recurrence_error(p_rec jsonb) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._relay_key(p_host text, p_port integer) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS <body>;

COMMENT ON FUNCTION campaigns._relay_key(p_host text, p_port integer) IS 'The key naming a sender account''s SMTP relay in claim_outbox_batch (p_down_relays, relay_key): the empty string for the worker''s default relay (no smtp_host), else lower(host) || '':'' || port, with nothing after the colon when no port is set (the security mode''s default port).';

CREATE FUNCTION campaigns._require_admin() RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._retry_delay(p_attempts integer, p_base interval, p_cap interval DEFAULT '01:00:00'::interval) RETURNS interval
    LANGUAGE sql
    SET search_path TO 'pg_catalog'
    AS <body>;

COMMENT ON FUNCTION campaigns._retry_delay(p_attempts integer, p_base interval, p_cap interval) IS 'The delay before the next try after p_attempts tries: least(p_base * 2^(p_attempts-1), p_cap) ± 25% jitter.';

CREATE FUNCTION campaigns._retry_lifetime(p_tenant_id uuid, p_sender_account_id uuid, p_default interval DEFAULT NULL::interval) RETURNS interval
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns._retry_lifetime(p_tenant_id uuid, p_sender_account_id uuid, p_default interval) IS 'How long a message of this tenant and sender account keeps being retried after its first transient failure: sender_accounts.retry_lifetime, else tenants.retry_lifetime, else p_default (the worker''s setting), else 2 days.';

CREATE FUNCTION campaigns._route_ab_tests(p_as_of timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._run_action_steps(p_as_of timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

CREATE FUNCTION campaigns._run_email_steps(p_as_of timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

CREATE FUNCTION campaigns._segment_rule_error(p_path text[], p_message text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._start_ab_tests(p_as_of timestamp with time zone, p_wait boolean) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._step_ab_test(p_campaign_id uuid, p_step_id uuid) RETURNS campaigns.ab_tests
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._step_fields() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._suppress(p_tenant_id uuid, p_email text, p_reason text, p_as_of timestamp with time zone) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._suppressed_addresses(p_as_of timestamp with time zone) RETURNS TABLE(tenant_id uuid, email_key text, scope text, reason text, added_at timestamp with time zone, expires_at timestamp with time zone)
    LANGUAGE sql STABLE
    AS <body>;

COMMENT ON FUNCTION campaigns._suppressed_addresses(p_as_of timestamp with time zone) IS 'Every (tenant, lower(email)) suppressed at p_as_of: each tenant''s own list, and the global list for every tenant, unexpired, with scope tenant or global. Inlined into its callers; ask EXISTS (… WHERE tenant_id = … AND email_key = lower(address)).';

CREATE FUNCTION campaigns._touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._trigger_rules(p_filter jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._update_keys(p_row anyelement, p_doc jsonb, p_keys text[]) RETURNS anyelement
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._usage_month(p_as_of timestamp with time zone) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS $$ SELECT date_trunc('month', p_as_of AT TIME ZONE 'UTC')::date $$;

COMMENT ON FUNCTION campaigns._usage_month(p_as_of timestamp with time zone) IS 'The month (its first day, UTC) that a send at p_as_of counts towards in tenant_send_usage.';

CREATE FUNCTION campaigns._validate_ab_test() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._validate_ab_variant() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._validate_campaign_graph(p_tenant_id uuid, p_campaign_id uuid, p_errcode text DEFAULT 'QC204'::text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._validate_step() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._webhook_retry_delay(p_attempts integer, p_base interval) RETURNS interval
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._webhook_secret() RETURNS text
    LANGUAGE sql
    SET search_path TO 'pg_catalog'
    AS <body>;

CREATE FUNCTION campaigns._webhooks_on_ab_tests() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._webhooks_on_campaigns() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._webhooks_on_email_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._webhooks_on_enrollments() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._webhooks_on_messages_sent() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns._webhooks_wanted(p_types text[]) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

CREATE FUNCTION campaigns.ab_split_sizes(p_audience integer, p_sample_percent numeric, p_variants integer) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS <body>;

COMMENT ON FUNCTION campaigns.ab_split_sizes(p_audience integer, p_sample_percent numeric, p_variants integer) IS 'The number of contacts per variant for an audience of p_audience, a sample of p_sample_percent and p_variants variants: floor(N * S / 100 / V).';

CREATE FUNCTION campaigns.ab_test_doc(p_campaign_id uuid, p_step_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.ab_test_doc(p_campaign_id uuid, p_step_id uuid) IS 'The A/B test of an email step as one JSON document: its settings and state, its variants and their live results (campaigns.ab_test_results). NULL when the step has no test.';

CREATE FUNCTION campaigns.ab_test_results(p_ab_test_id uuid) RETURNS TABLE(variant_id uuid, variant_name text, is_control boolean, sent bigint, delivered bigint, unique_opens bigint, unique_clicks bigint, open_rate numeric, click_rate numeric, confidence numeric, lift numeric, is_winner boolean)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.ab_test_results(p_ab_test_id uuid) IS 'Per-variant results of an A/B test''s sample: sent, delivered, unique opens and clicks (of delivered mail), open and click rates in percent, the leader''s two-sided confidence against the runner-up (two-proportion z-test on the win metric), lift against the control ((variant - control) / control, percent), and whether it is the deployed winner.';

CREATE FUNCTION campaigns.add_segment_contacts(p_segment_id uuid, p_contact_ids uuid[]) RETURNS TABLE(added integer, removed integer, contact_count integer)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.add_segment_contacts(p_segment_id uuid, p_contact_ids uuid[]) IS 'Adds contacts to a static segment (QC502 for a dynamic one), all or nothing: an id that is not a contact of the tenant refuses the call (QC404). Members already there are kept. Returns (added, 0, contact_count).';

CREATE FUNCTION campaigns.current_tenant_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS <body>;

COMMENT ON FUNCTION campaigns.current_tenant_id() IS 'The tenant of the current API transaction (setting campaigns.tenant_id, set locally by the service); NULL outside one. Row Level Security keys on the same setting.';

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

CREATE FUNCTION campaigns.add_suppression(p_email text, p_reason text DEFAULT 'manual'::text, p_source text DEFAULT 'api'::text, p_expires_at timestamp with time zone DEFAULT NULL::timestamp with time zone, p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamp with time zone DEFAULT now()) RETURNS campaigns.suppressions
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.add_suppression(p_email text, p_reason text, p_source text, p_expires_at timestamp with time zone, p_tenant_id uuid, p_as_of timestamp with time zone) IS 'Suppresses an address for the tenant (default: the API transaction''s) with a reason (manual, import, unsubscribe, hard_bounce, soft_bounce, complaint) and an optional expiry (NULL = never; a past one is QC301), and writes an audit entry. A second suppression of the same address (case-insensitive) violates uq_suppressions_tenant_email. Enrollments are not touched: the next email step exits a suppressed contact.';

CREATE FUNCTION campaigns.authenticate_api_key(p_key text) RETURNS TABLE(tenant_id uuid, user_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.authenticate_api_key(p_key text) IS 'Resolves a presented API key to its tenant and user; no row for an unknown or revoked key. Compares hashes only.';

CREATE FUNCTION campaigns.blackout_action(p_tenant_id uuid, p_campaign_id uuid, p_day date) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.blackout_action(p_tenant_id uuid, p_campaign_id uuid, p_day date) IS 'What the tenant''s blackout dates say about sending campaign p_campaign_id on local day p_day: allow (an override), skip, delay, or NULL (no blackout).';

CREATE FUNCTION campaigns.campaign_analytics_report(p_campaign_id uuid, p_start date DEFAULT NULL::date, p_end date DEFAULT NULL::date, p_group_by text DEFAULT 'day'::text, p_days integer DEFAULT NULL::integer) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.campaign_analytics_report(p_campaign_id uuid, p_start date, p_end date, p_group_by text, p_days integer) IS 'The analytics API''s document for one campaign: overall = the campaign_analytics rows dated in [p_start, p_end] (inclusive; default the p_days, else 30, days ending today UTC), summary = their totals with the rates (delivery and bounce per sent; open, click, reply, unsubscribe and complaint per delivered; click-to-open), time_series = the same grouped by day, week or month, byStep = each step''s lifetime counters in step order. QC301 when start is after end, QC404 when not visible.';

CREATE FUNCTION campaigns.campaign_report(p_campaign_id uuid, p_days integer DEFAULT 30, p_as_of timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

COMMENT ON FUNCTION campaigns.campaign_report(p_campaign_id uuid, p_days integer, p_as_of timestamp with time zone) IS 'Everything the campaign report page shows, as one JSON document: the campaign, enrollments and outbox messages by status, the email-step funnel (sent and tracked counters), a live daily series of sends, first opens, first clicks and replies over the last p_days UTC days, A/B test results, dead letters counted by failure_kind (dead_letters), and the 20 latest failures with their kind. Runs as the caller (tenant-scoped through the API).';

CREATE FUNCTION campaigns.check_deliverability(p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

COMMENT ON FUNCTION campaigns.check_deliverability(p_as_of timestamp with time zone) IS 'Raises campaign_alerts for active campaigns with at least 100 sends in the 24 hours before p_as_of: a bounce rate over 5% pauses the campaign, a complaint rate over 0.1% alerts only. One alert of a kind per campaign per 24 hours; each is also sent on pg_notify channel campaigns_alerts. Returns the number raised. Run by pg_cron hourly.';

CREATE FUNCTION campaigns.check_suppression(p_email text, p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(email text, suppressed boolean, scope text, reason text, added_at timestamp with time zone, expires_at timestamp with time zone)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.check_suppression(p_email text, p_tenant_id uuid, p_as_of timestamp with time zone) IS 'Whether an address is suppressed for the tenant at p_as_of: its own list first, then the global one (complaints, abuse). One row: email, suppressed, scope (tenant, global or NULL), reason, added_at, expires_at.';

CREATE FUNCTION campaigns.choose_ab_winner(p_ab_test_id uuid, p_variant_id uuid, p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.choose_ab_winner(p_ab_test_id uuid, p_variant_id uuid, p_as_of timestamp with time zone) IS 'Picks the winner of a running A/B test by hand and deploys it at once (held-back enrollments released with its content). QC404 for an unknown test or a variant of another test, QC602 when the test is not running. Returns the number of enrollments released.';

CREATE FUNCTION campaigns.choose_step_ab_winner(p_campaign_id uuid, p_step_id uuid, p_variant_id uuid, p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.choose_step_ab_winner(p_campaign_id uuid, p_step_id uuid, p_variant_id uuid, p_as_of timestamp with time zone) IS 'choose_ab_winner for the A/B test of a campaign''s email step (QC404 when the step has none).';

CREATE FUNCTION campaigns.claim_outbox_batch(p_worker text, p_limit integer DEFAULT 100, p_lease interval DEFAULT '00:05:00'::interval, p_as_of timestamp with time zone DEFAULT now(), p_max_reclaims integer DEFAULT 5, p_down_relays text[] DEFAULT '{}'::text[]) RETURNS TABLE(message_id uuid, tenant_id uuid, campaign_id uuid, step_id uuid, enrollment_id uuid, contact_id uuid, sender_account_id uuid, template_id uuid, ab_variant_id uuid, to_email text, smtp_message_id text, attempt integer, lease_reclaims integer, reclaimed boolean, lease_expires_at timestamp with time zone, retry_expires_at timestamp with time zone, relay_key text, email text, first_name text, last_name text, company text, job_title text, city text, state text, country text, contact_timezone text, custom_fields jsonb, score integer, tags text[], campaign_name text, campaign_from_email text, campaign_from_name text, campaign_reply_to text, track_opens boolean, track_clicks boolean, unsubscribe_enabled boolean, campaign_timezone text, sender_from_email text, sender_from_name text, sender_reply_to text, variant_sender_email text, variant_sender_name text, smtp_host text, smtp_port integer, smtp_security text, smtp_username text, smtp_password_env text, subject_template text, html_template text, text_template text, max_send_rate_per_second numeric, event_properties jsonb)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.claim_outbox_batch(p_worker text, p_limit integer, p_lease interval, p_as_of timestamp with time zone, p_max_reclaims integer, p_down_relays text[]) IS 'Leases up to p_limit due outbox messages to worker p_worker for p_lease (FOR UPDATE SKIP LOCKED: concurrent workers get disjoint rows): queued rows whose next_attempt_at has come, and sending rows whose lease expired (a killed worker), which counts one lease reclaim (reclaimed = true); a message whose reclaims would exceed p_max_reclaims becomes failed with failure_kind worker_crashed instead of being sent again. Mail whose sender relay (_relay_key(smtp_host, smtp_port); the empty string is the worker''s default relay) is in p_down_relays is skipped, left as it is. Mail of a paused campaign or paused enrollment, and of a tenant whose monthly quota has no room left (sent this month plus mail in flight, tenant_send_usage), is held (left queued); a tenant with some room gets at most that much. At claim time a message whose campaign has ended (completed), whose enrollment exited, whose contact is no longer active or whose address is suppressed (tenant or global) is cancelled instead, and the enrollment exits (suppressed / unsubscribed / bounced). Claimed rows become sending; attempts are counted when a result is recorded, not here (attempt = attempts + 1, the try about to be made). Returns per message everything needed to render and send it: ids, recipient, Message-ID, attempt, lease reclaims, whether it was reclaimed, retry_expires_at, relay_key, contact fields, campaign, sender account and A/B variant sender, the subject/HTML/text templates (variant, else step, else template), the tenant''s send rate and the properties of the event that started the enrollment (event_properties).';

CREATE FUNCTION campaigns.claim_test_sends(p_worker text, p_limit integer DEFAULT 10, p_lease interval DEFAULT '00:02:00'::interval, p_as_of timestamp with time zone DEFAULT now(), p_max_attempts integer DEFAULT 3) RETURNS TABLE(test_send_id uuid, tenant_id uuid, campaign_id uuid, step_id uuid, to_email text, smtp_message_id text, message jsonb, attempt integer, lease_expires_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.claim_test_sends(p_worker text, p_limit integer, p_lease interval, p_as_of timestamp with time zone, p_max_attempts integer) IS 'Leases up to p_limit due test sends (queued and due, or sending with an expired lease) to worker p_worker for p_lease, SKIP LOCKED: concurrent workers take disjoint rows. A reclaimed lease counts as an attempt; one that reaches p_max_attempts becomes failed (worker_crashed) instead. Returns what the worker composes and sends (attempt: the try about to be made); record each with record_test_send.';

CREATE FUNCTION campaigns.claim_webhook_batch(p_worker text, p_limit integer DEFAULT 50, p_lease interval DEFAULT '00:02:00'::interval, p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(delivery_id uuid, tenant_id uuid, subscription_id uuid, url text, secret text, event_id text, event_type text, payload jsonb, attempt integer, lease_expires_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.claim_webhook_batch(p_worker text, p_limit integer, p_lease interval, p_as_of timestamp with time zone) IS 'Leases up to p_limit due webhook deliveries (queued and due, or sending with an expired lease: the worker died) to worker p_worker for p_lease, with the URL and secret to sign with: the subscription''s, or for a webhook action step''s delivery the step''s URL and the tenant''s action secret (tenants.webhook_secret). SKIP LOCKED: concurrent workers take disjoint rows. Record each with record_webhook_result.';

CREATE FUNCTION campaigns.clone_campaign(p_campaign_id uuid) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.clone_campaign(p_campaign_id uuid) IS 'Copies a campaign as a draft named "<name> (Copy)" with its steps under new ids (branch, next and scope targets remapped to the copies), counters zeroed, and its A/B tests as drafts with their variants (settings kept; no sample, decision or winner); no enrollments, analytics or approvals. created_by is the caller (campaigns.user_id setting) or the original''s creator. Returns the new id.';

CREATE FUNCTION campaigns.compile_segment_rules(p_rules jsonb) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.compile_segment_rules(p_rules jsonb) IS 'Validates dynamic-segment rules and compiles them to a boolean SQL expression over contacts aliased c, in which every value is read from the rules passed as $1 (and "now" is $2) — no value is ever part of the SQL text. Raises QC501 with the path of the first problem. See docs/api.md for fields and operators.';

CREATE FUNCTION campaigns.complete_finished_campaigns(p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.complete_finished_campaigns(p_as_of timestamp with time zone) IS 'Completes active campaigns with no enrollment left in enrolled, active or paused and no mail queued or sending; completes active or paused campaigns whose end_date is at or before p_as_of (their enrollments exit with reason campaign_ended, queued mail is cancelled). Returns the number completed. Run by pg_cron hourly.';

CREATE FUNCTION campaigns.contact_timeline(p_contact_id uuid) RETURNS TABLE(occurred_at timestamp with time zone, kind text, campaign_id uuid, campaign_name text, enrollment_id uuid, step_id uuid, message_id uuid, status text, exit_reason text, ended_at timestamp with time zone, subject text, sent_at timestamp with time zone, smtp_reply text, last_error text, event_type text)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.contact_timeline(p_contact_id uuid) IS 'One contact''s history, one row per item (unordered; sort by occurred_at DESC): kind enrollment (occurred_at = enrolled_at; status, exit_reason, ended_at = completed or exited time), message (occurred_at = queued_at; status, subject, sent_at, smtp_reply = the relay''s last reply, last_error) email_event (occurred_at; event_type: delivered, open, click, reply, bounce_hard, bounce_soft, complaint, unsubscribe), each with its campaign, enrollment, step and message ids, and contact_event (an application''s event: occurred_at, event_type = its name; no campaign). Runs as the caller: under Row Level Security a tenant sees its own contact only; an unknown contact gives no rows.';

CREATE FUNCTION campaigns.create_api_key(p_user_id uuid, p_name text DEFAULT 'default'::text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.create_api_key(p_user_id uuid, p_name text) IS 'Mints another API key for an existing user. The key is returned once; only its sha256 is stored.';

CREATE FUNCTION campaigns.create_campaign(p_campaign jsonb, p_as_of timestamp with time zone DEFAULT now()) RETURNS campaigns.campaigns
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.create_campaign(p_campaign jsonb, p_as_of timestamp with time zone) IS 'Creates a draft campaign of the current tenant from the fields in p_campaign (absent ones take their defaults: drip, immediate, the workspace''s timezone or else UTC, tracking and unsubscribe on), created_by = the API caller. QC302 for a bad timezone, QC301 for an end_date not in the future; a segment or sender of another tenant fails its foreign key.';

CREATE FUNCTION campaigns.create_segment(p_name text, p_segment_type text DEFAULT 'static'::text, p_rules jsonb DEFAULT NULL::jsonb, p_description text DEFAULT NULL::text, p_workspace_id uuid DEFAULT NULL::uuid, p_as_of timestamp with time zone DEFAULT now()) RETURNS campaigns.segments
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.create_segment(p_name text, p_segment_type text, p_rules jsonb, p_description text, p_workspace_id uuid, p_as_of timestamp with time zone) IS 'Creates a segment of the current tenant. A dynamic one needs valid rules (QC501) and is materialised at once; a static one takes no rules (QC422) and gets members with add_segment_contacts.';

CREATE FUNCTION campaigns.create_step(p_campaign_id uuid, p_step jsonb, p_after_step_id uuid DEFAULT NULL::uuid) RETURNS campaigns.campaign_steps
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.create_step(p_campaign_id uuid, p_step jsonb, p_after_step_id uuid) IS 'Adds a step to a campaign that is not completed (QC205). step_order defaults to the next free one. With p_after_step_id the step is linked in after that step (which then points to it; the new step takes over its successor unless next_step_id is given). Validated by the step trigger: QC201 (over 20 steps), QC202 (rules / action), QC203 (targets), QC204 (cycle through an email); CHECK constraints for the wait and email fields.';

CREATE FUNCTION campaigns.create_tenant(p_name text, p_admin_email text DEFAULT NULL::text) RETURNS TABLE(tenant_id uuid, api_key text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.create_tenant(p_name text, p_admin_email text) IS 'Creates a tenant with a default workspace, an admin user and a fresh API key for that user. The key is returned once; only its sha256 is stored.';

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

CREATE FUNCTION campaigns.create_user(p_email text, p_name text DEFAULT NULL::text, p_role text DEFAULT 'member'::text) RETURNS campaigns.users
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.create_user(p_email text, p_name text, p_role text) IS 'Adds a user (admin or member) to the current tenant. Only an admin may (QC403); a duplicate email (case-insensitive) violates uq_users_tenant_email.';

CREATE FUNCTION campaigns.create_user_api_key(p_user_id uuid, p_name text DEFAULT 'default'::text) RETURNS TABLE(api_key_id uuid, user_id uuid, name text, key_prefix text, api_key text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.create_user_api_key(p_user_id uuid, p_name text) IS 'Mints an API key for a user of the current tenant (setting campaigns.tenant_id), by an admin or for oneself (QC403 otherwise, QC404 for a user of another tenant). The key is returned once; only its sha256 is stored.';

CREATE TABLE campaigns.webhook_subscriptions (
    id uuid DEFAULT campaigns.uuid_v7() NOT NULL,
    tenant_id uuid NOT NULL,
    url text NOT NULL,
    event_types text[] NOT NULL,
    description text,
    secret text NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    disabled_at timestamp with time zone,
    disabled_reason text,
    failing_since timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_webhook_subscriptions_disabled CHECK ((enabled = (disabled_at IS NULL))),
    CONSTRAINT ck_webhook_subscriptions_event_types CHECK ((((cardinality(event_types) >= 1) AND (cardinality(event_types) <= 32)) AND (event_types <@ ARRAY['message.sent'::text, 'message.delivered'::text, 'message.opened'::text, 'message.clicked'::text, 'message.replied'::text, 'message.bounced'::text, 'message.complained'::text, 'message.unsubscribed'::text, 'enrollment.started'::text, 'enrollment.completed'::text, 'enrollment.exited'::text, 'campaign.launched'::text, 'campaign.paused'::text, 'campaign.completed'::text, 'ab_test.decided'::text]))),
    CONSTRAINT ck_webhook_subscriptions_secret CHECK ((secret ~ '^whsec_[A-Za-z0-9+/=]{32,}$'::text)),
    CONSTRAINT ck_webhook_subscriptions_url CHECK (((url ~ '^https?://[^/?#\s]+'::text) AND (length(url) <= 2048)))
);

CREATE FUNCTION campaigns.create_webhook_subscription(p_url text, p_event_types text[], p_description text DEFAULT NULL::text, p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamp with time zone DEFAULT now()) RETURNS campaigns.webhook_subscriptions
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.create_webhook_subscription(p_url text, p_event_types text[], p_description text, p_tenant_id uuid, p_as_of timestamp with time zone) IS 'Subscribes a URL (http or https) to event types (message.sent, .delivered, .opened, .clicked, .replied, .bounced, .complained, .unsubscribed; enrollment.started, .completed, .exited; campaign.launched, .paused, .completed; ab_test.decided) for the tenant (default: the API transaction''s), with a new Standard Webhooks secret (whsec_…). Bad URLs or unknown types violate ck_webhook_subscriptions_url / _event_types. Whether the target may be a private address is the service''s check (it resolves names), not this function''s.';

CREATE FUNCTION campaigns.cron_jobs_missing(p_jobs text[] DEFAULT NULL::text[]) RETURNS text[]
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.cron_jobs_missing(p_jobs text[]) IS 'The names in p_jobs (default: every job of campaigns.engine_jobs()) that are not installed as pg_cron jobs in this database (all of them where pg_cron is absent). Used by the readiness check.';

CREATE FUNCTION campaigns.current_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS <body>;

COMMENT ON FUNCTION campaigns.current_user_id() IS 'The user the current API key acts for (setting campaigns.user_id, set locally by the service); NULL outside an API transaction (a DBA).';

CREATE FUNCTION campaigns.defer_over_quota_mail(p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.defer_over_quota_mail(p_as_of timestamp with time zone) IS 'The monthly quota: the due queued mail of every tenant whose mail sent this UTC month (as of p_as_of) has reached tenants.monthly_email_quota moves to the first of the next month (last_error says why); mail it moved earlier comes back due at p_as_of once the tenant is under its quota again (quota raised or removed). Returns the number of messages moved either way. Run by pg_cron every minute; safe to run by hand at the same time (the worker claims none of an over-quota tenant''s mail meanwhile).';

CREATE FUNCTION campaigns.delete_ab_test(p_campaign_id uuid, p_step_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.delete_ab_test(p_campaign_id uuid, p_step_id uuid) IS 'Removes the A/B test of an email step while the campaign is a draft (QC409 otherwise, QC404 when there is none).';

CREATE FUNCTION campaigns.delete_campaign(p_campaign_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.delete_campaign(p_campaign_id uuid) IS 'Deletes a draft campaign with its steps and approvals; any other status is refused (QC205) so sent history is never lost. QC404 when not visible.';

CREATE FUNCTION campaigns.delete_step(p_campaign_id uuid, p_step_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.delete_step(p_campaign_id uuid, p_step_id uuid) IS 'Deletes a step, splicing it out of the sequence (steps that led to it lead to its successor). Not on a completed campaign (QC205); on an active or paused one not while contacts stand on it or once mail was sent from it (QC206). QC404 when the step is not in the campaign.';

CREATE PROCEDURE campaigns.drain_due_steps(INOUT p_processed bigint DEFAULT NULL::bigint, IN p_batch_size integer DEFAULT 5000, IN p_max_seconds double precision DEFAULT 240, IN p_as_of timestamp with time zone DEFAULT NULL::timestamp with time zone)
    LANGUAGE plpgsql
    AS <body>;

COMMENT ON PROCEDURE campaigns.drain_due_steps(INOUT p_processed bigint, IN p_batch_size integer, IN p_max_seconds double precision, IN p_as_of timestamp with time zone) IS 'Runs process_due_steps in batches of p_batch_size, committing after each, until a batch comes back short (nothing more due) or p_max_seconds have passed; p_processed returns the number of enrollments processed. Each batch runs as of now() of its own transaction unless p_as_of is given. What the pg_cron job campaigns.process_due_steps calls (CALL campaigns.drain_due_steps()); safe beside other runs and process_due_steps by hand (each batch claims with SKIP LOCKED). Must be called outside an explicit transaction block (it commits).';

CREATE FUNCTION campaigns.engine_jobs(p_step_schedule text DEFAULT '*/5 * * * *'::text) RETURNS TABLE(jobname text, schedule text, command text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS <body>;

COMMENT ON FUNCTION campaigns.engine_jobs(p_step_schedule text) IS 'The engine''s pg_cron jobs, the one list schedule_jobs installs and the readiness check expects: job name, cron schedule (UTC) and command (one function or procedure call). p_step_schedule is the step processing interval (default every 5 minutes).';

CREATE FUNCTION campaigns.engine_metrics(p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(metric text, labels jsonb, value double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

COMMENT ON FUNCTION campaigns.engine_metrics(p_as_of timestamp with time zone) IS 'The engine''s gauges for monitoring (the service exposes them on /metrics): outbox messages by status, due messages and the oldest due age, sent/tracked mail totals from the step counters, enrollments and campaigns by status, and the last run time, duration and success of each pg_cron job.';

CREATE FUNCTION campaigns.enqueue_test_send(p_campaign_id uuid, p_step_id uuid, p_contact_id uuid, p_variant_name text, p_to_email text, p_message jsonb, p_smtp_message_id text, p_limit integer DEFAULT 20, p_window interval DEFAULT '01:00:00'::interval, p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(test_send_id uuid, retry_after_seconds integer)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.enqueue_test_send(p_campaign_id uuid, p_step_id uuid, p_contact_id uuid, p_variant_name text, p_to_email text, p_message jsonb, p_smtp_message_id text, p_limit integer, p_window interval, p_as_of timestamp with time zone) IS 'Queues one test mail of a step for the current tenant (RLS): p_message is the row the worker composes from (service/api/preview.py), sent to p_to_email. At most p_limit tests per tenant per p_window (taking turns per tenant): past it nothing is queued and test_send_id is null, with retry_after_seconds until a slot frees. Not an email_messages row: counted in no analytics, step counter or quota, and no suppression applies.';

CREATE FUNCTION campaigns.enroll_contacts(p_campaign_id uuid, p_contact_ids uuid[], p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(contact_id uuid, outcome text, enrollment_id uuid)
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.enroll_contacts(p_campaign_id uuid, p_contact_ids uuid[], p_as_of timestamp with time zone) IS 'Enrolls contacts (at most 10,000 ids) into an active campaign now, at its first step, with launch''s rules: the first due time by the send strategy and sending window, and only mailable, unsuppressed contacts. Re-entry follows campaigns.reentry: once (default) never enrolls a contact twice; after_exit enrolls again once the previous enrollment has ended, never two live ones. Idempotent and safe under concurrent calls (calls for one campaign take turns on its row lock). One row per distinct id: outcome enrolled, already_enrolled, suppressed, not_mailable (unsubscribed, bounced, …) or not_found, with the enrollment''s id when there is one. QC409 unless the campaign is active; QC404 for an unknown campaign. The enrollments due now are processed at once, in the same transaction (process_due_steps with their ids), so a first email step is queued before this returns.';

CREATE FUNCTION campaigns.error_codes() RETURNS TABLE(sqlstate text, code text, http_status integer, description text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS <body>;

COMMENT ON FUNCTION campaigns.error_codes() IS 'The engine''s own SQLSTATEs (class QC) with their stable API code, HTTP status and meaning: the one table of them, which the service loads to map refusals to problem details.';

CREATE FUNCTION campaigns.evaluate_ab_tests(p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

COMMENT ON FUNCTION campaigns.evaluate_ab_tests(p_as_of timestamp with time zone) IS 'Decides every running A/B test whose duration has elapsed at p_as_of: the leader on the win metric wins when its two-sided confidence against the runner-up reaches confidence_threshold and every variant has minimum_sample_size delivered; otherwise the control (send_control). Deploying releases the held-back enrollments with the winner''s content in the same transaction, so it happens exactly once. Each test is decided under its row lock, taken in id order and waited for while a processing batch routes contacts into its step (the batch holds it shared to its commit), so no contact is held back after the release. Returns the number decided. Run by pg_cron every 15 minutes.';

CREATE TABLE campaigns.campaign_contacts (
    id uuid DEFAULT campaigns.uuid_v7() NOT NULL,
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
    entry smallint DEFAULT 1 NOT NULL,
    trigger_event_id uuid,
    trigger_properties jsonb,
    CONSTRAINT ck_campaign_contacts_completed CHECK (((status <> 'completed'::text) OR (completed_at IS NOT NULL))),
    CONSTRAINT ck_campaign_contacts_entry CHECK ((entry >= 1)),
    CONSTRAINT ck_campaign_contacts_exited CHECK (((status = 'exited'::text) = ((exited_at IS NOT NULL) AND (exit_reason IS NOT NULL)))),
    CONSTRAINT ck_campaign_contacts_pause_reason CHECK ((((status = 'paused'::text) = (pause_reason IS NOT NULL)) AND ((pause_reason IS NULL) OR (pause_reason = ANY (ARRAY['campaign'::text, 'reply'::text, 'manual'::text]))))),
    CONSTRAINT ck_campaign_contacts_status CHECK ((status = ANY (ARRAY['enrolled'::text, 'active'::text, 'paused'::text, 'completed'::text, 'exited'::text]))),
    CONSTRAINT ck_campaign_contacts_steps_completed CHECK ((steps_completed >= 0))
);

CREATE FUNCTION campaigns.exit_enrollment(p_campaign_id uuid, p_contact_id uuid, p_reason text DEFAULT 'manual'::text, p_as_of timestamp with time zone DEFAULT now()) RETURNS campaigns.campaign_contacts
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.exit_enrollment(p_campaign_id uuid, p_contact_id uuid, p_reason text, p_as_of timestamp with time zone) IS 'Exits one contact from a campaign by hand (exit_reason p_reason, default manual) and cancels its queued mail. QC404 when not enrolled (or not visible), QC409 when the enrollment already completed or exited.';

CREATE FUNCTION campaigns.expire_approvals(p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.expire_approvals(p_as_of timestamp with time zone) IS 'Rejects every approval still pending 48 hours after it was requested (as of p_as_of), with a comment saying so, and returns scheduled campaigns among them to draft. Returns the number rejected. Run by pg_cron hourly; safe to run by hand at the same time.';

CREATE FUNCTION campaigns.find_message_for_reply(p_tenant_id uuid, p_references text[], p_from_email text DEFAULT NULL::text, p_subject text DEFAULT NULL::text) RETURNS uuid
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.find_message_for_reply(p_tenant_id uuid, p_references text[], p_from_email text, p_subject text) IS 'The tenant''s message a reply answers: the first of p_references (In-Reply-To, then References newest first; with or without <>) that is a stored Message-ID, else the newest message sent to the contact with address p_from_email whose subject equals p_subject without Re:/Fwd: prefixes. NULL when nothing matches. Runs as the caller (Row Level Security applies).';

CREATE FUNCTION campaigns.launch_campaign(p_campaign_id uuid, p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

COMMENT ON FUNCTION campaigns.launch_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) IS 'Launches a draft or scheduled campaign: enrolls the segment''s active, unsuppressed contacts at the first step (by step_order) with their first due time from the send strategy and sending window, and makes the campaign active. All or nothing. Refuses with QC404 (not found), QC409 (wrong status, or end_date at or before p_as_of), QC101 (no steps), QC105 (invalid steps), QC601 (an A/B test without 2 to 5 variants), QC102 (no eligible contact, unless the campaign has a trigger_event), QC103 (approvals missing), QC104 (monthly quota: mail sent this UTC month as the sender counts it, plus mail queued or being sent, plus the remaining email steps of running enrollments, plus enrolled x email steps). Returns the number enrolled.';

CREATE FUNCTION campaigns.launch_scheduled_campaigns(p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.launch_scheduled_campaigns(p_as_of timestamp with time zone) IS 'Launches every scheduled campaign whose scheduled_at is at or before p_as_of, exactly once; for a recurring template it launches a clone and moves scheduled_at to the next occurrence (completing the series after its last). A failed launch keeps its error in schedule_error and does not stop the others: a one-off schedule returns to draft, a series goes on. Returns the number launched. Run by pg_cron every minute.';

CREATE FUNCTION campaigns.next_local_time(p_at timestamp with time zone, p_timezone text, p_time time without time zone) RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS <body>;

COMMENT ON FUNCTION campaigns.next_local_time(p_at timestamp with time zone, p_timezone text, p_time time without time zone) IS 'The next instant at or after p_at whose local time in p_timezone is p_time (today if still ahead, else tomorrow).';

CREATE FUNCTION campaigns.next_occurrence(p_recurrence jsonb, p_after timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.next_occurrence(p_recurrence jsonb, p_after timestamp with time zone) IS 'The first occurrence of a recurrence strictly after p_after, or NULL when the series has ended (end_date). recurrence = {frequency daily|weekly|monthly, interval (default 1), days_of_week ISO 1-7 (weekly), day_of_month 1-31 clamped to the month''s last day (monthly), time HH:MM local (default 09:00), timezone (default UTC), start_date, end_date}. Local wall-clock time is kept across DST.';

CREATE FUNCTION campaigns.next_window_open(p_at timestamp with time zone, p_timezone text, p_days smallint[], p_start time without time zone, p_end time without time zone) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog'
    AS <body>;

COMMENT ON FUNCTION campaigns.next_window_open(p_at timestamp with time zone, p_timezone text, p_days smallint[], p_start time without time zone, p_end time without time zone) IS 'The earliest instant at or after p_at that falls inside the sending window (ISO weekdays p_days, local hours [p_start, p_end)) in p_timezone. NULL days and hours = no window.';

CREATE FUNCTION campaigns.pause_campaign(p_campaign_id uuid) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.pause_campaign(p_campaign_id uuid) IS 'Pauses an active campaign and its enrolled/active enrollments in one transaction (QC409 from any other status). Due times are kept. Takes effect at once: it waits for the processing batch that holds the campaign (at most one batch), and no batch claims its enrollments from then on, so once it returns no new message of the campaign is queued. Returns the number of enrollments paused.';

CREATE FUNCTION campaigns.preview_segment(p_rules jsonb, p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamp with time zone DEFAULT now(), p_sample integer DEFAULT 10) RETURNS TABLE(contact_count bigint, sample jsonb)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.preview_segment(p_rules jsonb, p_tenant_id uuid, p_as_of timestamp with time zone, p_sample integer) IS 'How many contacts the rules match now (status included; launch later skips inactive and suppressed ones), with up to p_sample of them (id, email, status) in email order. Changes nothing. QC501 for invalid rules.';

CREATE FUNCTION campaigns.preview_send_times(p_campaign_id uuid, p_sample_size integer DEFAULT 10, p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(contact_id uuid, email text, contact_timezone text, send_time timestamp with time zone, send_time_local text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET "TimeZone" TO 'UTC'
    AS <body>;

COMMENT ON FUNCTION campaigns.preview_send_times(p_campaign_id uuid, p_sample_size integer, p_as_of timestamp with time zone) IS 'When the first email would go to a sample of the campaign''s audience if launched at p_as_of (or at its scheduled time): contact, timezone, the instant in UTC and the local time as "YYYY-MM-DD HH:mm:ss ZZZ" (zone abbreviation), from the send strategy and the sending window.';

CREATE FUNCTION campaigns.process_due_steps(p_as_of timestamp with time zone DEFAULT now(), p_batch_size integer DEFAULT 5000, p_enrollment_ids uuid[] DEFAULT NULL::uuid[]) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

COMMENT ON FUNCTION campaigns.process_due_steps(p_as_of timestamp with time zone, p_batch_size integer, p_enrollment_ids uuid[]) IS 'Processes up to p_batch_size enrollments of active campaigns that are due at p_as_of (with p_enrollment_ids: only those of them, and no other work of the tick) (FOR NO KEY UPDATE SKIP LOCKED, so concurrent runs take disjoint rows and a foreign key''s lock on an enrollment does not hide it). Wait, condition and action steps run inline; an email step queues exactly one email_messages row per (enrollment, step) and advances in the same transaction; waits count from the due time (days/weeks keep local wall-clock time), or from the last email''s queue time when it was queued more than 5 minutes after its due time, so after a pause or an outage the next email still comes a full wait after the last one (docs/engine.md, Waits after a late email). Skips campaigns being paused (their processing slot is held exclusively by pause_campaign). Honours sending windows, campaign and sender daily limits, sender gaps, end_date (exit campaign_ended) and suppression (exit suppressed). Notifies campaigns_outbox. Returns the number of enrollments processed.';

CREATE FUNCTION campaigns.purge_cron_history(p_keep interval DEFAULT '7 days'::interval, p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.purge_cron_history(p_keep interval, p_as_of timestamp with time zone) IS 'Deletes pg_cron run details older than p_keep (default 7 days). Returns the number deleted. Run by pg_cron daily.';

CREATE FUNCTION campaigns.put_ab_test(p_campaign_id uuid, p_step_id uuid, p_test jsonb) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.put_ab_test(p_campaign_id uuid, p_step_id uuid, p_test jsonb) IS 'Creates or replaces the A/B test of an email step while the campaign is a draft (QC205 otherwise): settings (test_name, sample_percent, duration_hours, win_metric, confidence_threshold, minimum_sample_size) and 2 to 5 variants (subject_line, email_content, sender_name, sender_email, is_control), named A, B, … in order; the first is the control unless one is marked. QC404 for a step not in the campaign, QC601 for a non-email step or a wrong variant count. Returns the test id.';

CREATE FUNCTION campaigns.record_contact_events(p_events jsonb, p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(idx integer, result jsonb)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

COMMENT ON FUNCTION campaigns.record_contact_events(p_events jsonb, p_tenant_id uuid, p_as_of timestamp with time zone) IS 'Records 1 to 1,000 contact events ([{contact_id, name, properties, occurred_at, idempotency_key}]) for the tenant (default: the API transaction''s). Each ends the contact''s live enrollments in active or paused campaigns whose exit_events name it (exit_reason goal, queued mail cancelled; also a completed one whose last mail is still queued), then enrolls the contact into every active campaign whose trigger_event is its name and whose trigger_filter (segment rules; event.<name> reads the event''s properties) matches, with launch''s rules and the campaign''s reentry (campaigns._enroll_contacts); the event''s id and properties stay on the enrollment ({{ event.<name> }} in templates). An idempotency_key seen before (also within the batch) records nothing and returns the first event''s result with duplicate true. One row per event, in order: {event_id, contact_id, enrolled: [{campaign_id, enrollment_id, outcome}], exited: [{campaign_id, enrollment_id}], duplicate}. QC404 for an unknown contact; QC422 for a bad batch.';

CREATE FUNCTION campaigns.record_email_event(p_message_id uuid, p_event_type text, p_occurred_at timestamp with time zone DEFAULT now(), p_details jsonb DEFAULT '{}'::jsonb) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.record_email_event(p_message_id uuid, p_event_type text, p_occurred_at timestamp with time zone, p_details jsonb) IS 'Records one event of a sent message (delivered, open, click, reply, bounce_hard, bounce_soft, complaint, unsubscribe) and applies it: the message''s earliest delivered/open/click/reply/unsubscribe/bounce/complaint times (an event reported late but earlier moves them back) and unique step counters (a click implies an open); reply exits the enrollment (or pauses it / continues per campaigns.on_reply); unsubscribe suppresses for the tenant and exits the contact from every campaign, cancelling queued mail; a hard bounce, or the tenant''s threshold of consecutive soft bounces, suppresses and exits with reason bounced; a complaint suppresses globally and exits. A repeat of a provider event (details.provider_event_id) returns false and changes nothing. QC401 for an unknown type, QC404 for an unknown message.';

CREATE FUNCTION campaigns.record_send_result(p_message_id uuid, p_worker text, p_outcome text, p_smtp_response text DEFAULT NULL::text, p_error text DEFAULT NULL::text, p_as_of timestamp with time zone DEFAULT now(), p_subject text DEFAULT NULL::text, p_retry_base interval DEFAULT '00:01:00'::interval, p_retry_cap interval DEFAULT '01:00:00'::interval, p_retry_lifetime interval DEFAULT NULL::interval) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.record_send_result(p_message_id uuid, p_worker text, p_outcome text, p_smtp_response text, p_error text, p_as_of timestamp with time zone, p_subject text, p_retry_base interval, p_retry_cap interval, p_retry_lifetime interval) IS 'Records the SMTP result of one leased message, only while worker p_worker still holds its lease (else returns NULL and changes nothing). sent: status sent, sent_at, step emails_sent + 1, the tenant''s monthly count (tenant_send_usage) + 1, and a delivered event through record_email_event unless tenants.settings.delivery_events = ''provider''. retry (4xx, timeout, dropped connection): back to queued at p_as_of + least(p_retry_base * 2^(attempts-1), p_retry_cap = 1 hour) ± 25% jitter (and after the sender''s minimum gap), but no later than retry_expires_at (first transient failure + _retry_lifetime: sender account, tenant, p_retry_lifetime, 2 days), so the last try comes at the end of the lifetime; a retry at or after retry_expires_at fails the message (failure_kind retry_lifetime_expired). failed (5xx for the recipient): failed (bounced), counted as sent, plus a bounce_hard event (suppression, exits). rejected (permanent, not the recipient): failed (rejected, or render_limit when p_error starts with render_limit:) without bounce. release (not attempted): queued again. render_limit (the content went over a render limit; nothing sent): failed at once (failure_kind render_limit), not counted as sent, no bounce. Every outcome but release and render_limit counts one attempt (max_attempts is no longer a limit). Returns the new status.';

CREATE FUNCTION campaigns.record_send_results(p_worker text, p_message_ids uuid[], p_outcomes text[], p_smtp_responses text[] DEFAULT NULL::text[], p_errors text[] DEFAULT NULL::text[], p_subjects text[] DEFAULT NULL::text[], p_as_of timestamp with time zone DEFAULT now(), p_retry_base interval DEFAULT '00:01:00'::interval, p_retry_cap interval DEFAULT '01:00:00'::interval, p_retry_lifetime interval DEFAULT NULL::interval) RETURNS TABLE(message_id uuid, status text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    SET plan_cache_mode TO 'force_generic_plan'
    AS <body>;

COMMENT ON FUNCTION campaigns.record_send_results(p_worker text, p_message_ids uuid[], p_outcomes text[], p_smtp_responses text[], p_errors text[], p_subjects text[], p_as_of timestamp with time zone, p_retry_base interval, p_retry_cap interval, p_retry_lifetime interval) IS 'record_send_result for several results at once (what the worker calls: each flush commits the results that arrived while the previous one committed). Same semantics per message: element i of each array describes message i; results for leases this worker no longer holds change nothing and return a NULL status. Accepted mail is recorded set-based, other outcomes one by one through record_send_result. Returns (message_id, new status) per input.';

CREATE FUNCTION campaigns.record_test_send(p_test_send_id uuid, p_worker text, p_error text DEFAULT NULL::text, p_permanent boolean DEFAULT false, p_max_attempts integer DEFAULT 3, p_as_of timestamp with time zone DEFAULT now()) RETURNS text
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.record_test_send(p_test_send_id uuid, p_worker text, p_error text, p_permanent boolean, p_max_attempts integer, p_as_of timestamp with time zone) IS 'Records the result of one test send leased to p_worker: sent (p_error null), else queued again a minute per attempt later, or failed when p_permanent or after p_max_attempts attempts. Returns the new status; null when the lease is no longer this worker''s (nothing changes).';

CREATE FUNCTION campaigns.record_webhook_result(p_delivery_id uuid, p_worker text, p_response_status integer, p_error text DEFAULT NULL::text, p_latency_ms integer DEFAULT NULL::integer, p_response_body text DEFAULT NULL::text, p_as_of timestamp with time zone DEFAULT now(), p_retry_base interval DEFAULT '00:00:05'::interval, p_failing_limit interval DEFAULT '3 days'::interval) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.record_webhook_result(p_delivery_id uuid, p_worker text, p_response_status integer, p_error text, p_latency_ms integer, p_response_body text, p_as_of timestamp with time zone, p_retry_base interval, p_failing_limit interval) IS 'Records one try of a leased webhook delivery, only while worker p_worker holds its lease (else NULL, nothing changes). A 2xx is delivered (and ends the subscription''s run of failures); anything else (another status, or p_error for no response: timeout, refused connection, a refused target address) is retried after 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h (p_retry_base scales the schedule) ± 10%, until the delivery''s 3 days are over (failed). A subscription failing without one success for p_failing_limit (3 days) is disabled with the reason, its queued deliveries fail, and a notice goes to channel campaigns_webhooks_disabled. A webhook action step''s delivery (no subscription) whose target the sender refused (p_error ''target not allowed: …'') fails at once. One that fails for good exits its enrollment with exit_reason webhook_failed when the step''s on_failure is exit and the enrollment is still live (enrolled, active or paused; its queued mail is cancelled); with continue nothing more happens. Returns the delivery''s new status.';

CREATE TABLE campaigns.webhook_deliveries (
    id uuid DEFAULT campaigns.uuid_v7() NOT NULL,
    tenant_id uuid NOT NULL,
    subscription_id uuid,
    event_id text NOT NULL,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    status text DEFAULT 'queued'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    lease_expires_at timestamp with time zone,
    locked_by text,
    response_status integer,
    response_body text,
    latency_ms integer,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone DEFAULT (now() + '3 days'::interval) NOT NULL,
    delivered_at timestamp with time zone,
    failed_at timestamp with time zone,
    url text,
    step_id uuid,
    enrollment_id uuid,
    on_failure text,
    CONSTRAINT ck_webhook_deliveries_action CHECK ((((url IS NULL) = (step_id IS NULL)) AND ((url IS NULL) = (enrollment_id IS NULL)) AND ((url IS NULL) = (on_failure IS NULL)))),
    CONSTRAINT ck_webhook_deliveries_attempts CHECK ((attempts >= 0)),
    CONSTRAINT ck_webhook_deliveries_lease CHECK (((status = 'sending'::text) = (lease_expires_at IS NOT NULL))),
    CONSTRAINT ck_webhook_deliveries_on_failure CHECK ((on_failure = ANY (ARRAY['continue'::text, 'exit'::text]))),
    CONSTRAINT ck_webhook_deliveries_payload CHECK ((jsonb_typeof(payload) = 'object'::text)),
    CONSTRAINT ck_webhook_deliveries_status CHECK ((status = ANY (ARRAY['queued'::text, 'sending'::text, 'delivered'::text, 'failed'::text]))),
    CONSTRAINT ck_webhook_deliveries_target CHECK (((subscription_id IS NULL) <> (url IS NULL))),
    CONSTRAINT ck_webhook_deliveries_url CHECK (((url ~ '^https?://[^/?#\s]+'::text) AND (length(url) <= 2048)))
);

CREATE FUNCTION campaigns.redeliver_webhook(p_delivery_id uuid, p_as_of timestamp with time zone DEFAULT now()) RETURNS campaigns.webhook_deliveries
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.redeliver_webhook(p_delivery_id uuid, p_as_of timestamp with time zone) IS 'Sends a webhook delivery''s event again: a new delivery with the same event id (webhook-id) and payload (and for a webhook action step''s delivery the same URL, step, enrollment and on_failure), due at p_as_of, with 3 days of retries. QC409 when its subscription is disabled, QC404 for an unknown delivery. Returns the new delivery.';

CREATE FUNCTION campaigns.refresh_campaign_audiences(p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

COMMENT ON FUNCTION campaigns.refresh_campaign_audiences(p_as_of timestamp with time zone) IS 'For active campaigns with refresh_audience: enrolls the segment''s new eligible members at the first step (due per the send strategy and window) and exits enrollments whose contact left the segment (reason segment_exit, queued mail cancelled). A dynamic segment is refreshed from its rules first (refresh_segment). Returns the number of enrollments added plus exited. Run by pg_cron daily.';

CREATE FUNCTION campaigns.refresh_dynamic_segments(p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.refresh_dynamic_segments(p_as_of timestamp with time zone) IS 'Refreshes every active dynamic segment (of every tenant when run by the owner, of the current tenant under the API role). Returns the number refreshed. Meant to run before refresh_campaign_audiences.';

CREATE FUNCTION campaigns.refresh_segment(p_segment_id uuid, p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(added integer, removed integer, contact_count integer)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.refresh_segment(p_segment_id uuid, p_as_of timestamp with time zone) IS 'Materialises a dynamic segment''s membership into segment_contacts as of p_as_of, set-based and wholesale (members that no longer match are removed, new matches added with added_via rule_match), and recounts contact_count; a static segment is only recounted. Returns (added, removed, contact_count). QC404 when the segment is not visible.';

CREATE FUNCTION campaigns.release_webhook_delivery(p_delivery_id uuid, p_worker text) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.release_webhook_delivery(p_delivery_id uuid, p_worker text) IS 'Gives back a leased webhook delivery that was not tried (the worker is stopping): queued again, no try spent. Only while p_worker holds the lease.';

CREATE FUNCTION campaigns.remove_segment_contacts(p_segment_id uuid, p_contact_ids uuid[]) RETURNS TABLE(added integer, removed integer, contact_count integer)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.remove_segment_contacts(p_segment_id uuid, p_contact_ids uuid[]) IS 'Removes contacts from a static segment (QC502 for a dynamic one); ids that are not members are ignored. Enrollments already made are not touched. Returns (0, removed, contact_count).';

CREATE FUNCTION campaigns.remove_suppression(p_suppression_id uuid, p_reason text, p_as_of timestamp with time zone DEFAULT now()) RETURNS campaigns.suppressions
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.remove_suppression(p_suppression_id uuid, p_reason text, p_as_of timestamp with time zone) IS 'Removes one of the tenant''s suppressions; a non-empty reason is required (QC422) and kept, with the actor, in suppression_audit. Global suppressions cannot be removed by a tenant (they are not in this table). QC404 when not visible. Returns the removed row.';

CREATE FUNCTION campaigns.reorder_steps(p_campaign_id uuid, p_step_ids uuid[]) RETURNS SETOF campaigns.campaign_steps
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.reorder_steps(p_campaign_id uuid, p_step_ids uuid[]) IS 'Sets step_order 1..n in the order of p_step_ids, which must list every step of the campaign once (QC422), in one transaction through the deferrable uq_campaign_steps_order. Display order only, except that the first step is where new enrollments start. Not on a completed campaign (QC205).';

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

CREATE FUNCTION campaigns.request_approval(p_campaign_id uuid, p_approvers jsonb, p_as_of timestamp with time zone DEFAULT now()) RETURNS SETOF campaigns.campaign_approvals
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.request_approval(p_campaign_id uuid, p_approvers jsonb, p_as_of timestamp with time zone) IS 'Opens a new approval round for a draft or scheduled campaign (QC409 otherwise, or while a round is pending): one pending row per {user_id, role} in p_approvers (roles campaign_manager, compliance_officer). requested_by is the API caller. Returns the new rows.';

CREATE FUNCTION campaigns.requeue_dead_letters(p_message_ids uuid[] DEFAULT NULL::uuid[], p_campaign_id uuid DEFAULT NULL::uuid, p_failure_kind text DEFAULT NULL::text, p_failed_after timestamp with time zone DEFAULT NULL::timestamp with time zone, p_failed_before timestamp with time zone DEFAULT NULL::timestamp with time zone, p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(message_id uuid, outcome text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.requeue_dead_letters(p_message_ids uuid[], p_campaign_id uuid, p_failure_kind text, p_failed_after timestamp with time zone, p_failed_before timestamp with time zone, p_tenant_id uuid, p_as_of timestamp with time zone) IS 'Puts the tenant''s dead letters (failed outbox messages) back in the queue: those matching every given filter (message ids, campaign, failure_kind, failed_at >= p_failed_after and < p_failed_before); at least one filter is required (QC422), as is a known failure_kind (QC422) and a tenant (default: the API transaction''s; QC422 without one); a range whose start is after its end is QC301. A requeued message is queued at p_as_of with a fresh retry lifetime (retry_expires_at, lease_reclaims and failure_kind cleared; attempts kept). One row per message considered, with outcome: requeued; suppressed (left failed: the address is suppressed for the tenant or globally, or the contact is no longer active, e.g. bounced or unsubscribed); campaign_ended (left failed: the campaign is no longer active or paused); enrollment_exited (left failed: the contact left the sequence); not_found (an id of p_message_ids that is not a failed message of the tenant: unknown, another tenant''s, not failed, or requeued by a concurrent call). Concurrent calls requeue each message once (rows are locked in id order and re-checked).';

CREATE FUNCTION campaigns.resume_campaign(p_campaign_id uuid, p_as_of timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.resume_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) IS 'Resumes a paused campaign (QC409 from any other status, or when its end_date is at or before p_as_of): enrollments paused with the campaign are released, those paused individually stay paused. Overdue enrollments are paced by the daily limit and sending window when processed. Returns the number released.';

CREATE FUNCTION campaigns.review_approval(p_approval_id uuid, p_decision text, p_comments text DEFAULT NULL::text, p_as_of timestamp with time zone DEFAULT now()) RETURNS campaigns.campaign_approvals
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.review_approval(p_approval_id uuid, p_decision text, p_comments text, p_as_of timestamp with time zone) IS 'Approves or rejects (p_decision) a pending approval with comments, by its assigned approver only (QC402 for anyone else; QC409 when no longer pending). Sets reviewed_at. A rejection closes the round and returns a scheduled campaign to draft.';

CREATE FUNCTION campaigns.revoke_api_key(p_api_key_id uuid) RETURNS TABLE(api_key_id uuid, user_id uuid, name text, key_prefix text, created_at timestamp with time zone, revoked_at timestamp with time zone)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.revoke_api_key(p_api_key_id uuid) IS 'Revokes an API key of the current tenant (its owner or an admin; QC403 otherwise). Idempotent: revoking a revoked key keeps the first revocation time.';

CREATE FUNCTION campaigns.rollup_analytics(p_day date DEFAULT NULL::date, p_days_back integer DEFAULT 0) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    SET plan_cache_mode TO 'force_custom_plan'
    SET work_mem TO '256MB'
    AS <body>;

COMMENT ON FUNCTION campaigns.rollup_analytics(p_day date, p_days_back integer) IS 'Upserts one campaign_analytics row per campaign and UTC day for p_day (NULL = yesterday in UTC) and the p_days_back days before it, so late events count. Rates are percentages rounded to 2 decimals (opens, clicks, replies, unsubscribes, complaints per delivered; delivery and bounce per sent; click-to-open = unique clicks / unique opens; 0 when the denominator is 0). Re-running with unchanged data changes nothing. Singleton (advisory lock): returns 0 when another run holds it; otherwise the number of rows written.';

CREATE FUNCTION campaigns.rotate_webhook_action_secret(p_as_of timestamp with time zone DEFAULT now()) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.rotate_webhook_action_secret(p_as_of timestamp with time zone) IS 'Replaces the current tenant''s webhook action secret with a new one and returns it. Every try from then on, of queued deliveries too, is signed with the new secret. Admins only (QC403).';

CREATE FUNCTION campaigns.run_campaign_action(p_campaign_id uuid, p_action text, p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(affected integer, campaign campaigns.campaigns)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.run_campaign_action(p_campaign_id uuid, p_action text, p_as_of timestamp with time zone) IS 'One lifecycle action and the campaign afterwards: launch / start (launch_campaign, which refreshes a dynamic segment first; affected = enrolled), pause (affected = enrollments paused), resume (released), unschedule, clone (the new draft; affected = steps copied). The refusals are those of launch_campaign, pause_campaign, resume_campaign, unschedule_campaign and clone_campaign.';

CREATE FUNCTION campaigns.schedule_campaign(p_campaign_id uuid, p_start timestamp with time zone, p_as_of timestamp with time zone DEFAULT now()) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.schedule_campaign(p_campaign_id uuid, p_start timestamp with time zone, p_as_of timestamp with time zone) IS 'Schedules a draft campaign (or moves an existing schedule) to launch at p_start, which must be after p_as_of (QC301). launch_scheduled_campaigns launches it once due.';

CREATE FUNCTION campaigns.schedule_campaign_at(p_campaign_id uuid, p_start_at timestamp with time zone DEFAULT NULL::timestamp with time zone, p_local_start timestamp without time zone DEFAULT NULL::timestamp without time zone, p_timezone text DEFAULT NULL::text, p_as_of timestamp with time zone DEFAULT now()) RETURNS campaigns.campaigns
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.schedule_campaign_at(p_campaign_id uuid, p_start_at timestamp with time zone, p_local_start timestamp without time zone, p_timezone text, p_as_of timestamp with time zone) IS 'Schedules a draft (or reschedules a scheduled) campaign at an instant (p_start_at) or at a local wall-clock time (p_local_start) in p_timezone, default the campaign''s timezone; the rules and refusals are schedule_campaign_from_request''s. QC301 when the instant is not after p_as_of, QC302 for a bad timezone, QC422 unless exactly one form is given, QC409 from another status.';

CREATE FUNCTION campaigns.schedule_campaign_from_request(p_campaign_id uuid, p_start_at text DEFAULT NULL::text, p_local_date date DEFAULT NULL::date, p_local_time time without time zone DEFAULT NULL::time without time zone, p_timezone text DEFAULT NULL::text, p_as_of timestamp with time zone DEFAULT now()) RETURNS campaigns.campaigns
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.schedule_campaign_from_request(p_campaign_id uuid, p_start_at text, p_local_date date, p_local_time time without time zone, p_timezone text, p_as_of timestamp with time zone) IS 'Schedules a draft (or reschedules a scheduled) campaign from a schedule request: p_start_at (ISO 8601) with a UTC offset or Z is an instant; without one, or p_local_date + p_local_time, it is a wall-clock time in p_timezone, default the campaign''s. QC422 unless exactly one form is given (both local fields together), for an unparsable p_start_at, or for p_timezone with an instant; QC302 for a bad timezone; QC301 when the instant is not after p_as_of; QC404 when not visible; QC409 from another status.';

CREATE FUNCTION campaigns.schedule_jobs(p_step_schedule text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.schedule_jobs(p_step_schedule text) IS 'Installs the engine''s pg_cron jobs (campaigns.engine_jobs()) idempotently and removes engine jobs no longer listed there. The step processing job (CALL drain_due_steps()) runs every p_step_schedule when given, else keeps its current schedule, else every 5 minutes. Run in the database named by cron.database_name; QC409 where pg_cron is not installed.';

CREATE FUNCTION campaigns.schedule_recurring_campaign(p_campaign_id uuid, p_recurrence jsonb, p_as_of timestamp with time zone DEFAULT now()) RETURNS timestamp with time zone
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.schedule_recurring_campaign(p_campaign_id uuid, p_recurrence jsonb, p_as_of timestamp with time zone) IS 'Makes a draft campaign a recurring template (see next_occurrence for the recurrence object) and schedules its first occurrence after p_as_of, which it returns. At each occurrence launch_scheduled_campaigns launches a clone of it (parent_campaign_id points back), so every occurrence is a new run. QC422 for an invalid recurrence, QC301 when no occurrence remains, QC409 unless draft or scheduled.';

CREATE FUNCTION campaigns.segment_rule_contacts(p_rules jsonb, p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamp with time zone DEFAULT now()) RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.segment_rule_contacts(p_rules jsonb, p_tenant_id uuid, p_as_of timestamp with time zone) IS 'The ids of p_tenant_id''s contacts (default: the API transaction''s tenant) matching the segment rules at p_as_of. QC501 for invalid rules.';

CREATE FUNCTION campaigns.tenant_usage(p_tenant_id uuid DEFAULT campaigns.current_tenant_id(), p_as_of timestamp with time zone DEFAULT now()) RETURNS TABLE(tenant_id uuid, month date, sent bigint, monthly_email_quota integer, remaining bigint, deferred_until timestamp with time zone, max_send_rate_per_second numeric)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.tenant_usage(p_tenant_id uuid, p_as_of timestamp with time zone) IS 'The tenant''s sending allowance for the UTC month of p_as_of: mail sent so far, monthly_email_quota and what remains of it (both NULL = unlimited), deferred_until while over-quota mail is held to next month, and max_send_rate_per_second. p_tenant_id defaults to the API transaction''s tenant; runs as the caller (RLS applies). No row for an unknown tenant.';

CREATE FUNCTION campaigns.unschedule_campaign(p_campaign_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.unschedule_campaign(p_campaign_id uuid) IS 'Cancels the schedule of a scheduled campaign, returning it to draft (QC409 otherwise).';

CREATE FUNCTION campaigns.update_campaign(p_campaign_id uuid, p_changes jsonb, p_as_of timestamp with time zone DEFAULT now()) RETURNS campaigns.campaigns
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.update_campaign(p_campaign_id uuid, p_changes jsonb, p_as_of timestamp with time zone) IS 'Applies the fields present in p_changes. completed: nothing may change (QC205). active / paused: name, description and settings (end_date, timezone, tracking, unsubscribe, daily_limit, sending window, window_missed_action, on_reply, from_name, reply_to_email, refresh_audience, reentry, trigger_event, trigger_filter, exit_events); the audience, sender, type, start and approval fields only while draft or scheduled (QC205). QC301 for an end_date not in the future, QC302 for a bad timezone, QC404 when not visible.';

CREATE FUNCTION campaigns.update_contact(p_contact_id uuid, p_changes jsonb) RETURNS campaigns.contacts
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.update_contact(p_contact_id uuid, p_changes jsonb) IS 'Applies the keys present in p_changes to a contact (null clears; custom_fields and tags are replaced). Re-activating an unsubscribed or bounced contact whose address is suppressed is refused (QC409). QC404 when the contact is not visible.';

CREATE FUNCTION campaigns.update_segment(p_segment_id uuid, p_changes jsonb, p_as_of timestamp with time zone DEFAULT now()) RETURNS campaigns.segments
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.update_segment(p_segment_id uuid, p_changes jsonb, p_as_of timestamp with time zone) IS 'Applies name, description, is_active and (dynamic segments only) rules from p_changes; new rules are validated (QC501) and materialised at once. The type of a segment never changes. QC404 when not visible.';

CREATE FUNCTION campaigns.update_step(p_campaign_id uuid, p_step_id uuid, p_changes jsonb) RETURNS campaigns.campaign_steps
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.update_step(p_campaign_id uuid, p_step_id uuid, p_changes jsonb) IS 'Applies the fields present in p_changes to a step (null clears). Not on a completed campaign (QC205). On an active or paused campaign the step type cannot change while contacts stand on the step or mail was sent from it (QC206); content, waits, rules and links may. Validated as create_step.';

CREATE FUNCTION campaigns.update_webhook_subscription(p_subscription_id uuid, p_changes jsonb, p_as_of timestamp with time zone DEFAULT now()) RETURNS campaigns.webhook_subscriptions
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.update_webhook_subscription(p_subscription_id uuid, p_changes jsonb, p_as_of timestamp with time zone) IS 'Changes a subscription''s url, event_types, description or enabled (other keys: QC422; unknown id: QC404). Disabling records "disabled by a user"; enabling clears the disabled reason and the run of failures, so a subscription the engine disabled can be turned on again once its receiver is fixed. Deliveries already failed stay failed (redeliver_webhook sends one again).';

CREATE FUNCTION campaigns.upsert_contacts(p_rows jsonb, p_tenant_id uuid DEFAULT campaigns.current_tenant_id()) RETURNS TABLE(row_index integer, contact_id uuid, outcome text, error_code text, error_field text, error_message text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'campaigns'
    SET jit TO 'off'
    AS <body>;

COMMENT ON FUNCTION campaigns.upsert_contacts(p_rows jsonb, p_tenant_id uuid) IS 'Upserts a JSON array of contact objects by email (case-insensitive) for p_tenant_id (default: the API transaction''s tenant), set-based, and returns one outcome per row: created, updated or rejected with error_code (NOT_AN_OBJECT, UNKNOWN_FIELD, INVALID_EMAIL, INVALID_TYPE, INVALID_TIMEZONE, DUPLICATE_IN_BATCH, CONCURRENT_UPDATE) and error_field. Valid rows are saved whatever the others hold. A present key overwrites (null clears), an absent key keeps the stored value, custom_fields merge, tags are replaced; status is never imported (no re-subscription).';

CREATE FUNCTION campaigns.webhook_action_secret() RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'campaigns'
    AS <body>;

COMMENT ON FUNCTION campaigns.webhook_action_secret() IS 'The current tenant''s webhook action secret (whsec_…), which signs the deliveries of its webhook action steps (Standard Webhooks). Admins only (QC403).';

CREATE TABLE campaigns.ab_test_assignments (
    id uuid DEFAULT campaigns.uuid_v7() NOT NULL,
    tenant_id uuid NOT NULL,
    ab_test_id uuid NOT NULL,
    variant_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    enrollment_id uuid NOT NULL,
    assigned_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE campaigns.ab_test_variants (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    ab_test_id uuid NOT NULL,
    variant_name text NOT NULL,
    is_control boolean DEFAULT false NOT NULL,
    subject_line text,
    email_content text,
    sender_name text,
    sender_email text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_ab_test_variants_name CHECK ((variant_name ~ '^[A-Z]$'::text)),
    CONSTRAINT ck_ab_test_variants_sender_email CHECK (((sender_email IS NULL) OR (sender_email ~ '^[^@\s]+@[^@\s]+$'::text)))
);

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
    emails_sent bigint DEFAULT 0 NOT NULL,
    emails_delivered bigint DEFAULT 0 NOT NULL,
    emails_bounced bigint DEFAULT 0 NOT NULL,
    unique_opens bigint DEFAULT 0 NOT NULL,
    total_opens bigint DEFAULT 0 NOT NULL,
    unique_clicks bigint DEFAULT 0 NOT NULL,
    total_clicks bigint DEFAULT 0 NOT NULL,
    replies bigint DEFAULT 0 NOT NULL,
    spam_complaints bigint DEFAULT 0 NOT NULL,
    unsubscribes bigint DEFAULT 0 NOT NULL,
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

CREATE TABLE campaigns.tenants (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    monthly_email_quota integer,
    max_send_rate_per_second numeric(10,2),
    soft_bounce_threshold integer DEFAULT 3 NOT NULL,
    settings jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    max_emails_per_contact_per_day integer,
    min_hours_between_emails numeric(5,2),
    retry_lifetime interval,
    webhook_secret text DEFAULT ('whsec_'::text || encode(decode(replace(((gen_random_uuid())::text || (gen_random_uuid())::text), '-'::text, ''::text), 'hex'::text), 'base64'::text)) NOT NULL,
    CONSTRAINT ck_tenants_contact_cap CHECK (((max_emails_per_contact_per_day IS NULL) OR (max_emails_per_contact_per_day > 0))),
    CONSTRAINT ck_tenants_contact_gap CHECK (((min_hours_between_emails IS NULL) OR (min_hours_between_emails > (0)::numeric))),
    CONSTRAINT ck_tenants_name CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 255))),
    CONSTRAINT ck_tenants_quota CHECK (((monthly_email_quota IS NULL) OR (monthly_email_quota > 0))),
    CONSTRAINT ck_tenants_rate CHECK (((max_send_rate_per_second IS NULL) OR (max_send_rate_per_second > (0)::numeric))),
    CONSTRAINT ck_tenants_retry_lifetime CHECK (((retry_lifetime IS NULL) OR ((retry_lifetime >= '00:01:00'::interval) AND (retry_lifetime <= '30 days'::interval)))),
    CONSTRAINT ck_tenants_settings CHECK ((jsonb_typeof(settings) = 'object'::text)),
    CONSTRAINT ck_tenants_soft_bounce_threshold CHECK ((soft_bounce_threshold > 0)),
    CONSTRAINT ck_tenants_webhook_secret CHECK ((webhook_secret ~ '^whsec_[A-Za-z0-9+/=]{32,}$'::text))
);

CREATE VIEW campaigns.bi_campaign_performance AS
 SELECT c.tenant_id,
    t.name AS tenant_name,
    c.id AS campaign_id,
    c.name AS campaign_name,
    c.campaign_type,
    c.status,
    c.launched_at,
    c.completed_at,
    (c.total_contacts)::bigint AS total_contacts,
    (COALESCE(a.emails_sent, (0)::numeric))::bigint AS emails_sent,
    (COALESCE(a.emails_delivered, (0)::numeric))::bigint AS emails_delivered,
    (COALESCE(a.emails_bounced, (0)::numeric))::bigint AS emails_bounced,
    (COALESCE(a.unique_opens, (0)::numeric))::bigint AS unique_opens,
    (COALESCE(a.total_opens, (0)::numeric))::bigint AS total_opens,
    (COALESCE(a.unique_clicks, (0)::numeric))::bigint AS unique_clicks,
    (COALESCE(a.total_clicks, (0)::numeric))::bigint AS total_clicks,
    (COALESCE(a.replies, (0)::numeric))::bigint AS replies,
    (COALESCE(a.spam_complaints, (0)::numeric))::bigint AS spam_complaints,
    (COALESCE(a.unsubscribes, (0)::numeric))::bigint AS unsubscribes,
    (r.delivery_rate)::numeric(5,2) AS delivery_rate,
    (r.open_rate)::numeric(5,2) AS open_rate,
    (r.click_rate)::numeric(5,2) AS click_rate,
    (r.click_to_open_rate)::numeric(5,2) AS click_to_open_rate,
    (r.reply_rate)::numeric(5,2) AS reply_rate,
    (r.unsubscribe_rate)::numeric(5,2) AS unsubscribe_rate,
    (r.bounce_rate)::numeric(5,2) AS bounce_rate,
    (r.complaint_rate)::numeric(5,2) AS complaint_rate,
    a.first_day,
    a.last_day,
    a.calculated_at
   FROM (((campaigns.campaigns c
     JOIN campaigns.tenants t ON ((t.id = c.tenant_id)))
     LEFT JOIN ( SELECT campaign_analytics.tenant_id,
            campaign_analytics.campaign_id,
            sum(campaign_analytics.emails_sent) AS emails_sent,
            sum(campaign_analytics.emails_delivered) AS emails_delivered,
            sum(campaign_analytics.emails_bounced) AS emails_bounced,
            sum(campaign_analytics.unique_opens) AS unique_opens,
            sum(campaign_analytics.total_opens) AS total_opens,
            sum(campaign_analytics.unique_clicks) AS unique_clicks,
            sum(campaign_analytics.total_clicks) AS total_clicks,
            sum(campaign_analytics.replies) AS replies,
            sum(campaign_analytics.spam_complaints) AS spam_complaints,
            sum(campaign_analytics.unsubscribes) AS unsubscribes,
            min(campaign_analytics.date) AS first_day,
            max(campaign_analytics.date) AS last_day,
            max(campaign_analytics.calculated_at) AS calculated_at
           FROM campaigns.campaign_analytics
          GROUP BY campaign_analytics.tenant_id, campaign_analytics.campaign_id) a ON (((a.tenant_id = c.tenant_id) AND (a.campaign_id = c.id))))
     CROSS JOIN LATERAL campaigns._rates((COALESCE(a.emails_sent, (0)::numeric))::bigint, (COALESCE(a.emails_delivered, (0)::numeric))::bigint, (COALESCE(a.emails_bounced, (0)::numeric))::bigint, (COALESCE(a.unique_opens, (0)::numeric))::bigint, (COALESCE(a.unique_clicks, (0)::numeric))::bigint, (COALESCE(a.replies, (0)::numeric))::bigint, (COALESCE(a.unsubscribes, (0)::numeric))::bigint, (COALESCE(a.spam_complaints, (0)::numeric))::bigint) r(delivery_rate, open_rate, click_rate, click_to_open_rate, reply_rate, unsubscribe_rate, bounce_rate, complaint_rate))
  WHERE (c.launched_at IS NOT NULL);

COMMENT ON VIEW campaigns.bi_campaign_performance IS 'One row per launched campaign (all tenants; launched_at set): totals of the daily rollup (campaign_analytics) and the rates recomputed from those totals (percent, 2 decimals, 0 for a zero denominator). Counters bigint, rates numeric(5,2). As fresh as the last rollup_analytics run.';

CREATE VIEW campaigns.bi_daily_metrics AS
 SELECT a.tenant_id,
    t.name AS tenant_name,
    a.campaign_id,
    c.name AS campaign_name,
    a.date,
    a.emails_sent,
    a.emails_delivered,
    a.emails_bounced,
    a.unique_opens,
    a.total_opens,
    a.unique_clicks,
    a.total_clicks,
    a.replies,
    a.spam_complaints,
    a.unsubscribes,
    a.delivery_rate,
    a.open_rate,
    a.click_rate,
    a.click_to_open_rate,
    a.reply_rate,
    a.unsubscribe_rate,
    a.bounce_rate,
    a.complaint_rate,
    a.calculated_at
   FROM ((campaigns.campaign_analytics a
     JOIN campaigns.campaigns c ON (((c.tenant_id = a.tenant_id) AND (c.id = a.campaign_id))))
     JOIN campaigns.tenants t ON ((t.id = a.tenant_id)));

COMMENT ON VIEW campaigns.bi_daily_metrics IS 'campaign_analytics with the tenant and campaign names: one row per campaign and UTC day (all tenants). Counters bigint, rates numeric(5,2).';

CREATE VIEW campaigns.bi_step_funnel AS
 SELECT s.tenant_id,
    t.name AS tenant_name,
    s.campaign_id,
    c.name AS campaign_name,
    c.status AS campaign_status,
    c.launched_at AS campaign_launched_at,
    s.id AS step_id,
    s.step_order,
    s.step_name,
    s.step_type,
    (s.emails_sent)::bigint AS emails_sent,
    (s.emails_delivered)::bigint AS emails_delivered,
    (s.opens)::bigint AS unique_opens,
    (s.clicks)::bigint AS unique_clicks,
    (s.replies)::bigint AS replies,
    (s.unsubscribes)::bigint AS unsubscribes,
    (s.bounces)::bigint AS bounces,
    (campaigns._rate((s.opens)::bigint, (s.emails_delivered)::bigint))::numeric(5,2) AS open_rate,
    (campaigns._rate((s.clicks)::bigint, (s.emails_delivered)::bigint))::numeric(5,2) AS click_rate,
    (campaigns._rate((s.replies)::bigint, (s.emails_delivered)::bigint))::numeric(5,2) AS reply_rate,
    (campaigns._rate((s.bounces)::bigint, (s.emails_sent)::bigint))::numeric(5,2) AS bounce_rate,
    (campaigns._rate((s.emails_sent)::bigint, (first_email.emails_sent)::bigint))::numeric(5,2) AS reach_rate
   FROM (((campaigns.campaign_steps s
     JOIN campaigns.campaigns c ON (((c.tenant_id = s.tenant_id) AND (c.id = s.campaign_id))))
     JOIN campaigns.tenants t ON ((t.id = s.tenant_id)))
     LEFT JOIN LATERAL ( SELECT f.emails_sent
           FROM campaigns.campaign_steps f
          WHERE ((f.tenant_id = s.tenant_id) AND (f.campaign_id = s.campaign_id) AND (f.step_type = 'email'::text))
          ORDER BY f.step_order
         LIMIT 1) first_email ON (true))
  WHERE (s.step_type = 'email'::text);

COMMENT ON VIEW campaigns.bi_step_funnel IS 'One row per email step of every campaign (all tenants), drafts included: filter on campaign_status or campaign_launched_at. Live counters of sent and tracked mail (unique opens and clicks per message), rates per delivered (bounces per sent), and reach relative to the campaign''s first email. Counters bigint, rates numeric(5,2).';

CREATE TABLE campaigns.blackout_dates (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    name text NOT NULL,
    starts_on date NOT NULL,
    ends_on date NOT NULL,
    action text DEFAULT 'delay'::text NOT NULL,
    campaign_ids uuid[],
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_blackout_dates_action CHECK ((action = ANY (ARRAY['delay'::text, 'skip'::text, 'allow'::text]))),
    CONSTRAINT ck_blackout_dates_name CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 255))),
    CONSTRAINT ck_blackout_dates_range CHECK (((starts_on <= ends_on) AND ((ends_on - starts_on) <= 366)))
);

CREATE TABLE campaigns.campaign_alerts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    kind text NOT NULL,
    value numeric(6,2) NOT NULL,
    threshold numeric(6,2) NOT NULL,
    action_taken text NOT NULL,
    raised_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_campaign_alerts_action CHECK ((action_taken = ANY (ARRAY['paused'::text, 'none'::text]))),
    CONSTRAINT ck_campaign_alerts_kind CHECK ((kind = ANY (ARRAY['bounce_rate'::text, 'complaint_rate'::text])))
);

CREATE TABLE campaigns.contact_events (
    id uuid DEFAULT campaigns.uuid_v7() NOT NULL,
    tenant_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    name text NOT NULL,
    properties jsonb DEFAULT '{}'::jsonb NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_contact_events_name CHECK ((name ~ '^[A-Za-z0-9_.:\-]{1,100}$'::text)),
    CONSTRAINT ck_contact_events_properties CHECK (((jsonb_typeof(properties) = 'object'::text) AND (octet_length((properties)::text) <= 65536)))
)
PARTITION BY RANGE (occurred_at);

CREATE TABLE campaigns.contact_events_default (
    id uuid DEFAULT campaigns.uuid_v7() NOT NULL,
    tenant_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    name text NOT NULL,
    properties jsonb DEFAULT '{}'::jsonb NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_contact_events_name CHECK ((name ~ '^[A-Za-z0-9_.:\-]{1,100}$'::text)),
    CONSTRAINT ck_contact_events_properties CHECK (((jsonb_typeof(properties) = 'object'::text) AND (octet_length((properties)::text) <= 65536)))
);

CREATE VIEW campaigns.dead_letters WITH (security_invoker='true') AS
 SELECT m.id AS message_id,
    m.tenant_id,
    m.campaign_id,
    c.name AS campaign_name,
    m.step_id,
    s.step_name,
    s.step_order,
    m.enrollment_id,
    m.contact_id,
    m.to_email,
    m.smtp_message_id,
    m.sender_account_id,
    m.failure_kind,
    m.attempts,
    m.lease_reclaims,
    m.last_error,
    m.smtp_response,
    m.queued_at,
    m.failed_at,
    m.retry_expires_at,
    m.locked_by AS last_worker
   FROM ((campaigns.email_messages m
     JOIN campaigns.campaigns c ON (((c.tenant_id = m.tenant_id) AND (c.id = m.campaign_id))))
     JOIN campaigns.campaign_steps s ON (((s.tenant_id = m.tenant_id) AND (s.id = m.step_id))))
  WHERE (m.status = 'failed'::text);

COMMENT ON VIEW campaigns.dead_letters IS 'Failed outbox messages (the dead-letter queue) with why (failure_kind: bounced, rejected, retry_lifetime_expired, worker_crashed, render_limit, or attempts_exhausted for rows failed before retry lifetimes), campaign, step, recorded attempts, lease reclaims, the last error and SMTP reply (smtp_response), when the retry lifetime ended (retry_expires_at) and the last worker. campaigns.requeue_dead_letters puts them back. Under RLS for campaigns_app.';

CREATE TABLE campaigns.email_events (
    id uuid DEFAULT campaigns.uuid_v7() NOT NULL,
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

CREATE TABLE campaigns.event_idempotency_keys (
    tenant_id uuid NOT NULL,
    key text NOT NULL,
    event_id uuid NOT NULL,
    result jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_event_idempotency_keys_key CHECK (((length(key) >= 1) AND (length(key) <= 255)))
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
    id uuid DEFAULT campaigns.uuid_v7() NOT NULL,
    tenant_id uuid NOT NULL,
    segment_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    added_at timestamp with time zone DEFAULT now() NOT NULL,
    added_via text DEFAULT 'manual'::text NOT NULL,
    CONSTRAINT ck_segment_contacts_added_via CHECK ((added_via = ANY (ARRAY['rule_match'::text, 'manual'::text, 'import'::text])))
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
    smtp_host text,
    smtp_port integer,
    smtp_security text,
    smtp_username text,
    smtp_password_env text,
    retry_lifetime interval,
    CONSTRAINT ck_sender_accounts_daily_limit CHECK (((daily_limit IS NULL) OR (daily_limit > 0))),
    CONSTRAINT ck_sender_accounts_from_email CHECK ((from_email ~ '^[^@\s]+@[^@\s]+$'::text)),
    CONSTRAINT ck_sender_accounts_min_gap CHECK (((min_gap_seconds IS NULL) OR (min_gap_seconds > 0))),
    CONSTRAINT ck_sender_accounts_reply_to CHECK (((reply_to_email IS NULL) OR (reply_to_email ~ '^[^@\s]+@[^@\s]+$'::text))),
    CONSTRAINT ck_sender_accounts_retry_lifetime CHECK (((retry_lifetime IS NULL) OR ((retry_lifetime >= '00:01:00'::interval) AND (retry_lifetime <= '30 days'::interval)))),
    CONSTRAINT ck_sender_accounts_smtp_host CHECK (((smtp_host IS NULL) OR (smtp_host ~ '^[A-Za-z0-9.:\[\]-]{1,255}$'::text))),
    CONSTRAINT ck_sender_accounts_smtp_password_env CHECK (((smtp_password_env IS NULL) OR (smtp_password_env ~ '^SMTP_PASSWORD_[A-Z0-9_]{1,64}$'::text))),
    CONSTRAINT ck_sender_accounts_smtp_port CHECK (((smtp_port IS NULL) OR ((smtp_port >= 1) AND (smtp_port <= 65535)))),
    CONSTRAINT ck_sender_accounts_smtp_relay CHECK (((smtp_host IS NOT NULL) OR ((smtp_port IS NULL) AND (smtp_security IS NULL) AND (smtp_username IS NULL) AND (smtp_password_env IS NULL)))),
    CONSTRAINT ck_sender_accounts_smtp_security CHECK (((smtp_security IS NULL) OR (smtp_security = ANY (ARRAY['none'::text, 'starttls'::text, 'tls'::text]))))
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

CREATE TABLE campaigns.tenant_send_usage (
    id uuid DEFAULT campaigns.uuid_v7() NOT NULL,
    tenant_id uuid NOT NULL,
    month date NOT NULL,
    sent bigint DEFAULT 0 NOT NULL,
    deferred_until timestamp with time zone,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT ck_tenant_send_usage_month CHECK ((month = (date_trunc('month'::text, (month)::timestamp with time zone))::date)),
    CONSTRAINT ck_tenant_send_usage_sent CHECK ((sent >= 0))
);

CREATE TABLE campaigns.test_sends (
    id uuid DEFAULT campaigns.uuid_v7() NOT NULL,
    tenant_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    step_id uuid NOT NULL,
    contact_id uuid,
    variant_name text,
    to_email text NOT NULL,
    message jsonb NOT NULL,
    smtp_message_id text NOT NULL,
    status text DEFAULT 'queued'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    lease_expires_at timestamp with time zone,
    locked_by text,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    sent_at timestamp with time zone,
    failed_at timestamp with time zone,
    CONSTRAINT ck_test_sends_attempts CHECK ((attempts >= 0)),
    CONSTRAINT ck_test_sends_lease CHECK (((status = 'sending'::text) = (lease_expires_at IS NOT NULL))),
    CONSTRAINT ck_test_sends_message CHECK ((jsonb_typeof(message) = 'object'::text)),
    CONSTRAINT ck_test_sends_status CHECK ((status = ANY (ARRAY['queued'::text, 'sending'::text, 'sent'::text, 'failed'::text]))),
    CONSTRAINT ck_test_sends_to_email CHECK (((to_email ~ '^[^@\s]+@[^@\s]+$'::text) AND (length(to_email) <= 320)))
);

CREATE TABLE campaigns.timezone_names (
    name text NOT NULL
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

ALTER TABLE ONLY campaigns.contact_events ATTACH PARTITION campaigns.contact_events_default DEFAULT;

ALTER TABLE ONLY campaigns.contact_events
    ADD CONSTRAINT pk_contact_events PRIMARY KEY (tenant_id, occurred_at, id);

ALTER TABLE ONLY campaigns.contact_events_default
    ADD CONSTRAINT contact_events_default_pkey PRIMARY KEY (tenant_id, occurred_at, id);

ALTER TABLE ONLY campaigns.ab_test_assignments
    ADD CONSTRAINT pk_ab_test_assignments PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.ab_test_variants
    ADD CONSTRAINT pk_ab_test_variants PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.ab_tests
    ADD CONSTRAINT pk_ab_tests PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.api_keys
    ADD CONSTRAINT pk_api_keys PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.blackout_dates
    ADD CONSTRAINT pk_blackout_dates PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.campaign_alerts
    ADD CONSTRAINT pk_campaign_alerts PRIMARY KEY (id);

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

ALTER TABLE ONLY campaigns.event_idempotency_keys
    ADD CONSTRAINT pk_event_idempotency_keys PRIMARY KEY (tenant_id, key);

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

ALTER TABLE ONLY campaigns.tenant_send_usage
    ADD CONSTRAINT pk_tenant_send_usage PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.tenants
    ADD CONSTRAINT pk_tenants PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.test_sends
    ADD CONSTRAINT pk_test_sends PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.timezone_names
    ADD CONSTRAINT pk_timezone_names PRIMARY KEY (name);

ALTER TABLE ONLY campaigns.users
    ADD CONSTRAINT pk_users PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.webhook_deliveries
    ADD CONSTRAINT pk_webhook_deliveries PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.webhook_subscriptions
    ADD CONSTRAINT pk_webhook_subscriptions PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.workspaces
    ADD CONSTRAINT pk_workspaces PRIMARY KEY (id);

ALTER TABLE ONLY campaigns.ab_test_assignments
    ADD CONSTRAINT uq_ab_test_assignments_contact UNIQUE (tenant_id, ab_test_id, contact_id);

ALTER TABLE ONLY campaigns.ab_test_assignments
    ADD CONSTRAINT uq_ab_test_assignments_enrollment UNIQUE (tenant_id, ab_test_id, enrollment_id);

ALTER TABLE ONLY campaigns.ab_test_variants
    ADD CONSTRAINT uq_ab_test_variants_name UNIQUE (tenant_id, ab_test_id, variant_name);

ALTER TABLE ONLY campaigns.ab_test_variants
    ADD CONSTRAINT uq_ab_test_variants_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.ab_test_variants
    ADD CONSTRAINT uq_ab_test_variants_test_id UNIQUE (tenant_id, ab_test_id, id);

ALTER TABLE ONLY campaigns.ab_tests
    ADD CONSTRAINT uq_ab_tests_step UNIQUE (tenant_id, step_id);

ALTER TABLE ONLY campaigns.ab_tests
    ADD CONSTRAINT uq_ab_tests_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.api_keys
    ADD CONSTRAINT uq_api_keys_key_hash UNIQUE (key_hash);

ALTER TABLE ONLY campaigns.campaign_analytics
    ADD CONSTRAINT uq_campaign_analytics_day UNIQUE (tenant_id, campaign_id, date);

ALTER TABLE ONLY campaigns.campaign_approvals
    ADD CONSTRAINT uq_campaign_approvals_round UNIQUE (tenant_id, campaign_id, approver_id, approval_role, round);

ALTER TABLE ONLY campaigns.campaign_contacts
    ADD CONSTRAINT uq_campaign_contacts_contact UNIQUE (tenant_id, campaign_id, contact_id, entry);

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

ALTER TABLE ONLY campaigns.tenant_send_usage
    ADD CONSTRAINT uq_tenant_send_usage_month UNIQUE (tenant_id, month);

ALTER TABLE ONLY campaigns.test_sends
    ADD CONSTRAINT uq_test_sends_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.users
    ADD CONSTRAINT uq_users_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.webhook_deliveries
    ADD CONSTRAINT uq_webhook_deliveries_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.webhook_subscriptions
    ADD CONSTRAINT uq_webhook_subscriptions_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.workspaces
    ADD CONSTRAINT uq_workspaces_tenant_id UNIQUE (tenant_id, id);

ALTER TABLE ONLY campaigns.workspaces
    ADD CONSTRAINT uq_workspaces_tenant_slug UNIQUE (tenant_id, slug);

CREATE INDEX ix_contact_events_contact ON ONLY campaigns.contact_events USING btree (tenant_id, contact_id, occurred_at);

CREATE INDEX contact_events_default_tenant_id_contact_id_occurred_at_idx ON campaigns.contact_events_default USING btree (tenant_id, contact_id, occurred_at);

CREATE INDEX ix_api_keys_tenant ON campaigns.api_keys USING btree (tenant_id);

CREATE INDEX ix_blackout_dates_tenant ON campaigns.blackout_dates USING btree (tenant_id, ends_on);

CREATE INDEX ix_campaign_alerts_campaign ON campaigns.campaign_alerts USING btree (tenant_id, campaign_id, raised_at);

CREATE INDEX ix_campaign_analytics_campaign_date ON campaigns.campaign_analytics USING btree (campaign_id, date);

CREATE INDEX ix_campaign_approvals_approver ON campaigns.campaign_approvals USING btree (tenant_id, approver_id, status);

CREATE INDEX ix_campaign_approvals_campaign ON campaigns.campaign_approvals USING btree (tenant_id, campaign_id, status);

CREATE INDEX ix_campaign_approvals_pending ON campaigns.campaign_approvals USING btree (requested_at) WHERE (status = 'pending'::text);

CREATE INDEX ix_campaign_contacts_campaign_status ON campaigns.campaign_contacts USING btree (tenant_id, campaign_id, status);

CREATE INDEX ix_campaign_contacts_contact ON campaigns.campaign_contacts USING btree (tenant_id, contact_id);

CREATE INDEX ix_campaign_contacts_due ON campaigns.campaign_contacts USING btree (next_email_scheduled_at) WHERE (status = ANY (ARRAY['enrolled'::text, 'active'::text]));

CREATE INDEX ix_campaigns_parent ON campaigns.campaigns USING btree (tenant_id, parent_campaign_id) WHERE (parent_campaign_id IS NOT NULL);

CREATE INDEX ix_campaigns_scheduled ON campaigns.campaigns USING btree (scheduled_at) WHERE (status = 'scheduled'::text);

CREATE INDEX ix_campaigns_segment ON campaigns.campaigns USING btree (tenant_id, segment_id);

CREATE INDEX ix_campaigns_tenant_created ON campaigns.campaigns USING btree (tenant_id, created_at DESC, id);

CREATE INDEX ix_campaigns_tenant_status ON campaigns.campaigns USING btree (tenant_id, status);

CREATE INDEX ix_campaigns_trigger_event ON campaigns.campaigns USING btree (tenant_id, trigger_event) WHERE (trigger_event IS NOT NULL);

CREATE INDEX ix_contacts_custom_fields ON campaigns.contacts USING gin (custom_fields jsonb_path_ops);

CREATE INDEX ix_contacts_tags ON campaigns.contacts USING gin (tags);

CREATE INDEX ix_contacts_tenant_created ON campaigns.contacts USING btree (tenant_id, created_at DESC, id);

CREATE INDEX ix_email_events_message ON campaigns.email_events USING btree (tenant_id, message_id);

CREATE INDEX ix_email_events_occurred ON campaigns.email_events USING btree (occurred_at);

CREATE INDEX ix_email_messages_ab_variant ON campaigns.email_messages USING btree (tenant_id, ab_variant_id) WHERE (ab_variant_id IS NOT NULL);

CREATE INDEX ix_email_messages_campaign_queued ON campaigns.email_messages USING btree (tenant_id, campaign_id, queued_at);

CREATE INDEX ix_email_messages_claim ON campaigns.email_messages USING btree (next_attempt_at) WHERE (status = 'queued'::text);

CREATE INDEX ix_email_messages_contact ON campaigns.email_messages USING btree (tenant_id, contact_id);

CREATE INDEX ix_email_messages_failed ON campaigns.email_messages USING btree (tenant_id, failed_at) WHERE (status = 'failed'::text);

CREATE INDEX ix_email_messages_lease ON campaigns.email_messages USING btree (lease_expires_at) WHERE (status = 'sending'::text);

CREATE INDEX ix_email_messages_sender_queued ON campaigns.email_messages USING btree (tenant_id, sender_account_id, queued_at) WHERE (sender_account_id IS NOT NULL);

CREATE INDEX ix_email_messages_sent_at ON campaigns.email_messages USING btree (sent_at) WHERE (sent_at IS NOT NULL);

CREATE INDEX ix_segment_contacts_contact ON campaigns.segment_contacts USING btree (tenant_id, contact_id);

CREATE INDEX ix_suppression_audit_tenant ON campaigns.suppression_audit USING btree (tenant_id, at);

CREATE INDEX ix_suppressions_tenant_added ON campaigns.suppressions USING btree (tenant_id, added_at DESC, id);

CREATE INDEX ix_test_sends_claim ON campaigns.test_sends USING btree (next_attempt_at) WHERE (status = 'queued'::text);

CREATE INDEX ix_test_sends_lease ON campaigns.test_sends USING btree (lease_expires_at) WHERE (status = 'sending'::text);

CREATE INDEX ix_test_sends_tenant_created ON campaigns.test_sends USING btree (tenant_id, created_at);

CREATE INDEX ix_webhook_deliveries_claim ON campaigns.webhook_deliveries USING btree (next_attempt_at) WHERE (status = 'queued'::text);

CREATE INDEX ix_webhook_deliveries_enrollment ON campaigns.webhook_deliveries USING btree (tenant_id, enrollment_id) WHERE (enrollment_id IS NOT NULL);

CREATE INDEX ix_webhook_deliveries_lease ON campaigns.webhook_deliveries USING btree (lease_expires_at) WHERE (status = 'sending'::text);

CREATE INDEX ix_webhook_deliveries_step ON campaigns.webhook_deliveries USING btree (tenant_id, step_id, created_at) WHERE (step_id IS NOT NULL);

CREATE INDEX ix_webhook_deliveries_subscription ON campaigns.webhook_deliveries USING btree (tenant_id, subscription_id, created_at);

CREATE UNIQUE INDEX uq_ab_test_variants_control ON campaigns.ab_test_variants USING btree (tenant_id, ab_test_id) WHERE is_control;

CREATE UNIQUE INDEX uq_contacts_tenant_email ON campaigns.contacts USING btree (tenant_id, lower(email));

CREATE UNIQUE INDEX uq_email_events_provider_event ON campaigns.email_events USING btree (tenant_id, message_id, event_type, provider_event_id) WHERE (provider_event_id IS NOT NULL);

CREATE UNIQUE INDEX uq_global_suppressions_email ON campaigns.global_suppressions USING btree (lower(email));

CREATE UNIQUE INDEX uq_sender_accounts_tenant_from ON campaigns.sender_accounts USING btree (tenant_id, lower(from_email));

CREATE UNIQUE INDEX uq_suppressions_tenant_email ON campaigns.suppressions USING btree (tenant_id, lower(email));

CREATE UNIQUE INDEX uq_users_tenant_email ON campaigns.users USING btree (tenant_id, lower(email));

ALTER INDEX campaigns.pk_contact_events ATTACH PARTITION campaigns.contact_events_default_pkey;

ALTER INDEX campaigns.ix_contact_events_contact ATTACH PARTITION campaigns.contact_events_default_tenant_id_contact_id_occurred_at_idx;

CREATE TRIGGER trg_ab_test_variants_validate AFTER INSERT OR DELETE OR UPDATE ON campaigns.ab_test_variants FOR EACH ROW EXECUTE FUNCTION campaigns._validate_ab_variant();

CREATE TRIGGER trg_ab_tests_touch BEFORE UPDATE ON campaigns.ab_tests FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_ab_tests_validate BEFORE INSERT OR UPDATE ON campaigns.ab_tests FOR EACH ROW EXECUTE FUNCTION campaigns._validate_ab_test();

CREATE CONSTRAINT TRIGGER trg_ab_tests_webhooks AFTER UPDATE OF status ON campaigns.ab_tests DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION campaigns._webhooks_on_ab_tests();

CREATE TRIGGER trg_campaign_contacts_webhooks_insert AFTER INSERT ON campaigns.campaign_contacts REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaigns._webhooks_on_enrollments();

CREATE TRIGGER trg_campaign_contacts_webhooks_update AFTER UPDATE ON campaigns.campaign_contacts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaigns._webhooks_on_enrollments();

CREATE TRIGGER trg_campaign_steps_targets BEFORE INSERT OR UPDATE OF campaign_id, email_step_id, next_step_id, true_next_step_id, false_next_step_id ON campaigns.campaign_steps FOR EACH ROW EXECUTE FUNCTION campaigns._check_step_targets();

CREATE TRIGGER trg_campaign_steps_touch BEFORE UPDATE ON campaigns.campaign_steps FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_campaign_steps_validate AFTER INSERT OR UPDATE OF campaign_id, step_type, condition_rules, email_step_id, action_type, action_config, next_step_id, true_next_step_id, false_next_step_id ON campaigns.campaign_steps FOR EACH ROW EXECUTE FUNCTION campaigns._validate_step();

CREATE TRIGGER trg_campaigns_outbox_hold AFTER UPDATE OF status ON campaigns.campaigns FOR EACH ROW WHEN (((old.status IS DISTINCT FROM new.status) AND ((old.status = 'active'::text) OR (new.status = 'active'::text)))) EXECUTE FUNCTION campaigns._notify_outbox_hold();

CREATE TRIGGER trg_campaigns_touch BEFORE UPDATE ON campaigns.campaigns FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_campaigns_trigger_filter BEFORE INSERT OR UPDATE OF trigger_filter ON campaigns.campaigns FOR EACH ROW EXECUTE FUNCTION campaigns._check_trigger_filter();

CREATE CONSTRAINT TRIGGER trg_campaigns_webhooks AFTER UPDATE OF status ON campaigns.campaigns DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION campaigns._webhooks_on_campaigns();

CREATE TRIGGER trg_contacts_outbox_hold AFTER UPDATE OF status ON campaigns.contacts FOR EACH ROW WHEN (((old.status = 'active'::text) AND (new.status <> 'active'::text))) EXECUTE FUNCTION campaigns._notify_outbox_hold();

CREATE TRIGGER trg_contacts_touch BEFORE UPDATE ON campaigns.contacts FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_email_events_webhooks AFTER INSERT ON campaigns.email_events REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION campaigns._webhooks_on_email_events();

CREATE TRIGGER trg_email_messages_webhooks AFTER UPDATE ON campaigns.email_messages REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaigns._webhooks_on_messages_sent();

CREATE TRIGGER trg_segments_touch BEFORE UPDATE ON campaigns.segments FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_sender_accounts_touch BEFORE UPDATE ON campaigns.sender_accounts FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_templates_touch BEFORE UPDATE ON campaigns.templates FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_tenants_touch BEFORE UPDATE ON campaigns.tenants FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_users_touch BEFORE UPDATE ON campaigns.users FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

CREATE TRIGGER trg_workspaces_touch BEFORE UPDATE ON campaigns.workspaces FOR EACH ROW EXECUTE FUNCTION campaigns._touch_updated_at();

ALTER TABLE ONLY campaigns.ab_test_assignments
    ADD CONSTRAINT fk_ab_test_assignments_contact FOREIGN KEY (tenant_id, contact_id) REFERENCES campaigns.contacts(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.ab_test_assignments
    ADD CONSTRAINT fk_ab_test_assignments_enrollment FOREIGN KEY (tenant_id, enrollment_id) REFERENCES campaigns.campaign_contacts(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.ab_test_assignments
    ADD CONSTRAINT fk_ab_test_assignments_variant FOREIGN KEY (tenant_id, ab_test_id, variant_id) REFERENCES campaigns.ab_test_variants(tenant_id, ab_test_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.ab_test_variants
    ADD CONSTRAINT fk_ab_test_variants_test FOREIGN KEY (tenant_id, ab_test_id) REFERENCES campaigns.ab_tests(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.ab_tests
    ADD CONSTRAINT fk_ab_tests_step FOREIGN KEY (tenant_id, campaign_id, step_id) REFERENCES campaigns.campaign_steps(tenant_id, campaign_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.ab_tests
    ADD CONSTRAINT fk_ab_tests_winner FOREIGN KEY (tenant_id, id, winner_variant_id) REFERENCES campaigns.ab_test_variants(tenant_id, ab_test_id, id);

ALTER TABLE ONLY campaigns.api_keys
    ADD CONSTRAINT fk_api_keys_user FOREIGN KEY (tenant_id, user_id) REFERENCES campaigns.users(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.blackout_dates
    ADD CONSTRAINT fk_blackout_dates_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.campaign_alerts
    ADD CONSTRAINT fk_campaign_alerts_campaign FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns.campaigns(tenant_id, id) ON DELETE CASCADE;

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
    ADD CONSTRAINT fk_campaigns_parent FOREIGN KEY (tenant_id, parent_campaign_id) REFERENCES campaigns.campaigns(tenant_id, id) ON DELETE SET NULL (parent_campaign_id);

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

ALTER TABLE campaigns.contact_events
    ADD CONSTRAINT fk_contact_events_contact FOREIGN KEY (tenant_id, contact_id) REFERENCES campaigns.contacts(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.contacts
    ADD CONSTRAINT fk_contacts_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.contacts
    ADD CONSTRAINT fk_contacts_timezone FOREIGN KEY (timezone) REFERENCES campaigns.timezone_names(name);

ALTER TABLE ONLY campaigns.email_events
    ADD CONSTRAINT fk_email_events_message FOREIGN KEY (tenant_id, message_id) REFERENCES campaigns.email_messages(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.email_messages
    ADD CONSTRAINT fk_email_messages_ab_variant FOREIGN KEY (tenant_id, ab_variant_id) REFERENCES campaigns.ab_test_variants(tenant_id, id);

ALTER TABLE ONLY campaigns.email_messages
    ADD CONSTRAINT fk_email_messages_contact FOREIGN KEY (tenant_id, contact_id) REFERENCES campaigns.contacts(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.email_messages
    ADD CONSTRAINT fk_email_messages_enrollment FOREIGN KEY (tenant_id, enrollment_id) REFERENCES campaigns.campaign_contacts(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.email_messages
    ADD CONSTRAINT fk_email_messages_sender FOREIGN KEY (tenant_id, sender_account_id) REFERENCES campaigns.sender_accounts(tenant_id, id);

ALTER TABLE ONLY campaigns.email_messages
    ADD CONSTRAINT fk_email_messages_step FOREIGN KEY (tenant_id, campaign_id, step_id) REFERENCES campaigns.campaign_steps(tenant_id, campaign_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.event_idempotency_keys
    ADD CONSTRAINT fk_event_idempotency_keys_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

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

ALTER TABLE ONLY campaigns.tenant_send_usage
    ADD CONSTRAINT fk_tenant_send_usage_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.test_sends
    ADD CONSTRAINT fk_test_sends_campaign FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns.campaigns(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.test_sends
    ADD CONSTRAINT fk_test_sends_step FOREIGN KEY (tenant_id, step_id) REFERENCES campaigns.campaign_steps(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.users
    ADD CONSTRAINT fk_users_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.webhook_deliveries
    ADD CONSTRAINT fk_webhook_deliveries_enrollment FOREIGN KEY (tenant_id, enrollment_id) REFERENCES campaigns.campaign_contacts(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.webhook_deliveries
    ADD CONSTRAINT fk_webhook_deliveries_step FOREIGN KEY (tenant_id, step_id) REFERENCES campaigns.campaign_steps(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.webhook_deliveries
    ADD CONSTRAINT fk_webhook_deliveries_subscription FOREIGN KEY (tenant_id, subscription_id) REFERENCES campaigns.webhook_subscriptions(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.webhook_subscriptions
    ADD CONSTRAINT fk_webhook_subscriptions_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.workspaces
    ADD CONSTRAINT fk_workspaces_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY campaigns.workspaces
    ADD CONSTRAINT fk_workspaces_timezone FOREIGN KEY (timezone) REFERENCES campaigns.timezone_names(name);

ALTER TABLE campaigns.ab_test_assignments ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.ab_test_variants ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.ab_tests ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.api_keys ENABLE ROW LEVEL SECURITY;

CREATE POLICY bi_read_all ON campaigns.ab_test_variants FOR SELECT TO campaigns_readonly USING (true);

CREATE POLICY bi_read_all ON campaigns.ab_tests FOR SELECT TO campaigns_readonly USING (true);

CREATE POLICY bi_read_all ON campaigns.campaign_alerts FOR SELECT TO campaigns_readonly USING (true);

CREATE POLICY bi_read_all ON campaigns.campaign_analytics FOR SELECT TO campaigns_readonly USING (true);

CREATE POLICY bi_read_all ON campaigns.contact_events FOR SELECT TO campaigns_readonly USING (true);

CREATE POLICY bi_read_all ON campaigns.tenant_send_usage FOR SELECT TO campaigns_readonly USING (true);

ALTER TABLE campaigns.blackout_dates ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.campaign_alerts ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.campaign_analytics ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.campaign_approvals ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.campaign_contacts ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.campaign_steps ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.campaigns ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.contact_events ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.contacts ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.email_events ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.email_messages ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.event_idempotency_keys ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.segment_contacts ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.segments ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.sender_accounts ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.suppression_audit ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.suppressions ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.templates ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON campaigns.ab_test_assignments TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.ab_test_variants TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.ab_tests TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.api_keys TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.blackout_dates TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.campaign_alerts TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.campaign_analytics TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.campaign_approvals TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.campaign_contacts TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.campaign_steps TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.campaigns TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.contact_events TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.contacts TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.email_events TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.email_messages TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.event_idempotency_keys TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.segment_contacts TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.segments TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.sender_accounts TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.suppression_audit TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.suppressions TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.templates TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.tenant_send_usage TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.tenants TO campaigns_app USING ((id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.test_sends TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.users TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.webhook_deliveries TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.webhook_subscriptions TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

CREATE POLICY tenant_isolation ON campaigns.workspaces TO campaigns_app USING ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid)) WITH CHECK ((tenant_id = (NULLIF(current_setting('campaigns.tenant_id'::text, true), ''::text))::uuid));

ALTER TABLE campaigns.tenant_send_usage ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.tenants ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.test_sends ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.users ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.webhook_deliveries ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.webhook_subscriptions ENABLE ROW LEVEL SECURITY;

ALTER TABLE campaigns.workspaces ENABLE ROW LEVEL SECURITY;

GRANT USAGE ON SCHEMA campaigns TO campaigns_app;
GRANT USAGE ON SCHEMA campaigns TO campaigns_worker;
GRANT USAGE ON SCHEMA campaigns TO campaigns_readonly;

REVOKE ALL ON FUNCTION campaigns._action_config_error(p_tenant_id uuid, p_campaign_id uuid, p_action text, p_config jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._action_config_error(p_tenant_id uuid, p_campaign_id uuid, p_action text, p_config jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._action_config_error(p_tenant_id uuid, p_campaign_id uuid, p_action text, p_config jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._add_send_usage(p_tenant_id uuid, p_sent bigint, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._add_send_usage(p_tenant_id uuid, p_sent bigint, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._add_send_usage(p_tenant_id uuid, p_sent bigint, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._add_wait(p_from timestamp with time zone, p_value integer, p_unit text, p_timezone text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._add_wait(p_from timestamp with time zone, p_value integer, p_unit text, p_timezone text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._add_wait(p_from timestamp with time zone, p_value integer, p_unit text, p_timezone text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._apply_blackouts(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._apply_blackouts(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._apply_blackouts(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._apply_contact_caps(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._apply_contact_caps(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._apply_contact_caps(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._apply_send_limits(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._apply_send_limits(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._apply_send_limits(p_as_of timestamp with time zone) TO campaigns_worker;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.ab_tests TO campaigns_app;
GRANT SELECT ON TABLE campaigns.ab_tests TO campaigns_readonly;

REVOKE ALL ON FUNCTION campaigns._assign_ab_sample(p_test campaigns.ab_tests, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._assign_ab_sample(p_test campaigns.ab_tests, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._assign_ab_sample(p_test campaigns.ab_tests, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._campaign_settings() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._campaign_settings() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._campaign_settings() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._campaign_structure() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._campaign_structure() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._campaign_structure() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._check_campaign_ab_tests(p_tenant_id uuid, p_campaign_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._check_campaign_ab_tests(p_tenant_id uuid, p_campaign_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._check_campaign_ab_tests(p_tenant_id uuid, p_campaign_id uuid) TO campaigns_worker;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.campaign_steps TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.campaigns TO campaigns_app;

REVOKE ALL ON FUNCTION campaigns._check_step_not_in_use(p_campaign campaigns.campaigns, p_step campaigns.campaign_steps, p_refusal text, p_hint text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._check_step_not_in_use(p_campaign campaigns.campaigns, p_step campaigns.campaign_steps, p_refusal text, p_hint text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._check_step_not_in_use(p_campaign campaigns.campaigns, p_step campaigns.campaign_steps, p_refusal text, p_hint text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._check_step_targets() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._check_step_targets() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._check_step_targets() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._check_timezone(p_timezone text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._check_timezone(p_timezone text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._check_timezone(p_timezone text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._check_trigger_filter() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._check_trigger_filter() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._check_trigger_filter() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._compile_segment_condition(p_node jsonb, p_path text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._compile_segment_condition(p_node jsonb, p_path text[]) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._compile_segment_condition(p_node jsonb, p_path text[]) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._compile_segment_group(p_node jsonb, p_path text[], p_depth integer, p_root boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._compile_segment_group(p_node jsonb, p_path text[], p_depth integer, p_root boolean) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._compile_segment_group(p_node jsonb, p_path text[], p_depth integer, p_root boolean) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.uuid_v7() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.uuid_v7() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.uuid_v7() TO campaigns_worker;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.contacts TO campaigns_app;

REVOKE ALL ON FUNCTION campaigns._condition_holds(p_rules jsonb, p_scope_step_id uuid, p_tenant_id uuid, p_enrollment_id uuid, p_contact campaigns.contacts) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._condition_holds(p_rules jsonb, p_scope_step_id uuid, p_tenant_id uuid, p_enrollment_id uuid, p_contact campaigns.contacts) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._condition_holds(p_rules jsonb, p_scope_step_id uuid, p_tenant_id uuid, p_enrollment_id uuid, p_contact campaigns.contacts) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._condition_rules_error(p_rules jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._condition_rules_error(p_rules jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._condition_rules_error(p_rules jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._contact_attribute_holds(p_rules jsonb, p_contact campaigns.contacts, p_event jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._contact_attribute_holds(p_rules jsonb, p_contact campaigns.contacts, p_event jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._contact_attribute_holds(p_rules jsonb, p_contact campaigns.contacts, p_event jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._count_deliveries(p_tenant_ids uuid[], p_step_ids uuid[], p_contact_ids uuid[], p_first boolean[]) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._count_deliveries(p_tenant_ids uuid[], p_step_ids uuid[], p_contact_ids uuid[], p_first boolean[]) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._count_deliveries(p_tenant_ids uuid[], p_step_ids uuid[], p_contact_ids uuid[], p_first boolean[]) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._deploy_ab_winner(p_test campaigns.ab_tests, p_winner uuid, p_decision text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._deploy_ab_winner(p_test campaigns.ab_tests, p_winner uuid, p_decision text, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._deploy_ab_winner(p_test campaigns.ab_tests, p_winner uuid, p_decision text, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._end_expired_campaigns(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._end_expired_campaigns(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._end_expired_campaigns(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._enqueue_webhooks(p_events jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._enqueue_webhooks(p_events jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._enqueue_webhooks(p_events jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._enroll_contacts(p_campaign_id uuid, p_contact_ids uuid[], p_as_of timestamp with time zone, p_triggers jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._enroll_contacts(p_campaign_id uuid, p_contact_ids uuid[], p_as_of timestamp with time zone, p_triggers jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._enroll_contacts(p_campaign_id uuid, p_contact_ids uuid[], p_as_of timestamp with time zone, p_triggers jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._enroll_segment(p_campaign campaigns.campaigns, p_entry_step uuid, p_as_of timestamp with time zone, p_skip_enrolled boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._enroll_segment(p_campaign campaigns.campaigns, p_entry_step uuid, p_as_of timestamp with time zone, p_skip_enrolled boolean) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._enroll_segment(p_campaign campaigns.campaigns, p_entry_step uuid, p_as_of timestamp with time zone, p_skip_enrolled boolean) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._exit_contact_everywhere(p_tenant_id uuid, p_contact_id uuid, p_reason text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._exit_contact_everywhere(p_tenant_id uuid, p_contact_id uuid, p_reason text, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._exit_contact_everywhere(p_tenant_id uuid, p_contact_id uuid, p_reason text, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._exit_enrollments(p_ids uuid[], p_reasons text[], p_as_of timestamp with time zone, p_from text[], p_cancel_mail boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._exit_enrollments(p_ids uuid[], p_reasons text[], p_as_of timestamp with time zone, p_from text[], p_cancel_mail boolean) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._exit_enrollments(p_ids uuid[], p_reasons text[], p_as_of timestamp with time zone, p_from text[], p_cancel_mail boolean) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._first_due_at(p_campaign campaigns.campaigns, p_contact_id uuid, p_timezone text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._first_due_at(p_campaign campaigns.campaigns, p_contact_id uuid, p_timezone text, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._first_due_at(p_campaign campaigns.campaigns, p_contact_id uuid, p_timezone text, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._hold_campaign_processing(p_campaign_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._hold_campaign_processing(p_campaign_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._hold_campaign_processing(p_campaign_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._json_keys(p_doc jsonb, p_allowed text[], p_what text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._json_keys(p_doc jsonb, p_allowed text[], p_what text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._json_keys(p_doc jsonb, p_allowed text[], p_what text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._launch_occurrence(p_parent_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._launch_occurrence(p_parent_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._launch_occurrence(p_parent_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._lock_campaign(p_campaign_id uuid, p_allowed text[], p_action text, p_errcode text, p_hint text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._lock_campaign(p_campaign_id uuid, p_allowed text[], p_action text, p_errcode text, p_hint text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._lock_campaign(p_campaign_id uuid, p_allowed text[], p_action text, p_errcode text, p_hint text) TO campaigns_worker;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.segments TO campaigns_app;

REVOKE ALL ON FUNCTION campaigns._lock_static_segment(p_segment_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._lock_static_segment(p_segment_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._lock_static_segment(p_segment_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._lock_step(p_campaign campaigns.campaigns, p_step_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._lock_step(p_campaign campaigns.campaigns, p_step_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._lock_step(p_campaign campaigns.campaigns, p_step_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._mint_api_key(p_tenant_id uuid, p_user_id uuid, p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._mint_api_key(p_tenant_id uuid, p_user_id uuid, p_name text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._mint_api_key(p_tenant_id uuid, p_user_id uuid, p_name text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._monthly_usage(p_tenant_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._monthly_usage(p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._monthly_usage(p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._next_unblocked_day(p_tenant_id uuid, p_campaign_id uuid, p_day date) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._next_unblocked_day(p_tenant_id uuid, p_campaign_id uuid, p_day date) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._next_unblocked_day(p_tenant_id uuid, p_campaign_id uuid, p_day date) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._normal_cdf(p_z double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._normal_cdf(p_z double precision) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._normal_cdf(p_z double precision) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._notify_outbox_hold() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._notify_outbox_hold() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._notify_outbox_hold() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._processing_lock_key(p_campaign_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._processing_lock_key(p_campaign_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._processing_lock_key(p_campaign_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._quota_room(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._quota_room(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._quota_room(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._raise_invalid_rule(p_errcode text, p_message text, p_step_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._raise_invalid_rule(p_errcode text, p_message text, p_step_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._raise_invalid_rule(p_errcode text, p_message text, p_step_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._rate(p_part bigint, p_whole bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._rate(p_part bigint, p_whole bigint) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._rate(p_part bigint, p_whole bigint) TO campaigns_worker;
GRANT ALL ON FUNCTION campaigns._rate(p_part bigint, p_whole bigint) TO campaigns_readonly;

REVOKE ALL ON FUNCTION campaigns._rates(p_sent bigint, p_delivered bigint, p_bounced bigint, p_unique_opens bigint, p_unique_clicks bigint, p_replies bigint, p_unsubscribes bigint, p_complaints bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._rates(p_sent bigint, p_delivered bigint, p_bounced bigint, p_unique_opens bigint, p_unique_clicks bigint, p_replies bigint, p_unsubscribes bigint, p_complaints bigint) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._rates(p_sent bigint, p_delivered bigint, p_bounced bigint, p_unique_opens bigint, p_unique_clicks bigint, p_replies bigint, p_unsubscribes bigint, p_complaints bigint) TO campaigns_worker;
GRANT ALL ON FUNCTION campaigns._rates(p_sent bigint, p_delivered bigint, p_bounced bigint, p_unique_opens bigint, p_unique_clicks bigint, p_replies bigint, p_unsubscribes bigint, p_complaints bigint) TO campaigns_readonly;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.email_messages TO campaigns_app;

REVOKE ALL ON FUNCTION campaigns._record_opt_out(p_msg campaigns.email_messages, p_email text, p_reason text, p_occurred_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._record_opt_out(p_msg campaigns.email_messages, p_email text, p_reason text, p_occurred_at timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._record_opt_out(p_msg campaigns.email_messages, p_email text, p_reason text, p_occurred_at timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._record_sent(p_worker text, p_ids uuid[], p_responses text[], p_subjects text[], p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._record_sent(p_worker text, p_ids uuid[], p_responses text[], p_subjects text[], p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._record_sent(p_worker text, p_ids uuid[], p_responses text[], p_subjects text[], p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._recount_segment(p_segment campaigns.segments, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._recount_segment(p_segment campaigns.segments, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._recount_segment(p_segment campaigns.segments, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._recurrence_error(p_rec jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._recurrence_error(p_rec jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._recurrence_error(p_rec jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._relay_key(p_host text, p_port integer) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._relay_key(p_host text, p_port integer) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._relay_key(p_host text, p_port integer) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._require_admin() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._require_admin() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._require_admin() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._retry_delay(p_attempts integer, p_base interval, p_cap interval) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._retry_delay(p_attempts integer, p_base interval, p_cap interval) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._retry_delay(p_attempts integer, p_base interval, p_cap interval) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._retry_lifetime(p_tenant_id uuid, p_sender_account_id uuid, p_default interval) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._retry_lifetime(p_tenant_id uuid, p_sender_account_id uuid, p_default interval) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._retry_lifetime(p_tenant_id uuid, p_sender_account_id uuid, p_default interval) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._route_ab_tests(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._route_ab_tests(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._route_ab_tests(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._run_action_steps(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._run_action_steps(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._run_action_steps(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._run_email_steps(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._run_email_steps(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._run_email_steps(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._segment_rule_error(p_path text[], p_message text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._segment_rule_error(p_path text[], p_message text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._segment_rule_error(p_path text[], p_message text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._start_ab_tests(p_as_of timestamp with time zone, p_wait boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._start_ab_tests(p_as_of timestamp with time zone, p_wait boolean) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._start_ab_tests(p_as_of timestamp with time zone, p_wait boolean) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._step_ab_test(p_campaign_id uuid, p_step_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._step_ab_test(p_campaign_id uuid, p_step_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._step_ab_test(p_campaign_id uuid, p_step_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._step_fields() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._step_fields() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._step_fields() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._suppress(p_tenant_id uuid, p_email text, p_reason text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._suppress(p_tenant_id uuid, p_email text, p_reason text, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._suppress(p_tenant_id uuid, p_email text, p_reason text, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._suppressed_addresses(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._suppressed_addresses(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._suppressed_addresses(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._touch_updated_at() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._touch_updated_at() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._touch_updated_at() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._trigger_rules(p_filter jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._trigger_rules(p_filter jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._trigger_rules(p_filter jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._update_keys(p_row anyelement, p_doc jsonb, p_keys text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._update_keys(p_row anyelement, p_doc jsonb, p_keys text[]) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._update_keys(p_row anyelement, p_doc jsonb, p_keys text[]) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._usage_month(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._usage_month(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._usage_month(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._validate_ab_test() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._validate_ab_test() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._validate_ab_test() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._validate_ab_variant() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._validate_ab_variant() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._validate_ab_variant() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._validate_campaign_graph(p_tenant_id uuid, p_campaign_id uuid, p_errcode text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._validate_campaign_graph(p_tenant_id uuid, p_campaign_id uuid, p_errcode text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._validate_campaign_graph(p_tenant_id uuid, p_campaign_id uuid, p_errcode text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._validate_step() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._validate_step() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._validate_step() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._webhook_retry_delay(p_attempts integer, p_base interval) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._webhook_retry_delay(p_attempts integer, p_base interval) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._webhook_retry_delay(p_attempts integer, p_base interval) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._webhook_secret() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._webhook_secret() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._webhook_secret() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._webhooks_on_ab_tests() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._webhooks_on_ab_tests() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._webhooks_on_ab_tests() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._webhooks_on_campaigns() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._webhooks_on_campaigns() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._webhooks_on_campaigns() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._webhooks_on_email_events() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._webhooks_on_email_events() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._webhooks_on_email_events() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._webhooks_on_enrollments() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._webhooks_on_enrollments() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._webhooks_on_enrollments() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._webhooks_on_messages_sent() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._webhooks_on_messages_sent() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._webhooks_on_messages_sent() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns._webhooks_wanted(p_types text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns._webhooks_wanted(p_types text[]) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns._webhooks_wanted(p_types text[]) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.ab_split_sizes(p_audience integer, p_sample_percent numeric, p_variants integer) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.ab_split_sizes(p_audience integer, p_sample_percent numeric, p_variants integer) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.ab_split_sizes(p_audience integer, p_sample_percent numeric, p_variants integer) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.ab_test_doc(p_campaign_id uuid, p_step_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.ab_test_doc(p_campaign_id uuid, p_step_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.ab_test_doc(p_campaign_id uuid, p_step_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.ab_test_results(p_ab_test_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.ab_test_results(p_ab_test_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.ab_test_results(p_ab_test_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.add_segment_contacts(p_segment_id uuid, p_contact_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.add_segment_contacts(p_segment_id uuid, p_contact_ids uuid[]) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.add_segment_contacts(p_segment_id uuid, p_contact_ids uuid[]) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.current_tenant_id() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.current_tenant_id() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.current_tenant_id() TO campaigns_worker;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.suppressions TO campaigns_app;

REVOKE ALL ON FUNCTION campaigns.add_suppression(p_email text, p_reason text, p_source text, p_expires_at timestamp with time zone, p_tenant_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.add_suppression(p_email text, p_reason text, p_source text, p_expires_at timestamp with time zone, p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.add_suppression(p_email text, p_reason text, p_source text, p_expires_at timestamp with time zone, p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.authenticate_api_key(p_key text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.authenticate_api_key(p_key text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.authenticate_api_key(p_key text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.blackout_action(p_tenant_id uuid, p_campaign_id uuid, p_day date) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.blackout_action(p_tenant_id uuid, p_campaign_id uuid, p_day date) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.blackout_action(p_tenant_id uuid, p_campaign_id uuid, p_day date) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.campaign_analytics_report(p_campaign_id uuid, p_start date, p_end date, p_group_by text, p_days integer) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.campaign_analytics_report(p_campaign_id uuid, p_start date, p_end date, p_group_by text, p_days integer) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.campaign_analytics_report(p_campaign_id uuid, p_start date, p_end date, p_group_by text, p_days integer) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.campaign_report(p_campaign_id uuid, p_days integer, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.campaign_report(p_campaign_id uuid, p_days integer, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.campaign_report(p_campaign_id uuid, p_days integer, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.check_deliverability(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.check_deliverability(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.check_deliverability(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.check_suppression(p_email text, p_tenant_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.check_suppression(p_email text, p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.check_suppression(p_email text, p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.choose_ab_winner(p_ab_test_id uuid, p_variant_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.choose_ab_winner(p_ab_test_id uuid, p_variant_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.choose_ab_winner(p_ab_test_id uuid, p_variant_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.choose_step_ab_winner(p_campaign_id uuid, p_step_id uuid, p_variant_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.choose_step_ab_winner(p_campaign_id uuid, p_step_id uuid, p_variant_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.choose_step_ab_winner(p_campaign_id uuid, p_step_id uuid, p_variant_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.claim_outbox_batch(p_worker text, p_limit integer, p_lease interval, p_as_of timestamp with time zone, p_max_reclaims integer, p_down_relays text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.claim_outbox_batch(p_worker text, p_limit integer, p_lease interval, p_as_of timestamp with time zone, p_max_reclaims integer, p_down_relays text[]) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.claim_test_sends(p_worker text, p_limit integer, p_lease interval, p_as_of timestamp with time zone, p_max_attempts integer) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.claim_test_sends(p_worker text, p_limit integer, p_lease interval, p_as_of timestamp with time zone, p_max_attempts integer) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.claim_test_sends(p_worker text, p_limit integer, p_lease interval, p_as_of timestamp with time zone, p_max_attempts integer) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.claim_webhook_batch(p_worker text, p_limit integer, p_lease interval, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.claim_webhook_batch(p_worker text, p_limit integer, p_lease interval, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.claim_webhook_batch(p_worker text, p_limit integer, p_lease interval, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.clone_campaign(p_campaign_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.clone_campaign(p_campaign_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.clone_campaign(p_campaign_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.compile_segment_rules(p_rules jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.compile_segment_rules(p_rules jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.compile_segment_rules(p_rules jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.complete_finished_campaigns(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.complete_finished_campaigns(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.complete_finished_campaigns(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.contact_timeline(p_contact_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.contact_timeline(p_contact_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.contact_timeline(p_contact_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.create_api_key(p_user_id uuid, p_name text) FROM PUBLIC;

REVOKE ALL ON FUNCTION campaigns.create_campaign(p_campaign jsonb, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.create_campaign(p_campaign jsonb, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.create_campaign(p_campaign jsonb, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.create_segment(p_name text, p_segment_type text, p_rules jsonb, p_description text, p_workspace_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.create_segment(p_name text, p_segment_type text, p_rules jsonb, p_description text, p_workspace_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.create_segment(p_name text, p_segment_type text, p_rules jsonb, p_description text, p_workspace_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.create_step(p_campaign_id uuid, p_step jsonb, p_after_step_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.create_step(p_campaign_id uuid, p_step jsonb, p_after_step_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.create_step(p_campaign_id uuid, p_step jsonb, p_after_step_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.create_tenant(p_name text, p_admin_email text) FROM PUBLIC;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.users TO campaigns_app;

REVOKE ALL ON FUNCTION campaigns.create_user(p_email text, p_name text, p_role text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.create_user(p_email text, p_name text, p_role text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.create_user(p_email text, p_name text, p_role text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.create_user_api_key(p_user_id uuid, p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.create_user_api_key(p_user_id uuid, p_name text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.create_user_api_key(p_user_id uuid, p_name text) TO campaigns_worker;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.webhook_subscriptions TO campaigns_app;

REVOKE ALL ON FUNCTION campaigns.create_webhook_subscription(p_url text, p_event_types text[], p_description text, p_tenant_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.create_webhook_subscription(p_url text, p_event_types text[], p_description text, p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.create_webhook_subscription(p_url text, p_event_types text[], p_description text, p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.cron_jobs_missing(p_jobs text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.cron_jobs_missing(p_jobs text[]) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.cron_jobs_missing(p_jobs text[]) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.current_user_id() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.current_user_id() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.current_user_id() TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.defer_over_quota_mail(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.defer_over_quota_mail(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.defer_over_quota_mail(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.delete_ab_test(p_campaign_id uuid, p_step_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.delete_ab_test(p_campaign_id uuid, p_step_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.delete_ab_test(p_campaign_id uuid, p_step_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.delete_campaign(p_campaign_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.delete_campaign(p_campaign_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.delete_campaign(p_campaign_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.delete_step(p_campaign_id uuid, p_step_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.delete_step(p_campaign_id uuid, p_step_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.delete_step(p_campaign_id uuid, p_step_id uuid) TO campaigns_worker;

REVOKE ALL ON PROCEDURE campaigns.drain_due_steps(INOUT p_processed bigint, IN p_batch_size integer, IN p_max_seconds double precision, IN p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON PROCEDURE campaigns.drain_due_steps(INOUT p_processed bigint, IN p_batch_size integer, IN p_max_seconds double precision, IN p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON PROCEDURE campaigns.drain_due_steps(INOUT p_processed bigint, IN p_batch_size integer, IN p_max_seconds double precision, IN p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.engine_jobs(p_step_schedule text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.engine_jobs(p_step_schedule text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.engine_jobs(p_step_schedule text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.engine_metrics(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.engine_metrics(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.engine_metrics(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.enqueue_test_send(p_campaign_id uuid, p_step_id uuid, p_contact_id uuid, p_variant_name text, p_to_email text, p_message jsonb, p_smtp_message_id text, p_limit integer, p_window interval, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.enqueue_test_send(p_campaign_id uuid, p_step_id uuid, p_contact_id uuid, p_variant_name text, p_to_email text, p_message jsonb, p_smtp_message_id text, p_limit integer, p_window interval, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.enqueue_test_send(p_campaign_id uuid, p_step_id uuid, p_contact_id uuid, p_variant_name text, p_to_email text, p_message jsonb, p_smtp_message_id text, p_limit integer, p_window interval, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.enroll_contacts(p_campaign_id uuid, p_contact_ids uuid[], p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.enroll_contacts(p_campaign_id uuid, p_contact_ids uuid[], p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.enroll_contacts(p_campaign_id uuid, p_contact_ids uuid[], p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.error_codes() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.error_codes() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.error_codes() TO campaigns_worker;
GRANT ALL ON FUNCTION campaigns.error_codes() TO campaigns_readonly;

REVOKE ALL ON FUNCTION campaigns.evaluate_ab_tests(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.evaluate_ab_tests(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.evaluate_ab_tests(p_as_of timestamp with time zone) TO campaigns_worker;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.campaign_contacts TO campaigns_app;

REVOKE ALL ON FUNCTION campaigns.exit_enrollment(p_campaign_id uuid, p_contact_id uuid, p_reason text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.exit_enrollment(p_campaign_id uuid, p_contact_id uuid, p_reason text, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.exit_enrollment(p_campaign_id uuid, p_contact_id uuid, p_reason text, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.expire_approvals(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.expire_approvals(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.expire_approvals(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.find_message_for_reply(p_tenant_id uuid, p_references text[], p_from_email text, p_subject text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.find_message_for_reply(p_tenant_id uuid, p_references text[], p_from_email text, p_subject text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.find_message_for_reply(p_tenant_id uuid, p_references text[], p_from_email text, p_subject text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.launch_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.launch_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.launch_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.launch_scheduled_campaigns(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.launch_scheduled_campaigns(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.launch_scheduled_campaigns(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.next_local_time(p_at timestamp with time zone, p_timezone text, p_time time without time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.next_local_time(p_at timestamp with time zone, p_timezone text, p_time time without time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.next_local_time(p_at timestamp with time zone, p_timezone text, p_time time without time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.next_occurrence(p_recurrence jsonb, p_after timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.next_occurrence(p_recurrence jsonb, p_after timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.next_occurrence(p_recurrence jsonb, p_after timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.next_window_open(p_at timestamp with time zone, p_timezone text, p_days smallint[], p_start time without time zone, p_end time without time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.next_window_open(p_at timestamp with time zone, p_timezone text, p_days smallint[], p_start time without time zone, p_end time without time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.next_window_open(p_at timestamp with time zone, p_timezone text, p_days smallint[], p_start time without time zone, p_end time without time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.pause_campaign(p_campaign_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.pause_campaign(p_campaign_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.pause_campaign(p_campaign_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.preview_segment(p_rules jsonb, p_tenant_id uuid, p_as_of timestamp with time zone, p_sample integer) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.preview_segment(p_rules jsonb, p_tenant_id uuid, p_as_of timestamp with time zone, p_sample integer) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.preview_segment(p_rules jsonb, p_tenant_id uuid, p_as_of timestamp with time zone, p_sample integer) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.preview_send_times(p_campaign_id uuid, p_sample_size integer, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.preview_send_times(p_campaign_id uuid, p_sample_size integer, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.preview_send_times(p_campaign_id uuid, p_sample_size integer, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.process_due_steps(p_as_of timestamp with time zone, p_batch_size integer, p_enrollment_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.process_due_steps(p_as_of timestamp with time zone, p_batch_size integer, p_enrollment_ids uuid[]) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.process_due_steps(p_as_of timestamp with time zone, p_batch_size integer, p_enrollment_ids uuid[]) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.purge_cron_history(p_keep interval, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.purge_cron_history(p_keep interval, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.purge_cron_history(p_keep interval, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.put_ab_test(p_campaign_id uuid, p_step_id uuid, p_test jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.put_ab_test(p_campaign_id uuid, p_step_id uuid, p_test jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.put_ab_test(p_campaign_id uuid, p_step_id uuid, p_test jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.record_contact_events(p_events jsonb, p_tenant_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.record_contact_events(p_events jsonb, p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.record_contact_events(p_events jsonb, p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.record_email_event(p_message_id uuid, p_event_type text, p_occurred_at timestamp with time zone, p_details jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.record_email_event(p_message_id uuid, p_event_type text, p_occurred_at timestamp with time zone, p_details jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.record_email_event(p_message_id uuid, p_event_type text, p_occurred_at timestamp with time zone, p_details jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.record_send_result(p_message_id uuid, p_worker text, p_outcome text, p_smtp_response text, p_error text, p_as_of timestamp with time zone, p_subject text, p_retry_base interval, p_retry_cap interval, p_retry_lifetime interval) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.record_send_result(p_message_id uuid, p_worker text, p_outcome text, p_smtp_response text, p_error text, p_as_of timestamp with time zone, p_subject text, p_retry_base interval, p_retry_cap interval, p_retry_lifetime interval) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.record_send_results(p_worker text, p_message_ids uuid[], p_outcomes text[], p_smtp_responses text[], p_errors text[], p_subjects text[], p_as_of timestamp with time zone, p_retry_base interval, p_retry_cap interval, p_retry_lifetime interval) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.record_send_results(p_worker text, p_message_ids uuid[], p_outcomes text[], p_smtp_responses text[], p_errors text[], p_subjects text[], p_as_of timestamp with time zone, p_retry_base interval, p_retry_cap interval, p_retry_lifetime interval) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.record_test_send(p_test_send_id uuid, p_worker text, p_error text, p_permanent boolean, p_max_attempts integer, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.record_test_send(p_test_send_id uuid, p_worker text, p_error text, p_permanent boolean, p_max_attempts integer, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.record_test_send(p_test_send_id uuid, p_worker text, p_error text, p_permanent boolean, p_max_attempts integer, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.record_webhook_result(p_delivery_id uuid, p_worker text, p_response_status integer, p_error text, p_latency_ms integer, p_response_body text, p_as_of timestamp with time zone, p_retry_base interval, p_failing_limit interval) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.record_webhook_result(p_delivery_id uuid, p_worker text, p_response_status integer, p_error text, p_latency_ms integer, p_response_body text, p_as_of timestamp with time zone, p_retry_base interval, p_failing_limit interval) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.record_webhook_result(p_delivery_id uuid, p_worker text, p_response_status integer, p_error text, p_latency_ms integer, p_response_body text, p_as_of timestamp with time zone, p_retry_base interval, p_failing_limit interval) TO campaigns_worker;

GRANT SELECT,INSERT ON TABLE campaigns.webhook_deliveries TO campaigns_app;

REVOKE ALL ON FUNCTION campaigns.redeliver_webhook(p_delivery_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.redeliver_webhook(p_delivery_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.redeliver_webhook(p_delivery_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.refresh_campaign_audiences(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.refresh_campaign_audiences(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.refresh_campaign_audiences(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.refresh_dynamic_segments(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.refresh_dynamic_segments(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.refresh_dynamic_segments(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.refresh_segment(p_segment_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.refresh_segment(p_segment_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.refresh_segment(p_segment_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.release_webhook_delivery(p_delivery_id uuid, p_worker text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.release_webhook_delivery(p_delivery_id uuid, p_worker text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.release_webhook_delivery(p_delivery_id uuid, p_worker text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.remove_segment_contacts(p_segment_id uuid, p_contact_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.remove_segment_contacts(p_segment_id uuid, p_contact_ids uuid[]) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.remove_segment_contacts(p_segment_id uuid, p_contact_ids uuid[]) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.remove_suppression(p_suppression_id uuid, p_reason text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.remove_suppression(p_suppression_id uuid, p_reason text, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.remove_suppression(p_suppression_id uuid, p_reason text, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.reorder_steps(p_campaign_id uuid, p_step_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.reorder_steps(p_campaign_id uuid, p_step_ids uuid[]) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.reorder_steps(p_campaign_id uuid, p_step_ids uuid[]) TO campaigns_worker;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.campaign_approvals TO campaigns_app;

REVOKE ALL ON FUNCTION campaigns.request_approval(p_campaign_id uuid, p_approvers jsonb, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.request_approval(p_campaign_id uuid, p_approvers jsonb, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.request_approval(p_campaign_id uuid, p_approvers jsonb, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.requeue_dead_letters(p_message_ids uuid[], p_campaign_id uuid, p_failure_kind text, p_failed_after timestamp with time zone, p_failed_before timestamp with time zone, p_tenant_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.requeue_dead_letters(p_message_ids uuid[], p_campaign_id uuid, p_failure_kind text, p_failed_after timestamp with time zone, p_failed_before timestamp with time zone, p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.requeue_dead_letters(p_message_ids uuid[], p_campaign_id uuid, p_failure_kind text, p_failed_after timestamp with time zone, p_failed_before timestamp with time zone, p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.resume_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.resume_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.resume_campaign(p_campaign_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.review_approval(p_approval_id uuid, p_decision text, p_comments text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.review_approval(p_approval_id uuid, p_decision text, p_comments text, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.review_approval(p_approval_id uuid, p_decision text, p_comments text, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.revoke_api_key(p_api_key_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.revoke_api_key(p_api_key_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.revoke_api_key(p_api_key_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.rollup_analytics(p_day date, p_days_back integer) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.rollup_analytics(p_day date, p_days_back integer) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.rollup_analytics(p_day date, p_days_back integer) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.rotate_webhook_action_secret(p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.rotate_webhook_action_secret(p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.rotate_webhook_action_secret(p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.run_campaign_action(p_campaign_id uuid, p_action text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.run_campaign_action(p_campaign_id uuid, p_action text, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.run_campaign_action(p_campaign_id uuid, p_action text, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.schedule_campaign(p_campaign_id uuid, p_start timestamp with time zone, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.schedule_campaign(p_campaign_id uuid, p_start timestamp with time zone, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.schedule_campaign(p_campaign_id uuid, p_start timestamp with time zone, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.schedule_campaign_at(p_campaign_id uuid, p_start_at timestamp with time zone, p_local_start timestamp without time zone, p_timezone text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.schedule_campaign_at(p_campaign_id uuid, p_start_at timestamp with time zone, p_local_start timestamp without time zone, p_timezone text, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.schedule_campaign_at(p_campaign_id uuid, p_start_at timestamp with time zone, p_local_start timestamp without time zone, p_timezone text, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.schedule_campaign_from_request(p_campaign_id uuid, p_start_at text, p_local_date date, p_local_time time without time zone, p_timezone text, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.schedule_campaign_from_request(p_campaign_id uuid, p_start_at text, p_local_date date, p_local_time time without time zone, p_timezone text, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.schedule_campaign_from_request(p_campaign_id uuid, p_start_at text, p_local_date date, p_local_time time without time zone, p_timezone text, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.schedule_jobs(p_step_schedule text) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.schedule_jobs(p_step_schedule text) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.schedule_jobs(p_step_schedule text) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.schedule_recurring_campaign(p_campaign_id uuid, p_recurrence jsonb, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.schedule_recurring_campaign(p_campaign_id uuid, p_recurrence jsonb, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.schedule_recurring_campaign(p_campaign_id uuid, p_recurrence jsonb, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.segment_rule_contacts(p_rules jsonb, p_tenant_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.segment_rule_contacts(p_rules jsonb, p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.segment_rule_contacts(p_rules jsonb, p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.tenant_usage(p_tenant_id uuid, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.tenant_usage(p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.tenant_usage(p_tenant_id uuid, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.unschedule_campaign(p_campaign_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.unschedule_campaign(p_campaign_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.unschedule_campaign(p_campaign_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.update_campaign(p_campaign_id uuid, p_changes jsonb, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.update_campaign(p_campaign_id uuid, p_changes jsonb, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.update_campaign(p_campaign_id uuid, p_changes jsonb, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.update_contact(p_contact_id uuid, p_changes jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.update_contact(p_contact_id uuid, p_changes jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.update_contact(p_contact_id uuid, p_changes jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.update_segment(p_segment_id uuid, p_changes jsonb, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.update_segment(p_segment_id uuid, p_changes jsonb, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.update_segment(p_segment_id uuid, p_changes jsonb, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.update_step(p_campaign_id uuid, p_step_id uuid, p_changes jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.update_step(p_campaign_id uuid, p_step_id uuid, p_changes jsonb) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.update_step(p_campaign_id uuid, p_step_id uuid, p_changes jsonb) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.update_webhook_subscription(p_subscription_id uuid, p_changes jsonb, p_as_of timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.update_webhook_subscription(p_subscription_id uuid, p_changes jsonb, p_as_of timestamp with time zone) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.update_webhook_subscription(p_subscription_id uuid, p_changes jsonb, p_as_of timestamp with time zone) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.upsert_contacts(p_rows jsonb, p_tenant_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.upsert_contacts(p_rows jsonb, p_tenant_id uuid) TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.upsert_contacts(p_rows jsonb, p_tenant_id uuid) TO campaigns_worker;

REVOKE ALL ON FUNCTION campaigns.webhook_action_secret() FROM PUBLIC;
GRANT ALL ON FUNCTION campaigns.webhook_action_secret() TO campaigns_app;
GRANT ALL ON FUNCTION campaigns.webhook_action_secret() TO campaigns_worker;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.ab_test_assignments TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.ab_test_variants TO campaigns_app;
GRANT SELECT ON TABLE campaigns.ab_test_variants TO campaigns_readonly;

GRANT SELECT ON TABLE campaigns.api_keys TO campaigns_app;

GRANT UPDATE(name) ON TABLE campaigns.api_keys TO campaigns_app;

GRANT UPDATE(revoked_at) ON TABLE campaigns.api_keys TO campaigns_app;

GRANT SELECT ON TABLE campaigns.campaign_analytics TO campaigns_app;
GRANT SELECT ON TABLE campaigns.campaign_analytics TO campaigns_readonly;

GRANT SELECT ON TABLE campaigns.tenants TO campaigns_app;

GRANT UPDATE(name) ON TABLE campaigns.tenants TO campaigns_app;

GRANT UPDATE(updated_at) ON TABLE campaigns.tenants TO campaigns_app;

GRANT UPDATE(webhook_secret) ON TABLE campaigns.tenants TO campaigns_app;

GRANT SELECT ON TABLE campaigns.bi_campaign_performance TO campaigns_readonly;

GRANT SELECT ON TABLE campaigns.bi_daily_metrics TO campaigns_readonly;

GRANT SELECT ON TABLE campaigns.bi_step_funnel TO campaigns_readonly;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.blackout_dates TO campaigns_app;

GRANT SELECT ON TABLE campaigns.campaign_alerts TO campaigns_app;
GRANT SELECT ON TABLE campaigns.campaign_alerts TO campaigns_readonly;

GRANT SELECT,INSERT ON TABLE campaigns.contact_events TO campaigns_app;
GRANT SELECT ON TABLE campaigns.contact_events TO campaigns_readonly;

GRANT SELECT ON TABLE campaigns.dead_letters TO campaigns_app;

GRANT SELECT,INSERT ON TABLE campaigns.email_events TO campaigns_app;

GRANT SELECT,INSERT,UPDATE ON TABLE campaigns.event_idempotency_keys TO campaigns_app;

GRANT SELECT ON TABLE campaigns.global_suppressions TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.segment_contacts TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.sender_accounts TO campaigns_app;

GRANT SELECT,INSERT ON TABLE campaigns.suppression_audit TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.templates TO campaigns_app;

GRANT SELECT ON TABLE campaigns.tenant_send_usage TO campaigns_app;
GRANT SELECT ON TABLE campaigns.tenant_send_usage TO campaigns_readonly;

GRANT SELECT,INSERT ON TABLE campaigns.test_sends TO campaigns_app;

GRANT SELECT ON TABLE campaigns.timezone_names TO campaigns_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE campaigns.workspaces TO campaigns_app;
