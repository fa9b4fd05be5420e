-- The outbox claim: how queued email_messages are leased to a worker (claim_outbox_batch), and the
-- notifications that tell a running worker to hold mail it already claimed (campaign paused, contact
-- no longer mailable).
--
-- Lifecycle of a message: queued --claim--> sending --record--> sent | queued (retry) | failed;
-- queued/sending --claim re-check--> cancelled. A 'sending' row whose lease expired (worker killed)
-- is claimed again, counted in lease_reclaims (not in attempts: nothing was recorded); one whose
-- reclaims run out becomes failed (worker_crashed). Message-ID never changes, so a resend can be
-- de-duplicated downstream.

-- The signature before lease reclaims and down relays.
DROP FUNCTION IF EXISTS campaigns.claim_outbox_batch(text, integer, interval, timestamptz);
-- The same arguments with fewer result columns (before event_properties): dropped once, so that
-- the definition below can create the new row type.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_proc p WHERE p.oid = to_regprocedure('campaigns.claim_outbox_batch(text, integer, interval, timestamptz, integer, text[])')
               AND NOT 'event_properties' = ANY (p.proargnames)) THEN
        DROP FUNCTION campaigns.claim_outbox_batch(text, integer, interval, timestamptz, integer, text[]);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION campaigns._relay_key(p_host text, p_port integer)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    -- '' is the worker's configured default relay (a sender account without smtp_host).
    SELECT CASE WHEN p_host IS NULL THEN '' ELSE lower(p_host) || ':' || coalesce(p_port::text, '') END
$$;
COMMENT ON FUNCTION campaigns._relay_key(text, integer) IS
    'The key naming a sender account''s SMTP relay in claim_outbox_batch (p_down_relays, relay_key): the empty string for the worker''s default relay (no smtp_host), else lower(host) || '':'' || port, with nothing after the colon when no port is set (the security mode''s default port).';

CREATE OR REPLACE FUNCTION campaigns.claim_outbox_batch(
    p_worker text, p_limit integer DEFAULT 100, p_lease interval DEFAULT '5 minutes', p_as_of timestamptz DEFAULT now(),
    p_max_reclaims integer DEFAULT 5, p_down_relays text[] DEFAULT '{}')
