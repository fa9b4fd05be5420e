-- Create the campaigns schema, its roles and every table of the engine (tenancy, audience, content, sequences, outbox, events, analytics).
-- depends:

-- Roles are cluster-wide, so create them only when absent (several databases of one cluster share them).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'campaigns_app') THEN
        -- The REST API: subject to Row Level Security, sees one tenant per transaction.
        CREATE ROLE campaigns_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'campaigns_worker') THEN
        -- The outbox worker and pg_cron jobs: may only EXECUTE the engine's SECURITY DEFINER functions.
        CREATE ROLE campaigns_worker NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'campaigns_readonly') THEN
        -- BI tools: SELECT on the analytics tables and views, across tenants.
        CREATE ROLE campaigns_readonly NOLOGIN;
    END IF;
END
$roles$;

CREATE SCHEMA IF NOT EXISTS campaigns;

-- IANA zone names, so a bad timezone is rejected by a foreign key when saved instead of failing a
-- batch at send time. Not tenant-owned: a reference table under distribution.
CREATE TABLE campaigns.timezone_names (
    name text NOT NULL,
    CONSTRAINT pk_timezone_names PRIMARY KEY (name)
);
INSERT INTO campaigns.timezone_names (name) SELECT name FROM pg_catalog.pg_timezone_names;

-- ---------------------------------------------------------------------------------------------
-- Tenancy
-- ---------------------------------------------------------------------------------------------

CREATE TABLE campaigns.tenants (
    id                       uuid        NOT NULL DEFAULT gen_random_uuid(),
    name                     text        NOT NULL,
    -- NULL = unlimited. Launch is refused when enrolling would exceed the month's quota.
    monthly_email_quota      integer     NULL,
    -- NULL = unlimited. The outbox worker paces sends for the tenant to this rate.
    max_send_rate_per_second numeric(10,2) NULL,
    -- Consecutive soft bounces after which an address is suppressed.
    soft_bounce_threshold    integer     NOT NULL DEFAULT 3,
    settings                 jsonb       NOT NULL DEFAULT '{}',
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_tenants PRIMARY KEY (id),
    CONSTRAINT ck_tenants_name CHECK (length(btrim(name)) BETWEEN 1 AND 255),
    CONSTRAINT ck_tenants_quota CHECK (monthly_email_quota IS NULL OR monthly_email_quota > 0),
    CONSTRAINT ck_tenants_rate CHECK (max_send_rate_per_second IS NULL OR max_send_rate_per_second > 0),
    CONSTRAINT ck_tenants_soft_bounce_threshold CHECK (soft_bounce_threshold > 0),
    CONSTRAINT ck_tenants_settings CHECK (jsonb_typeof(settings) = 'object')
);

CREATE TABLE campaigns.workspaces (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id   uuid        NOT NULL,
    name        text        NOT NULL,
    slug        text        NOT NULL,
    -- Fallback timezone for contacts without one when the campaign gives none.
    timezone    text        NOT NULL DEFAULT 'UTC',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_workspaces PRIMARY KEY (id),
    CONSTRAINT uq_workspaces_tenant_id UNIQUE (tenant_id, id),
    CONSTRAINT uq_workspaces_tenant_slug UNIQUE (tenant_id, slug),
    CONSTRAINT fk_workspaces_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants (id) ON DELETE CASCADE,
    CONSTRAINT ck_workspaces_name CHECK (length(btrim(name)) BETWEEN 1 AND 255),
    CONSTRAINT fk_workspaces_timezone FOREIGN KEY (timezone) REFERENCES campaigns.timezone_names (name),
    CONSTRAINT ck_workspaces_slug CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$')
);

CREATE TABLE campaigns.users (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id   uuid        NOT NULL,
    email       text        NOT NULL,
    name        text        NULL,
    -- admin: manages users, keys and settings; member: works in the tenant's campaigns.
    role        text        NOT NULL DEFAULT 'member',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_users PRIMARY KEY (id),
    CONSTRAINT uq_users_tenant_id UNIQUE (tenant_id, id),
    CONSTRAINT fk_users_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants (id) ON DELETE CASCADE,
    CONSTRAINT ck_users_role CHECK (role IN ('admin', 'member')),
    CONSTRAINT ck_users_email CHECK (email ~ '^[^@\s]+@[^@\s]+$')
);
CREATE UNIQUE INDEX uq_users_tenant_email ON campaigns.users (tenant_id, lower(email));