RETURNS TABLE (
    message_id uuid, tenant_id uuid, campaign_id uuid, step_id uuid, enrollment_id uuid, contact_id uuid,
    sender_account_id uuid, template_id uuid, ab_variant_id uuid,
    to_email text, smtp_message_id text, attempt integer, lease_reclaims integer, reclaimed boolean,
    lease_expires_at timestamptz, retry_expires_at timestamptz, relay_key text,
    email text, first_name text, last_name text, company text, job_title text, city text, state text, country text,
    contact_timezone text, custom_fields jsonb, score integer, tags text[],
    campaign_name text, campaign_from_email text, campaign_from_name text, campaign_reply_to text,
    track_opens boolean, track_clicks boolean, unsubscribe_enabled boolean, campaign_timezone text,
    sender_from_email text, sender_from_name text, sender_reply_to text,
    variant_sender_email text, variant_sender_name text,
    smtp_host text, smtp_port integer, smtp_security text, smtp_username text, smtp_password_env text,
    subject_template text, html_template text, text_template text,
    max_send_rate_per_second numeric, event_properties jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_full        uuid[];
    v_room_tenant uuid[];
    v_room        bigint[];
    v_down        text[] := coalesce(p_down_relays, '{}');
    v_any_down    boolean := cardinality(coalesce(p_down_relays, '{}')) > 0;
BEGIN
    IF p_worker IS NULL OR length(btrim(p_worker)) = 0 OR p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000
       OR p_lease IS NULL OR p_lease <= interval '0' OR p_as_of IS NULL
       OR p_max_reclaims IS NULL OR p_max_reclaims NOT BETWEEN 0 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'invalid claim arguments',
            DETAIL = format('worker=%s limit=%s lease=%s max_reclaims=%s', p_worker, p_limit, p_lease, p_max_reclaims),
            HINT = 'A worker name, a limit between 1 and 10000, a positive lease and max_reclaims between 0 and 1000.';
    END IF;
    -- The monthly quota (50_send_quota.sql): a tenant with no room left gets none of its mail
    -- claimed (`<> ALL` of an empty array costs nothing per row), one with some room at most that
    -- much. While any tenant has a quota, claims take turns, so two cannot both spend the same room;
    -- the room is counted after the lock, in a statement of its own (a fresh snapshot).
    IF EXISTS (SELECT FROM campaigns.tenants t WHERE t.monthly_email_quota IS NOT NULL) THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('campaigns.send_quota', 0));
        SELECT coalesce(array_agg(q.tenant_id) FILTER (WHERE q.remaining <= 0), '{}'),
               coalesce(array_agg(q.tenant_id ORDER BY q.tenant_id) FILTER (WHERE q.remaining > 0), '{}'),
               coalesce(array_agg(q.remaining ORDER BY q.tenant_id) FILTER (WHERE q.remaining > 0), '{}')
          INTO v_full, v_room_tenant, v_room
        FROM campaigns._quota_room(p_as_of) q;
    ELSE
        v_full := '{}';
        v_room_tenant := '{}';
        v_room := '{}';
    END IF;

    RETURN QUERY
    -- Two ordered probes instead of one OR: each walks its own partial index
    -- (ix_email_messages_claim by next_attempt_at, ix_email_messages_lease by lease_expires_at) and
    -- stops after p_limit rows, so a claim costs O(p_limit) even with 10^5 rows due; an OR would
    -- bitmap-scan and sort every due row on every claim. Stale leases go first (they are oldest).
    -- A paused campaign's mail, and mail of an individually paused enrollment, is held: not claimed,
    -- left as it is (a campaign that is neither active nor paused has ended: its mail is cancelled below). The hold tests are scalar subqueries on purpose: evaluated per row as a filter
    -- of the ordered index scan, they cannot be turned into a join that drives the plan from the
    -- campaigns table and sorts every due row (what the planner chose with EXISTS and stale
    -- statistics: 18 ms instead of 0.4 ms for 200 of 8,000 due rows). The price: held rows at the
    -- head of the queue are skipped one by one on every claim (~3 µs each: 17 ms a claim behind 6,000
    -- held rows, measured).
    -- Mail for a relay the worker reports down (p_down_relays, by _relay_key) is skipped the same way:
    -- left as it is, not leased, no reclaim counted; the sender account is looked up only while
    -- some relay is down, and such rows at the head of the queue are skipped one by one per claim.
    -- The lease/claim UPDATE itself costs ~60 µs a row (a status change is not HOT: every index of
    -- email_messages gets an entry).
    WITH stale AS (
        SELECT m.id, m.tenant_id, 0 AS pass, m.lease_expires_at AS due
        FROM campaigns.email_messages m
        WHERE m.status = 'sending' AND m.lease_expires_at <= p_as_of AND m.tenant_id <> ALL (v_full)
          AND (SELECT c.status FROM campaigns.campaigns c
               WHERE c.tenant_id = m.tenant_id AND c.id = m.campaign_id) <> 'paused'
          AND (SELECT e.status FROM campaigns.campaign_contacts e
               WHERE e.tenant_id = m.tenant_id AND e.id = m.enrollment_id) <> 'paused'
          AND (NOT v_any_down
               OR coalesce((SELECT campaigns._relay_key(sa.smtp_host, sa.smtp_port) FROM campaigns.sender_accounts sa
                            WHERE sa.tenant_id = m.tenant_id AND sa.id = m.sender_account_id), '') <> ALL (v_down))
        ORDER BY m.lease_expires_at
        LIMIT p_limit
        FOR UPDATE OF m SKIP LOCKED
    ), due AS (
        SELECT m.id, m.tenant_id, 1 AS pass, m.next_attempt_at AS due
        FROM campaigns.email_messages m
        WHERE m.status = 'queued' AND m.next_attempt_at <= p_as_of AND m.tenant_id <> ALL (v_full)
          AND (SELECT c.status FROM campaigns.campaigns c
               WHERE c.tenant_id = m.tenant_id AND c.id = m.campaign_id) <> 'paused'
          AND (SELECT e.status FROM campaigns.campaign_contacts e
               WHERE e.tenant_id = m.tenant_id AND e.id = m.enrollment_id) <> 'paused'
          AND (NOT v_any_down
               OR coalesce((SELECT campaigns._relay_key(sa.smtp_host, sa.smtp_port) FROM campaigns.sender_accounts sa
                            WHERE sa.tenant_id = m.tenant_id AND sa.id = m.sender_account_id), '') <> ALL (v_down))
        ORDER BY m.next_attempt_at
        LIMIT p_limit
        FOR UPDATE OF m SKIP LOCKED
    ), picked AS (
        -- At most p_limit of the (at most 2·p_limit) locked rows, and no more of a tenant's than its
        -- quota has room for; the others stay untouched and their locks end with this short transaction.
        SELECT x.id, x.pass
        FROM (SELECT y.id, y.pass, y.due,
                     coalesce(v_room[array_position(v_room_tenant, y.tenant_id)], p_limit) AS room,
                     row_number() OVER (PARTITION BY y.tenant_id ORDER BY y.pass, y.due) AS nth
              FROM (SELECT * FROM stale UNION ALL SELECT * FROM due) y) x
        WHERE x.nth <= x.room
        ORDER BY x.pass, x.due
        LIMIT p_limit
    ), checked AS (
        -- Re-checked at claim time: a campaign that is over (completed at its end date while the
        -- message was in a worker's hands), an exited enrollment, a contact no longer mailable, or
        -- a suppressed address (tenant or global, unexpired) cancels the message instead of sending it.
        -- A reclaim beyond p_max_reclaims fails it instead (worker_crashed): a message every worker
        -- dies on would otherwise be reclaimed forever.
        SELECT m.id, m.tenant_id, m.enrollment_id, p.pass = 0 AS reclaimed,
               p.pass = 0 AND m.lease_reclaims >= p_max_reclaims AS crashed,
               CASE WHEN c.status <> 'active' THEN 'campaign ' || c.status
                    WHEN e.status = 'exited' THEN 'enrollment exited: ' || coalesce(e.exit_reason, 'exited')
                    WHEN ct.status <> 'active' THEN ct.status
                    -- _suppressed_addresses is inlined into this statement: no function call per row.
                    WHEN EXISTS (SELECT FROM campaigns._suppressed_addresses(p_as_of) x
                                 WHERE x.tenant_id = m.tenant_id AND x.email_key = lower(ct.email)) THEN 'suppressed'
               END AS cancel_reason
        FROM picked p
        JOIN campaigns.email_messages m ON m.id = p.id
        JOIN campaigns.campaign_contacts e ON e.tenant_id = m.tenant_id AND e.id = m.enrollment_id
        JOIN campaigns.contacts ct ON ct.tenant_id = m.tenant_id AND ct.id = m.contact_id
        JOIN campaigns.campaigns c ON c.tenant_id = m.tenant_id AND c.id = m.campaign_id
    ), decided AS (
        SELECT k.*, CASE WHEN k.cancel_reason IS NOT NULL THEN 'cancel' WHEN k.crashed THEN 'crash' ELSE 'lease' END AS action
        FROM checked k
    ), updated AS (
        -- Attempts are not counted here: a claim is not an attempt (record_send_result counts them).
        UPDATE campaigns.email_messages m
        SET status = CASE k.action WHEN 'lease' THEN 'sending' WHEN 'crash' THEN 'failed' ELSE 'cancelled' END,
            lease_reclaims = m.lease_reclaims + (k.action = 'lease' AND k.reclaimed)::integer,
            failure_kind = CASE WHEN k.action = 'crash' THEN 'worker_crashed' END,
            failed_at = CASE WHEN k.action = 'crash' THEN p_as_of END,
            locked_by = CASE WHEN k.action = 'lease' THEN p_worker ELSE m.locked_by END,
            locked_at = CASE WHEN k.action = 'lease' THEN p_as_of ELSE m.locked_at END,
            lease_expires_at = CASE WHEN k.action = 'lease' THEN p_as_of + p_lease END,
            last_error = CASE k.action WHEN 'lease' THEN m.last_error
                              WHEN 'crash' THEN format('worker_crashed: its lease expired %s times (the worker holding it died or hung; last %s)',
                                                       m.lease_reclaims + 1, m.locked_by)
                              ELSE 'cancelled at send time: ' || k.cancel_reason END
        FROM decided k
        WHERE m.id = k.id
        RETURNING m.id, m.tenant_id, m.campaign_id, m.step_id, m.enrollment_id, m.contact_id, m.sender_account_id,
                  m.to_email, m.smtp_message_id, m.attempts, m.lease_reclaims, k.reclaimed, m.lease_expires_at,
                  m.retry_expires_at, m.next_attempt_at, m.ab_variant_id, k.cancel_reason, k.action
    ), exit_candidates AS (
        -- A recipient found unmailable at send time also leaves the sequence (a completed enrollment
        -- too). Enrollments another transaction holds (a processing run, an event) are skipped rather
        -- than waited for: that transaction applies the same rule, and waiting here while holding
        -- message locks could deadlock with an event that locks the enrollment first.
        SELECT e.id, u.cancel_reason
        FROM campaigns.campaign_contacts e
        JOIN updated u ON u.tenant_id = e.tenant_id AND u.enrollment_id = e.id
        WHERE u.cancel_reason IN ('suppressed', 'unsubscribed', 'bounced')
          AND e.status IN ('enrolled', 'active', 'paused', 'completed')
        FOR UPDATE OF e SKIP LOCKED
    ), exits AS MATERIALIZED (
        -- The rows are locked above, so the exit does not wait. Their message was just cancelled
        -- here; other queued mail of theirs is left to the claim that reaches it.
        SELECT count(*) AS n
        FROM (SELECT array_agg(x.id) AS ids, array_agg(x.cancel_reason) AS reasons FROM exit_candidates x) a
        CROSS JOIN LATERAL (SELECT FROM campaigns._exit_enrollments(a.ids, a.reasons, p_as_of,
                                ARRAY['enrolled', 'active', 'paused', 'completed'], p_cancel_mail => false)
                            WHERE a.ids IS NOT NULL) x
    )
    SELECT u.id, u.tenant_id, u.campaign_id, u.step_id, u.enrollment_id, u.contact_id,
           u.sender_account_id, s.template_id, u.ab_variant_id,
           u.to_email, u.smtp_message_id, u.attempts + 1, u.lease_reclaims, u.reclaimed, u.lease_expires_at,
           u.retry_expires_at, campaigns._relay_key(sa.smtp_host, sa.smtp_port),
           ct.email, ct.first_name, ct.last_name, ct.company, ct.job_title, ct.city, ct.state, ct.country,
           ct.timezone, ct.custom_fields, ct.score, ct.tags,
           c.name, c.from_email, c.from_name, c.reply_to_email,
           c.track_opens, c.track_clicks, c.unsubscribe_enabled, c.timezone,
           sa.from_email, sa.from_name, sa.reply_to_email,
           v.sender_email, v.sender_name,
           sa.smtp_host, sa.smtp_port, sa.smtp_security, sa.smtp_username, sa.smtp_password_env,
           -- An A/B variant's subject/content win over the step's, which win over its template's.
           coalesce(v.subject_line, s.subject_line, t.subject, ''),
           coalesce(v.email_content, s.email_content, t.html_content),
           CASE WHEN coalesce(v.email_content, s.email_content) IS NULL THEN t.text_content END,
           tn.max_send_rate_per_second,
           -- The properties of the event that started the enrollment ({{ event.<name> }}).
           (SELECT cc.trigger_properties FROM campaigns.campaign_contacts cc
            WHERE cc.tenant_id = u.tenant_id AND cc.id = u.enrollment_id)
    FROM updated u
    JOIN campaigns.contacts ct ON ct.tenant_id = u.tenant_id AND ct.id = u.contact_id
    JOIN campaigns.campaigns c ON c.tenant_id = u.tenant_id AND c.id = u.campaign_id
    JOIN campaigns.campaign_steps s ON s.tenant_id = u.tenant_id AND s.id = u.step_id
    JOIN campaigns.tenants tn ON tn.id = u.tenant_id
    LEFT JOIN campaigns.templates t ON t.tenant_id = s.tenant_id AND t.id = s.template_id
    LEFT JOIN campaigns.sender_accounts sa ON sa.tenant_id = u.tenant_id AND sa.id = u.sender_account_id
    LEFT JOIN campaigns.ab_test_variants v ON v.tenant_id = u.tenant_id AND v.id = u.ab_variant_id
    -- Referenced so that the exits run (a CTE that only reads is evaluated when read).
    CROSS JOIN exits
    WHERE u.action = 'lease'
    ORDER BY u.next_attempt_at;
END
$$;
COMMENT ON FUNCTION campaigns.claim_outbox_batch(text, integer, interval, timestamptz, integer, text[]) IS
    'Leases up to p_limit due outbox messages to worker p_worker for p_lease (FOR UPDATE SKIP LOCKED: concurrent workers get disjoint rows): queued rows whose next_attempt_at has come, and sending rows whose lease expired (a killed worker), which counts one lease reclaim (reclaimed = true); a message whose reclaims would exceed p_max_reclaims becomes failed with failure_kind worker_crashed instead of being sent again. Mail whose sender relay (_relay_key(smtp_host, smtp_port); the empty string is the worker''s default relay) is in p_down_relays is skipped, left as it is. Mail of a paused campaign or paused enrollment, and of a tenant whose monthly quota has no room left (sent this month plus mail in flight, tenant_send_usage), is held (left queued); a tenant with some room gets at most that much. At claim time a message whose campaign has ended (completed), whose enrollment exited, whose contact is no longer active or whose address is suppressed (tenant or global) is cancelled instead, and the enrollment exits (suppressed / unsubscribed / bounced). Claimed rows become sending; attempts are counted when a result is recorded, not here (attempt = attempts + 1, the try about to be made). Returns per message everything needed to render and send it: ids, recipient, Message-ID, attempt, lease reclaims, whether it was reclaimed, retry_expires_at, relay_key, contact fields, campaign, sender account and A/B variant sender, the subject/HTML/text templates (variant, else step, else template), the tenant''s send rate and the properties of the event that started the enrollment (event_properties).';

-- A running worker may hold claimed mail in memory for a moment; these notifications tell it to
-- put back what it has not sent yet when a campaign stops being active or a contact stops being
-- mailable, and to look again when a campaign becomes active.
CREATE OR REPLACE FUNCTION campaigns._notify_outbox_hold()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    IF TG_TABLE_NAME = 'campaigns' THEN
        PERFORM pg_notify('campaigns_outbox', json_build_object(
            CASE WHEN NEW.status = 'active' THEN 'resume' ELSE 'hold' END, 'campaign', 'id', NEW.id)::text);
    ELSE
        PERFORM pg_notify('campaigns_outbox', json_build_object('hold', 'contact', 'id', NEW.id)::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER trg_campaigns_outbox_hold
    AFTER UPDATE OF status ON campaigns.campaigns
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND (OLD.status = 'active' OR NEW.status = 'active'))
    EXECUTE FUNCTION campaigns._notify_outbox_hold();

CREATE OR REPLACE TRIGGER trg_contacts_outbox_hold
    AFTER UPDATE OF status ON campaigns.contacts
    FOR EACH ROW WHEN (OLD.status = 'active' AND NEW.status <> 'active')
    EXECUTE FUNCTION campaigns._notify_outbox_hold();