CREATE TABLE campaigns.api_keys (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id     uuid        NOT NULL,
    -- The user the key acts for: created_by, approvals and audit entries name this user.
    user_id       uuid        NOT NULL,
    name          text        NOT NULL DEFAULT 'default',
    -- First characters of the key, shown in listings so a key can be recognised; not a secret.
    key_prefix    text        NOT NULL,
    -- sha256 of the whole key. The key itself is returned once at creation and never stored.
    key_hash      bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz NULL,
    revoked_at    timestamptz NULL,
    CONSTRAINT pk_api_keys PRIMARY KEY (id),
    CONSTRAINT uq_api_keys_key_hash UNIQUE (key_hash),
    CONSTRAINT fk_api_keys_user FOREIGN KEY (tenant_id, user_id) REFERENCES campaigns.users (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT ck_api_keys_hash_length CHECK (octet_length(key_hash) = 32)
);
CREATE INDEX ix_api_keys_tenant ON campaigns.api_keys (tenant_id);

-- ---------------------------------------------------------------------------------------------
-- Audience
-- ---------------------------------------------------------------------------------------------

CREATE TABLE campaigns.contacts (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id     uuid        NOT NULL,
    email         text        NOT NULL,
    first_name    text        NULL,
    last_name     text        NULL,
    company       text        NULL,
    job_title     text        NULL,
    city          text        NULL,
    state         text        NULL,
    country       text        NULL,
    -- IANA zone; NULL falls back to the campaign's, then the workspace's timezone.
    timezone      text        NULL,
    custom_fields jsonb       NOT NULL DEFAULT '{}',
    score         integer     NOT NULL DEFAULT 0,
    -- active: mailable; unsubscribed: via link or API; bounced: hard bounce or repeated soft bounces.
    status        text        NOT NULL DEFAULT 'active',
    tags          text[]      NOT NULL DEFAULT '{}',
    -- Soft bounces since the last delivery; reaching the tenant's threshold suppresses the address.
    consecutive_soft_bounces integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_contacts PRIMARY KEY (id),
    CONSTRAINT uq_contacts_tenant_id UNIQUE (tenant_id, id),
    CONSTRAINT fk_contacts_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants (id) ON DELETE CASCADE,
    CONSTRAINT fk_contacts_timezone FOREIGN KEY (timezone) REFERENCES campaigns.timezone_names (name),
    CONSTRAINT ck_contacts_status CHECK (status IN ('active', 'unsubscribed', 'bounced')),
    CONSTRAINT ck_contacts_email CHECK (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' AND length(email) <= 320),
    CONSTRAINT ck_contacts_custom_fields CHECK (jsonb_typeof(custom_fields) = 'object'),
    CONSTRAINT ck_contacts_soft_bounces CHECK (consecutive_soft_bounces >= 0)
);
-- Email is unique per tenant, case-insensitively; upserts use ON CONFLICT (tenant_id, lower(email)).
CREATE UNIQUE INDEX uq_contacts_tenant_email ON campaigns.contacts (tenant_id, lower(email));
CREATE INDEX ix_contacts_custom_fields ON campaigns.contacts USING gin (custom_fields jsonb_path_ops);
CREATE INDEX ix_contacts_tags ON campaigns.contacts USING gin (tags);

CREATE TABLE campaigns.segments (
    id                   uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id            uuid        NOT NULL,
    workspace_id         uuid        NULL,
    name                 text        NOT NULL,
    description          text        NULL,
    -- static: members added by hand or import; dynamic: members are the contacts matching `rules`.
    segment_type         text        NOT NULL DEFAULT 'static',
    rules                jsonb       NULL,
    contact_count        integer     NOT NULL DEFAULT 0,
    last_recalculated_at timestamptz NULL,
    is_active            boolean     NOT NULL DEFAULT true,
    created_by           uuid        NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_segments PRIMARY KEY (id),
    CONSTRAINT uq_segments_tenant_id UNIQUE (tenant_id, id),
    CONSTRAINT fk_segments_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants (id) ON DELETE CASCADE,
    CONSTRAINT fk_segments_workspace FOREIGN KEY (tenant_id, workspace_id) REFERENCES campaigns.workspaces (tenant_id, id),
    CONSTRAINT fk_segments_created_by FOREIGN KEY (tenant_id, created_by) REFERENCES campaigns.users (tenant_id, id),
    CONSTRAINT ck_segments_name CHECK (length(btrim(name)) BETWEEN 1 AND 255),
    CONSTRAINT ck_segments_type CHECK (segment_type IN ('static', 'dynamic')),
    CONSTRAINT ck_segments_rules CHECK (segment_type = 'static' OR jsonb_typeof(rules) = 'object')
);

CREATE TABLE campaigns.segment_contacts (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id   uuid        NOT NULL,
    segment_id  uuid        NOT NULL,
    contact_id  uuid        NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now(),
    -- rule_match: a dynamic segment's recalculation; manual: API or SQL; import: CSV import.
    added_via   text        NOT NULL DEFAULT 'manual',
    CONSTRAINT pk_segment_contacts PRIMARY KEY (id),
    CONSTRAINT uq_segment_contacts_member UNIQUE (tenant_id, segment_id, contact_id),
    CONSTRAINT fk_segment_contacts_segment FOREIGN KEY (tenant_id, segment_id) REFERENCES campaigns.segments (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_segment_contacts_contact FOREIGN KEY (tenant_id, contact_id) REFERENCES campaigns.contacts (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT ck_segment_contacts_added_via CHECK (added_via IN ('rule_match', 'manual', 'import'))
);
CREATE INDEX ix_segment_contacts_contact ON campaigns.segment_contacts (tenant_id, contact_id);

-- ---------------------------------------------------------------------------------------------
-- Content and senders
-- ---------------------------------------------------------------------------------------------

CREATE TABLE campaigns.templates (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id     uuid        NOT NULL,
    workspace_id  uuid        NULL,
    name          text        NOT NULL,
    -- Liquid sources, rendered by the outbox worker at send time.
    subject       text        NOT NULL DEFAULT '',
    html_content  text        NULL,
    text_content  text        NULL,
    created_by    uuid        NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_templates PRIMARY KEY (id),
    CONSTRAINT uq_templates_tenant_id UNIQUE (tenant_id, id),
    CONSTRAINT fk_templates_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants (id) ON DELETE CASCADE,
    CONSTRAINT fk_templates_workspace FOREIGN KEY (tenant_id, workspace_id) REFERENCES campaigns.workspaces (tenant_id, id),
    CONSTRAINT fk_templates_created_by FOREIGN KEY (tenant_id, created_by) REFERENCES campaigns.users (tenant_id, id),
    CONSTRAINT ck_templates_name CHECK (length(btrim(name)) BETWEEN 1 AND 255),
    CONSTRAINT ck_templates_body CHECK (html_content IS NOT NULL OR text_content IS NOT NULL)
);

CREATE TABLE campaigns.sender_accounts (
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id       uuid        NOT NULL,
    workspace_id    uuid        NULL,
    from_email      text        NOT NULL,
    from_name       text        NULL,
    reply_to_email  text        NULL,
    -- Opt-in limits (NULL = none). The cold-email preset is 50 a day and 120 s between sends.
    daily_limit     integer     NULL,
    min_gap_seconds integer     NULL,
    -- The last send slot handed out; the next is at least min_gap_seconds later.
    last_slot_at    timestamptz NULL,
    is_active       boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_sender_accounts PRIMARY KEY (id),
    CONSTRAINT uq_sender_accounts_tenant_id UNIQUE (tenant_id, id),
    CONSTRAINT fk_sender_accounts_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants (id) ON DELETE CASCADE,
    CONSTRAINT fk_sender_accounts_workspace FOREIGN KEY (tenant_id, workspace_id) REFERENCES campaigns.workspaces (tenant_id, id),
    CONSTRAINT ck_sender_accounts_from_email CHECK (from_email ~ '^[^@\s]+@[^@\s]+$'),
    CONSTRAINT ck_sender_accounts_reply_to CHECK (reply_to_email IS NULL OR reply_to_email ~ '^[^@\s]+@[^@\s]+$'),
    CONSTRAINT ck_sender_accounts_daily_limit CHECK (daily_limit IS NULL OR daily_limit > 0),
    CONSTRAINT ck_sender_accounts_min_gap CHECK (min_gap_seconds IS NULL OR min_gap_seconds > 0)
);
CREATE UNIQUE INDEX uq_sender_accounts_tenant_from ON campaigns.sender_accounts (tenant_id, lower(from_email));

-- ---------------------------------------------------------------------------------------------
-- Campaigns and sequences
-- ---------------------------------------------------------------------------------------------

CREATE TABLE campaigns.campaigns (
    id                    uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id             uuid        NOT NULL,
    workspace_id          uuid        NULL,
    name                  text        NOT NULL,
    description           text        NULL,
    campaign_type         text        NOT NULL DEFAULT 'drip',
    -- draft: created or schedule cancelled; scheduled: schedule_campaign; active: launch or resume;
    -- paused: pause_campaign; completed: auto-complete, or end_date passed.
    status                text        NOT NULL DEFAULT 'draft',
    segment_id            uuid        NULL,
    sender_account_id     uuid        NULL,
    total_contacts        integer     NOT NULL DEFAULT 0,
    from_email            text        NULL,
    from_name             text        NULL,
    reply_to_email        text        NULL,
    start_date            timestamptz NULL,
    -- Hard stop: remaining enrollments exit with reason campaign_ended.
    end_date              timestamptz NULL,
    timezone              text        NOT NULL DEFAULT 'UTC',
    send_strategy         text        NOT NULL DEFAULT 'immediate',
    track_opens           boolean     NOT NULL DEFAULT true,
    track_clicks          boolean     NOT NULL DEFAULT true,
    unsubscribe_enabled   boolean     NOT NULL DEFAULT true,
    -- Opt-in (NULL = none): emails per calendar day in the campaign timezone.
    daily_limit           integer     NULL,
    -- Sending window in the recipient's local time: ISO weekdays (1 = Monday … 7 = Sunday) and hours.
    -- NULL days or hours = no restriction.
    sending_days          smallint[]  NULL,
    sending_window_start  time        NULL,
    sending_window_end    time        NULL,
    -- wait: defer a step due outside the window to the next opening; send_anyway: ignore the window.
    window_missed_action  text        NOT NULL DEFAULT 'wait',
    -- What a reply does to that contact's enrollment: exit (reason replied), pause it, or continue.
    on_reply              text        NOT NULL DEFAULT 'exit',
    requires_approval     boolean     NOT NULL DEFAULT false,
    -- Promotional content needs a compliance_officer approval when approval is required.
    is_promotional        boolean     NOT NULL DEFAULT false,
    -- When a scheduled campaign is due to launch (schedule_campaign); the last launch error is kept.
    scheduled_at          timestamptz NULL,
    schedule_error        text        NULL,
    created_by            uuid        NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    launched_at           timestamptz NULL,
    completed_at          timestamptz NULL,
    CONSTRAINT pk_campaigns PRIMARY KEY (id),
    CONSTRAINT uq_campaigns_tenant_id UNIQUE (tenant_id, id),
    CONSTRAINT fk_campaigns_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants (id) ON DELETE CASCADE,
    CONSTRAINT fk_campaigns_workspace FOREIGN KEY (tenant_id, workspace_id) REFERENCES campaigns.workspaces (tenant_id, id),
    CONSTRAINT fk_campaigns_segment FOREIGN KEY (tenant_id, segment_id) REFERENCES campaigns.segments (tenant_id, id),
    CONSTRAINT fk_campaigns_sender_account FOREIGN KEY (tenant_id, sender_account_id) REFERENCES campaigns.sender_accounts (tenant_id, id),
    CONSTRAINT fk_campaigns_created_by FOREIGN KEY (tenant_id, created_by) REFERENCES campaigns.users (tenant_id, id),
    CONSTRAINT fk_campaigns_timezone FOREIGN KEY (timezone) REFERENCES campaigns.timezone_names (name),
    CONSTRAINT ck_campaigns_name CHECK (length(btrim(name)) BETWEEN 1 AND 255),
    CONSTRAINT ck_campaigns_type CHECK (campaign_type IN ('broadcast', 'drip', 'triggered', 'ab_test')),
    CONSTRAINT ck_campaigns_status CHECK (status IN ('draft', 'scheduled', 'active', 'paused', 'completed')),
    CONSTRAINT ck_campaigns_send_strategy CHECK (send_strategy IN ('immediate', 'scheduled', 'optimized')),
    CONSTRAINT ck_campaigns_daily_limit CHECK (daily_limit IS NULL OR daily_limit > 0),
    CONSTRAINT ck_campaigns_sending_days CHECK (sending_days IS NULL OR (cardinality(sending_days) BETWEEN 1 AND 7 AND sending_days <@ ARRAY[1,2,3,4,5,6,7]::smallint[])),
    CONSTRAINT ck_campaigns_sending_window CHECK ((sending_window_start IS NULL) = (sending_window_end IS NULL) AND (sending_window_start IS NULL OR sending_window_start < sending_window_end)),
    CONSTRAINT ck_campaigns_window_missed_action CHECK (window_missed_action IN ('wait', 'send_anyway')),
    CONSTRAINT ck_campaigns_on_reply CHECK (on_reply IN ('exit', 'pause', 'continue')),
    CONSTRAINT ck_campaigns_dates CHECK (end_date IS NULL OR start_date IS NULL OR start_date < end_date),
    CONSTRAINT ck_campaigns_total_contacts CHECK (total_contacts >= 0)
);
CREATE INDEX ix_campaigns_tenant_status ON campaigns.campaigns (tenant_id, status);
CREATE INDEX ix_campaigns_scheduled ON campaigns.campaigns (scheduled_at) WHERE status = 'scheduled';
CREATE INDEX ix_campaigns_segment ON campaigns.campaigns (tenant_id, segment_id);

CREATE TABLE campaigns.campaign_steps (
    id                  uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id           uuid        NOT NULL,
    campaign_id         uuid        NOT NULL,
    -- Display order only; the sequence follows next_step_id / true_next_step_id / false_next_step_id.
    step_order          integer     NOT NULL,
    step_name           text        NULL,
    step_type           text        NOT NULL,
    -- email
    template_id         uuid        NULL,
    subject_line        text        NULL,
    email_content       text        NULL,
    -- wait
    wait_duration_value integer     NULL,
    wait_duration_unit  text        NULL,
    -- condition: {type, ...}; see docs/engine.md. email_step_id scopes an event condition to one email step.
    condition_rules     jsonb       NULL,
    email_step_id       uuid        NULL,
    true_next_step_id   uuid        NULL,
    false_next_step_id  uuid        NULL,
    -- action
    action_type         text        NULL,
    action_config       jsonb       NOT NULL DEFAULT '{}',
    -- The step after this one (NULL = end of sequence); unused by condition steps.
    next_step_id        uuid        NULL,
    -- Counters of sent and tracked mail (not queued mail), kept by the outbox and event functions.
    emails_sent         integer     NOT NULL DEFAULT 0,
    emails_delivered    integer     NOT NULL DEFAULT 0,
    opens               integer     NOT NULL DEFAULT 0,
    clicks              integer     NOT NULL DEFAULT 0,
    replies             integer     NOT NULL DEFAULT 0,
    unsubscribes        integer     NOT NULL DEFAULT 0,
    bounces             integer     NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_campaign_steps PRIMARY KEY (id),
    CONSTRAINT uq_campaign_steps_tenant_id UNIQUE (tenant_id, id),
    -- Target of the same-campaign foreign keys below.
    CONSTRAINT uq_campaign_steps_campaign_id UNIQUE (tenant_id, campaign_id, id),
    -- Deferrable so steps can be reordered by swapping step_order inside one transaction.
    CONSTRAINT uq_campaign_steps_order UNIQUE (tenant_id, campaign_id, step_order) DEFERRABLE INITIALLY IMMEDIATE,
    CONSTRAINT fk_campaign_steps_campaign FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns.campaigns (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_campaign_steps_template FOREIGN KEY (tenant_id, template_id) REFERENCES campaigns.templates (tenant_id, id),
    -- Branch and sequence targets must be steps of the same campaign: the keys include campaign_id.
    CONSTRAINT fk_campaign_steps_next FOREIGN KEY (tenant_id, campaign_id, next_step_id) REFERENCES campaigns.campaign_steps (tenant_id, campaign_id, id) ON DELETE SET NULL (next_step_id),
    CONSTRAINT fk_campaign_steps_true_next FOREIGN KEY (tenant_id, campaign_id, true_next_step_id) REFERENCES campaigns.campaign_steps (tenant_id, campaign_id, id) ON DELETE SET NULL (true_next_step_id),
    CONSTRAINT fk_campaign_steps_false_next FOREIGN KEY (tenant_id, campaign_id, false_next_step_id) REFERENCES campaigns.campaign_steps (tenant_id, campaign_id, id) ON DELETE SET NULL (false_next_step_id),
    CONSTRAINT fk_campaign_steps_email_step FOREIGN KEY (tenant_id, campaign_id, email_step_id) REFERENCES campaigns.campaign_steps (tenant_id, campaign_id, id) ON DELETE SET NULL (email_step_id),
    CONSTRAINT ck_campaign_steps_type CHECK (step_type IN ('email', 'wait', 'condition', 'action')),
    CONSTRAINT ck_campaign_steps_order CHECK (step_order >= 1),
    CONSTRAINT ck_campaign_steps_email CHECK (step_type <> 'email' OR template_id IS NOT NULL OR (subject_line IS NOT NULL AND email_content IS NOT NULL)),
    -- coalesce(…, false): a CHECK passes on NULL, and a wait without value or unit must not.
    CONSTRAINT ck_campaign_steps_wait CHECK (step_type <> 'wait' OR coalesce(wait_duration_value > 0 AND wait_duration_unit IN ('minutes', 'hours', 'days', 'weeks'), false)),
    CONSTRAINT ck_campaign_steps_wait_unit CHECK (wait_duration_unit IS NULL OR wait_duration_unit IN ('minutes', 'hours', 'days', 'weeks')),
    CONSTRAINT ck_campaign_steps_condition CHECK (step_type <> 'condition' OR coalesce(jsonb_typeof(condition_rules) = 'object' AND next_step_id IS NULL, false)),
    CONSTRAINT ck_campaign_steps_action CHECK (step_type <> 'action' OR coalesce(action_type IN ('add_tag', 'remove_tag', 'update_field', 'adjust_score', 'exit', 'move_to_campaign', 'notify'), false)),
    CONSTRAINT ck_campaign_steps_action_config CHECK (jsonb_typeof(action_config) = 'object'),
    CONSTRAINT ck_campaign_steps_no_self_loop CHECK (next_step_id IS DISTINCT FROM id AND true_next_step_id IS DISTINCT FROM id AND false_next_step_id IS DISTINCT FROM id),
    CONSTRAINT ck_campaign_steps_counters CHECK (emails_sent >= 0 AND emails_delivered >= 0 AND opens >= 0 AND clicks >= 0 AND replies >= 0 AND unsubscribes >= 0 AND bounces >= 0)
);

CREATE TABLE campaigns.campaign_contacts (
    id                      uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id               uuid        NOT NULL,
    campaign_id             uuid        NOT NULL,
    contact_id              uuid        NOT NULL,
    -- enrolled: launch or refresh; active: first processing; paused: campaign paused or on reply;
    -- completed: the sequence ended; exited: reply, unsubscribe, bounce, complaint, suppression,
    -- end_date, segment exit, an exit action or by hand.
    status                  text        NOT NULL DEFAULT 'enrolled',
    -- campaign: paused with the campaign (resume releases it); reply / manual: paused for this
    -- contact alone (a campaign resume leaves it paused).
    pause_reason            text        NULL,
    current_step_id         uuid        NULL,
    enrolled_at             timestamptz NOT NULL DEFAULT now(),
    started_at              timestamptz NULL,
    completed_at            timestamptz NULL,
    exited_at               timestamptz NULL,
    exit_reason             text        NULL,
    steps_completed         integer     NOT NULL DEFAULT 0,
    last_email_sent_at      timestamptz NULL,
    -- When the current step is due. Waits are measured from this instant, never from the cron run.
    next_email_scheduled_at timestamptz NULL,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_campaign_contacts PRIMARY KEY (id),
    CONSTRAINT uq_campaign_contacts_tenant_id UNIQUE (tenant_id, id),
    -- One enrollment per (campaign, contact): launch and refresh are idempotent with ON CONFLICT.
    CONSTRAINT uq_campaign_contacts_contact UNIQUE (tenant_id, campaign_id, contact_id),
    CONSTRAINT fk_campaign_contacts_campaign FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns.campaigns (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_campaign_contacts_contact FOREIGN KEY (tenant_id, contact_id) REFERENCES campaigns.contacts (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_campaign_contacts_step FOREIGN KEY (tenant_id, campaign_id, current_step_id) REFERENCES campaigns.campaign_steps (tenant_id, campaign_id, id) ON DELETE SET NULL (current_step_id),
    CONSTRAINT ck_campaign_contacts_status CHECK (status IN ('enrolled', 'active', 'paused', 'completed', 'exited')),
    CONSTRAINT ck_campaign_contacts_pause_reason CHECK ((status = 'paused') = (pause_reason IS NOT NULL) AND (pause_reason IS NULL OR pause_reason IN ('campaign', 'reply', 'manual'))),
    CONSTRAINT ck_campaign_contacts_exited CHECK ((status = 'exited') = (exited_at IS NOT NULL AND exit_reason IS NOT NULL)),
    CONSTRAINT ck_campaign_contacts_completed CHECK (status <> 'completed' OR completed_at IS NOT NULL),
    CONSTRAINT ck_campaign_contacts_steps_completed CHECK (steps_completed >= 0)
);
-- The due-enrollment scan: only rows the processor can act on, in due order.
CREATE INDEX ix_campaign_contacts_due ON campaigns.campaign_contacts (next_email_scheduled_at) WHERE status IN ('enrolled', 'active');
CREATE INDEX ix_campaign_contacts_campaign_status ON campaigns.campaign_contacts (tenant_id, campaign_id, status);
CREATE INDEX ix_campaign_contacts_contact ON campaigns.campaign_contacts (tenant_id, contact_id);

CREATE TABLE campaigns.campaign_approvals (
    id             uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id      uuid        NOT NULL,
    campaign_id    uuid        NOT NULL,
    approver_id    uuid        NOT NULL,
    -- campaign_manager always; compliance_officer for audiences over 10,000 or promotional content.
    approval_role  text        NOT NULL,
    -- pending: requested; approved / rejected: by the assigned approver, or rejected after 48 h.
    status         text        NOT NULL DEFAULT 'pending',
    -- A rejection sends the campaign back to draft; the next request opens a new round.
    round          integer     NOT NULL DEFAULT 1,
    comments       text        NULL,
    requested_by   uuid        NULL,
    requested_at   timestamptz NOT NULL DEFAULT now(),
    reviewed_at    timestamptz NULL,
    CONSTRAINT pk_campaign_approvals PRIMARY KEY (id),
    CONSTRAINT uq_campaign_approvals_round UNIQUE (tenant_id, campaign_id, approver_id, approval_role, round),
    CONSTRAINT fk_campaign_approvals_campaign FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns.campaigns (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_campaign_approvals_approver FOREIGN KEY (tenant_id, approver_id) REFERENCES campaigns.users (tenant_id, id),
    CONSTRAINT fk_campaign_approvals_requested_by FOREIGN KEY (tenant_id, requested_by) REFERENCES campaigns.users (tenant_id, id),
    CONSTRAINT ck_campaign_approvals_role CHECK (approval_role IN ('campaign_manager', 'compliance_officer')),
    CONSTRAINT ck_campaign_approvals_status CHECK (status IN ('pending', 'approved', 'rejected')),
    CONSTRAINT ck_campaign_approvals_reviewed CHECK ((status = 'pending') = (reviewed_at IS NULL)),
    CONSTRAINT ck_campaign_approvals_round CHECK (round >= 1)
);
CREATE INDEX ix_campaign_approvals_campaign ON campaigns.campaign_approvals (tenant_id, campaign_id, status);
CREATE INDEX ix_campaign_approvals_pending ON campaigns.campaign_approvals (requested_at) WHERE status = 'pending';

-- ---------------------------------------------------------------------------------------------
-- Outbox, events, suppression
-- ---------------------------------------------------------------------------------------------

CREATE TABLE campaigns.email_messages (
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id          uuid        NOT NULL,
    campaign_id        uuid        NOT NULL,
    step_id            uuid        NOT NULL,
    enrollment_id      uuid        NOT NULL,
    contact_id         uuid        NOT NULL,
    sender_account_id  uuid        NULL,
    to_email           text        NOT NULL,
    -- queued: inserted by process_due_steps; sending: leased by a worker; sent: accepted by SMTP;
    -- failed: permanent SMTP failure or attempts exhausted (the dead letter); cancelled: recipient
    -- exited, unsubscribed or was suppressed before the send.
    status             text        NOT NULL DEFAULT 'queued',
    attempts           integer     NOT NULL DEFAULT 0,
    max_attempts       integer     NOT NULL DEFAULT 3,
    -- Not before this instant (sender gaps, retry backoff).
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    locked_at          timestamptz NULL,
    locked_by          text        NULL,
    lease_expires_at   timestamptz NULL,
    -- RFC 5322 Message-ID, fixed at insert so every retry carries the same one.
    smtp_message_id    text        NOT NULL,
    smtp_response      text        NULL,
    last_error         text        NULL,
    queued_at          timestamptz NOT NULL DEFAULT now(),
    sent_at            timestamptz NULL,
    delivered_at       timestamptz NULL,
    first_opened_at    timestamptz NULL,
    first_clicked_at   timestamptz NULL,
    replied_at         timestamptz NULL,
    bounced_at         timestamptz NULL,
    unsubscribed_at    timestamptz NULL,
    complained_at      timestamptz NULL,
    open_count         integer     NOT NULL DEFAULT 0,
    click_count        integer     NOT NULL DEFAULT 0,
    CONSTRAINT pk_email_messages PRIMARY KEY (id),
    CONSTRAINT uq_email_messages_tenant_id UNIQUE (tenant_id, id),
    -- The guard against double sends: one message per (enrollment, step), ever.
    CONSTRAINT uq_email_messages_enrollment_step UNIQUE (tenant_id, enrollment_id, step_id),
    CONSTRAINT uq_email_messages_smtp_message_id UNIQUE (smtp_message_id),
    -- (tenant_id, campaign_id) is checked through the step's key, which includes the campaign: a
    -- separate campaign key would cost every queued message one more lookup for nothing.
    CONSTRAINT fk_email_messages_step FOREIGN KEY (tenant_id, campaign_id, step_id) REFERENCES campaigns.campaign_steps (tenant_id, campaign_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_email_messages_enrollment FOREIGN KEY (tenant_id, enrollment_id) REFERENCES campaigns.campaign_contacts (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_email_messages_contact FOREIGN KEY (tenant_id, contact_id) REFERENCES campaigns.contacts (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_email_messages_sender FOREIGN KEY (tenant_id, sender_account_id) REFERENCES campaigns.sender_accounts (tenant_id, id),
    CONSTRAINT ck_email_messages_status CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    CONSTRAINT ck_email_messages_attempts CHECK (attempts >= 0 AND max_attempts >= 1),
    CONSTRAINT ck_email_messages_lease CHECK ((status = 'sending') = (lease_expires_at IS NOT NULL)),
    CONSTRAINT ck_email_messages_sent CHECK (status <> 'sent' OR sent_at IS NOT NULL),
    CONSTRAINT ck_email_messages_counts CHECK (open_count >= 0 AND click_count >= 0)
);
-- The outbox claim: queued rows in due order; leased rows by expiry for reclaiming.
CREATE INDEX ix_email_messages_claim ON campaigns.email_messages (next_attempt_at) WHERE status = 'queued';
CREATE INDEX ix_email_messages_lease ON campaigns.email_messages (lease_expires_at) WHERE status = 'sending';
-- Daily-limit accounting (messages queued per campaign per day) and the rollup's sent counts.
CREATE INDEX ix_email_messages_campaign_queued ON campaigns.email_messages (tenant_id, campaign_id, queued_at);
CREATE INDEX ix_email_messages_sender_queued ON campaigns.email_messages (tenant_id, sender_account_id, queued_at) WHERE sender_account_id IS NOT NULL;
CREATE INDEX ix_email_messages_sent_at ON campaigns.email_messages (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX ix_email_messages_contact ON campaigns.email_messages (tenant_id, contact_id);

CREATE TABLE campaigns.email_events (
    id                uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id         uuid        NOT NULL,
    message_id        uuid        NOT NULL,
    campaign_id       uuid        NOT NULL,
    step_id           uuid        NOT NULL,
    contact_id        uuid        NOT NULL,
    event_type        text        NOT NULL,
    occurred_at       timestamptz NOT NULL,
    -- The provider's id for this event, when it gives one: repeated deliveries are counted once.
    provider_event_id text        NULL,
    details           jsonb       NOT NULL DEFAULT '{}',
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_email_events PRIMARY KEY (id),
    CONSTRAINT fk_email_events_message FOREIGN KEY (tenant_id, message_id) REFERENCES campaigns.email_messages (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT ck_email_events_type CHECK (event_type IN ('delivered', 'open', 'click', 'reply', 'bounce_hard', 'bounce_soft', 'complaint', 'unsubscribe')),
    CONSTRAINT ck_email_events_details CHECK (jsonb_typeof(details) = 'object')
);
CREATE UNIQUE INDEX uq_email_events_provider_event ON campaigns.email_events (tenant_id, message_id, event_type, provider_event_id) WHERE provider_event_id IS NOT NULL;
CREATE INDEX ix_email_events_message ON campaigns.email_events (tenant_id, message_id);
-- The analytics rollup reads one UTC day of events per run.
CREATE INDEX ix_email_events_occurred ON campaigns.email_events (occurred_at);

-- Tenant-scope suppressions. Platform-wide ones (complaints) live in global_suppressions, a table
-- with no tenant, so this one stays tenant-owned and distributable by tenant_id.
CREATE TABLE campaigns.suppressions (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id   uuid        NOT NULL,
    email       text        NOT NULL,
    reason      text        NOT NULL,
    source      text        NULL,
    added_by    uuid        NULL,
    added_at    timestamptz NOT NULL DEFAULT now(),
    -- NULL = never expires.
    expires_at  timestamptz NULL,
    CONSTRAINT pk_suppressions PRIMARY KEY (id),
    CONSTRAINT fk_suppressions_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants (id) ON DELETE CASCADE,
    CONSTRAINT fk_suppressions_added_by FOREIGN KEY (tenant_id, added_by) REFERENCES campaigns.users (tenant_id, id),
    CONSTRAINT ck_suppressions_reason CHECK (reason IN ('unsubscribe', 'hard_bounce', 'soft_bounce', 'complaint', 'manual', 'import')),
    CONSTRAINT ck_suppressions_email CHECK (email ~ '^[^@\s]+@[^@\s]+$')
);
CREATE UNIQUE INDEX uq_suppressions_tenant_email ON campaigns.suppressions (tenant_id, lower(email));

-- Platform-wide suppressions (spam complaints, abuse): apply to every tenant and cannot be
-- removed by one. Not tenant-owned; a reference table under distribution.
CREATE TABLE campaigns.global_suppressions (
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    email            text        NOT NULL,
    reason           text        NOT NULL,
    source_tenant_id uuid        NULL,
    added_at         timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NULL,
    CONSTRAINT pk_global_suppressions PRIMARY KEY (id),
    CONSTRAINT ck_global_suppressions_reason CHECK (reason IN ('complaint', 'abuse', 'manual')),
    CONSTRAINT ck_global_suppressions_email CHECK (email ~ '^[^@\s]+@[^@\s]+$')
);
CREATE UNIQUE INDEX uq_global_suppressions_email ON campaigns.global_suppressions (lower(email));

-- Every removal of a suppression, with who and why (suppressions themselves are never edited).
CREATE TABLE campaigns.suppression_audit (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id   uuid        NOT NULL,
    email       text        NOT NULL,
    action      text        NOT NULL,
    reason      text        NOT NULL,
    actor_id    uuid        NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_suppression_audit PRIMARY KEY (id),
    CONSTRAINT fk_suppression_audit_tenant FOREIGN KEY (tenant_id) REFERENCES campaigns.tenants (id) ON DELETE CASCADE,
    CONSTRAINT fk_suppression_audit_actor FOREIGN KEY (tenant_id, actor_id) REFERENCES campaigns.users (tenant_id, id),
    CONSTRAINT ck_suppression_audit_action CHECK (action IN ('added', 'removed')),
    CONSTRAINT ck_suppression_audit_reason CHECK (length(btrim(reason)) > 0)
);
CREATE INDEX ix_suppression_audit_tenant ON campaigns.suppression_audit (tenant_id, at);

-- ---------------------------------------------------------------------------------------------
-- Analytics
-- ---------------------------------------------------------------------------------------------

CREATE TABLE campaigns.campaign_analytics (
    id                 uuid         NOT NULL DEFAULT gen_random_uuid(),
    tenant_id          uuid         NOT NULL,
    campaign_id        uuid         NOT NULL,
    -- The UTC calendar day the counts belong to.
    date               date         NOT NULL,
    emails_sent        integer      NOT NULL DEFAULT 0,
    emails_delivered   integer      NOT NULL DEFAULT 0,
    emails_bounced     integer      NOT NULL DEFAULT 0,
    unique_opens       integer      NOT NULL DEFAULT 0,
    total_opens        integer      NOT NULL DEFAULT 0,
    unique_clicks      integer      NOT NULL DEFAULT 0,
    total_clicks       integer      NOT NULL DEFAULT 0,
    replies            integer      NOT NULL DEFAULT 0,
    spam_complaints    integer      NOT NULL DEFAULT 0,
    unsubscribes       integer      NOT NULL DEFAULT 0,
    -- Percentages rounded to 2 decimals; a zero denominator gives 0. Opens, clicks, replies,
    -- unsubscribes and complaints are per delivered; delivery and bounce per sent; CTOR = clicks/opens.
    delivery_rate      numeric(5,2) NOT NULL DEFAULT 0,
    open_rate          numeric(5,2) NOT NULL DEFAULT 0,
    click_rate         numeric(5,2) NOT NULL DEFAULT 0,
    click_to_open_rate numeric(5,2) NOT NULL DEFAULT 0,
    reply_rate         numeric(5,2) NOT NULL DEFAULT 0,
    unsubscribe_rate   numeric(5,2) NOT NULL DEFAULT 0,
    bounce_rate        numeric(5,2) NOT NULL DEFAULT 0,
    complaint_rate     numeric(5,2) NOT NULL DEFAULT 0,
    calculated_at      timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT pk_campaign_analytics PRIMARY KEY (id),
    CONSTRAINT uq_campaign_analytics_day UNIQUE (tenant_id, campaign_id, date),
    CONSTRAINT fk_campaign_analytics_campaign FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns.campaigns (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX ix_campaign_analytics_campaign_date ON campaigns.campaign_analytics (campaign_id, date);
