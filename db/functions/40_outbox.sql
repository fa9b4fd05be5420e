-- The outbox: how queued email_messages are leased to a worker (claim_outbox_batch), how each SMTP
-- result is written back (record_send_result: sent, retry with backoff, dead letter, hard bounce),
-- how a reply finds the message it answers (find_message_for_reply), and the notifications that
-- tell a running worker to hold mail it already claimed (campaign paused, contact no longer mailable).
--
-- Lifecycle of a message: queued --claim--> sending --record--> sent | queued (retry) | failed;
-- queued/sending --claim re-check--> cancelled. A 'sending' row whose lease expired (worker killed)
-- is claimed again; Message-ID never changes, so a resend can be de-duplicated downstream.

CREATE OR REPLACE FUNCTION campaigns._retry_delay(p_attempts integer, p_base interval, p_cap interval DEFAULT '1 hour')
RETURNS interval
LANGUAGE sql VOLATILE
SET search_path = pg_catalog
AS $$
    -- Exponential: base, 2·base, 4·base … capped (one hour by default), with ±25% jitter so a
    -- burst of failures (a relay restart) does not come back as a burst.
    SELECT least(p_base * power(2, least(greatest(p_attempts - 1, 0), 30))::double precision, p_cap)
           * (0.75 + random() * 0.5)
$$;

CREATE OR REPLACE FUNCTION campaigns.claim_outbox_batch(
    p_worker text, p_limit integer DEFAULT 100, p_lease interval DEFAULT '5 minutes', p_as_of timestamptz DEFAULT now())
RETURNS TABLE (
    message_id uuid, tenant_id uuid, campaign_id uuid, step_id uuid, enrollment_id uuid, contact_id uuid,
    sender_account_id uuid, template_id uuid, ab_variant_id uuid,
    to_email text, smtp_message_id text, attempt integer, max_attempts integer, lease_expires_at timestamptz,
    email text, first_name text, last_name text, company text, job_title text, city text, state text, country text,
    contact_timezone text, custom_fields jsonb, score integer, tags text[],
    campaign_name text, campaign_from_email text, campaign_from_name text, campaign_reply_to text,
    track_opens boolean, track_clicks boolean, unsubscribe_enabled boolean, campaign_timezone text,
    sender_from_email text, sender_from_name text, sender_reply_to text,
    variant_sender_email text, variant_sender_name text,
    smtp_host text, smtp_port integer, smtp_security text, smtp_username text, smtp_password_env text,
    subject_template text, html_template text, text_template text,
    max_send_rate_per_second numeric)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_full        uuid[];
    v_room_tenant uuid[];
    v_room        bigint[];
BEGIN
    IF p_worker IS NULL OR length(btrim(p_worker)) = 0 OR p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000
       OR p_lease IS NULL OR p_lease <= interval '0' OR p_as_of IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'invalid claim arguments',
            DETAIL = format('worker=%s limit=%s lease=%s', p_worker, p_limit, p_lease),
            HINT = 'A worker name, a limit between 1 and 10000 and a positive lease.';
    END IF;
    -- The monthly quota (39_send_quota.sql): a tenant with no room left gets none of its mail
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
        ORDER BY m.next_attempt_at
        LIMIT p_limit
        FOR UPDATE OF m SKIP LOCKED
    ), picked AS (
        -- At most p_limit of the (at most 2·p_limit) locked rows, and no more of a tenant's than its
        -- quota has room for; the others stay untouched and their locks end with this short transaction.
        SELECT x.id
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
        SELECT m.id, m.tenant_id, m.enrollment_id,
               CASE WHEN c.status <> 'active' THEN 'campaign ' || c.status
                    WHEN e.status = 'exited' THEN 'enrollment exited: ' || coalesce(e.exit_reason, 'exited')
                    WHEN ct.status <> 'active' THEN ct.status
                    -- Inline rather than campaigns._is_suppressed(): a SQL function with SET is not
                    -- inlined (measured: 9 µs a row through the function, under 1 µs inline).
                    WHEN EXISTS (SELECT FROM campaigns.suppressions x
                                 WHERE x.tenant_id = m.tenant_id AND lower(x.email) = lower(ct.email)
                                   AND (x.expires_at IS NULL OR x.expires_at > p_as_of))
                      OR EXISTS (SELECT FROM campaigns.global_suppressions g
                                 WHERE lower(g.email) = lower(ct.email)
                                   AND (g.expires_at IS NULL OR g.expires_at > p_as_of)) THEN 'suppressed'
               END AS cancel_reason
        FROM picked p
        JOIN campaigns.email_messages m ON m.id = p.id
        JOIN campaigns.campaign_contacts e ON e.tenant_id = m.tenant_id AND e.id = m.enrollment_id
        JOIN campaigns.contacts ct ON ct.tenant_id = m.tenant_id AND ct.id = m.contact_id
        JOIN campaigns.campaigns c ON c.tenant_id = m.tenant_id AND c.id = m.campaign_id
    ), updated AS (
        UPDATE campaigns.email_messages m
        SET status = CASE WHEN k.cancel_reason IS NULL THEN 'sending' ELSE 'cancelled' END,
            attempts = m.attempts + (k.cancel_reason IS NULL)::integer,
            locked_by = CASE WHEN k.cancel_reason IS NULL THEN p_worker ELSE m.locked_by END,
            locked_at = CASE WHEN k.cancel_reason IS NULL THEN p_as_of ELSE m.locked_at END,
            lease_expires_at = CASE WHEN k.cancel_reason IS NULL THEN p_as_of + p_lease END,
            last_error = CASE WHEN k.cancel_reason IS NULL THEN m.last_error
                              ELSE 'cancelled at send time: ' || k.cancel_reason END
        FROM checked k
        WHERE m.id = k.id
        RETURNING m.id, m.tenant_id, m.campaign_id, m.step_id, m.enrollment_id, m.contact_id, m.sender_account_id,
                  m.to_email, m.smtp_message_id, m.attempts, m.max_attempts, m.lease_expires_at, m.next_attempt_at,
                  m.ab_variant_id, k.cancel_reason
    ), exit_candidates AS (
        -- Req. 69: a recipient found unmailable at send time also leaves the sequence. Enrollments
        -- another transaction holds (a processing run, an event) are skipped rather than waited
        -- for: that transaction applies the same rule, and waiting here while holding message
        -- locks could deadlock with an event that locks the enrollment first.
        SELECT e.id
        FROM campaigns.campaign_contacts e
        JOIN updated u ON u.tenant_id = e.tenant_id AND u.enrollment_id = e.id
        WHERE u.cancel_reason IN ('suppressed', 'unsubscribed', 'bounced')
          AND e.status IN ('enrolled', 'active', 'paused', 'completed')
        FOR UPDATE OF e SKIP LOCKED
    ), exits AS (
        UPDATE campaigns.campaign_contacts e
        SET status = 'exited', exit_reason = u.cancel_reason, exited_at = p_as_of, pause_reason = NULL,
            next_email_scheduled_at = NULL, updated_at = now()
        FROM exit_candidates x
        JOIN updated u ON u.enrollment_id = x.id
        WHERE e.id = x.id
        RETURNING e.id
    )
    SELECT u.id, u.tenant_id, u.campaign_id, u.step_id, u.enrollment_id, u.contact_id,
           u.sender_account_id, s.template_id, u.ab_variant_id,
           u.to_email, u.smtp_message_id, u.attempts, u.max_attempts, u.lease_expires_at,
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
           tn.max_send_rate_per_second
    FROM updated u
    JOIN campaigns.contacts ct ON ct.tenant_id = u.tenant_id AND ct.id = u.contact_id
    JOIN campaigns.campaigns c ON c.tenant_id = u.tenant_id AND c.id = u.campaign_id
    JOIN campaigns.campaign_steps s ON s.tenant_id = u.tenant_id AND s.id = u.step_id
    JOIN campaigns.tenants tn ON tn.id = u.tenant_id
    LEFT JOIN campaigns.templates t ON t.tenant_id = s.tenant_id AND t.id = s.template_id
    LEFT JOIN campaigns.sender_accounts sa ON sa.tenant_id = u.tenant_id AND sa.id = u.sender_account_id
    LEFT JOIN campaigns.ab_test_variants v ON v.tenant_id = u.tenant_id AND v.id = u.ab_variant_id
    WHERE u.cancel_reason IS NULL
    ORDER BY u.next_attempt_at;
END
$$;
COMMENT ON FUNCTION campaigns.claim_outbox_batch(text, integer, interval, timestamptz) IS
    'Leases up to p_limit due outbox messages to worker p_worker for p_lease (FOR UPDATE SKIP LOCKED: concurrent workers get disjoint rows): queued rows whose next_attempt_at has come, and sending rows whose lease expired (a killed worker). Mail of a paused campaign or paused enrollment, and of a tenant whose monthly quota has no room left (sent this month plus mail in flight, tenant_send_usage), is held (left queued); a tenant with some room gets at most that much. At claim time a message whose campaign has ended (completed), whose enrollment exited, whose contact is no longer active or whose address is suppressed (tenant or global) is cancelled instead, and the enrollment exits (suppressed / unsubscribed / bounced). Claimed rows become sending with attempts + 1. Returns per message everything needed to render and send it: ids, recipient, Message-ID, attempt, contact fields, campaign, sender account and A/B variant sender, the subject/HTML/text templates (variant, else step, else template) and the tenant''s send rate.';

CREATE OR REPLACE FUNCTION campaigns.record_send_result(
    p_message_id uuid, p_worker text, p_outcome text, p_smtp_response text DEFAULT NULL, p_error text DEFAULT NULL,
    p_as_of timestamptz DEFAULT now(), p_subject text DEFAULT NULL, p_retry_base interval DEFAULT '1 minute',
    p_retry_cap interval DEFAULT '1 hour')
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_msg      campaigns.email_messages;
    v_gap      integer;
    v_next     timestamptz;
    v_delivery text;
    v_response text := left(p_smtp_response, 1000);
    v_error    text := left(p_error, 1000);
BEGIN
    IF p_outcome IS NULL OR p_outcome NOT IN ('sent', 'retry', 'failed', 'rejected', 'release') THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'unknown send outcome',
            DETAIL = format('outcome=%s', p_outcome),
            HINT = 'One of sent, retry, failed (recipient refused), rejected (refused, not the recipient), release.';
    END IF;
    IF p_retry_base IS NULL OR p_retry_base <= interval '0' OR p_retry_cap IS NULL OR p_retry_cap < p_retry_base THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'p_retry_base must be positive and p_retry_cap at least as long';
    END IF;
    SELECT * INTO v_msg FROM campaigns.email_messages WHERE id = p_message_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'QC404', MESSAGE = 'message not found', DETAIL = format('message_id=%s', p_message_id);
    END IF;
    -- Only the lease holder may record; a result for a lease that was lost (the row was reclaimed
    -- by another worker, or already recorded) changes nothing.
    IF v_msg.status <> 'sending' OR v_msg.locked_by IS DISTINCT FROM p_worker THEN
        RETURN NULL;
    END IF;

    CASE p_outcome
    WHEN 'sent' THEN
        UPDATE campaigns.email_messages
        SET status = 'sent', sent_at = p_as_of, smtp_response = v_response, last_error = NULL,
            lease_expires_at = NULL, subject = left(p_subject, 998)
        WHERE id = p_message_id;
        UPDATE campaigns.campaign_steps SET emails_sent = emails_sent + 1
        WHERE tenant_id = v_msg.tenant_id AND id = v_msg.step_id;
        PERFORM campaigns._add_send_usage(v_msg.tenant_id, 1, p_as_of);
        -- Delivery: unless the tenant says a provider reports deliveries (settings.delivery_events =
        -- 'provider'), acceptance by the relay counts as delivered. A later provider 'delivered' for
        -- the same message is recorded but counted once (delivered_at and the step counter are
        -- set only the first time).
        SELECT t.settings->>'delivery_events' INTO v_delivery FROM campaigns.tenants t WHERE t.id = v_msg.tenant_id;
        IF v_delivery IS DISTINCT FROM 'provider' THEN
            PERFORM campaigns.record_email_event(p_message_id, 'delivered', p_as_of,
                jsonb_build_object('source', 'smtp', 'provider_event_id', 'smtp-accepted', 'smtp_response', left(v_response, 200)));
        END IF;
        RETURN 'sent';

    WHEN 'retry' THEN
        IF v_msg.attempts >= v_msg.max_attempts THEN
            UPDATE campaigns.email_messages
            SET status = 'failed', failed_at = p_as_of, lease_expires_at = NULL, smtp_response = v_response,
                last_error = format('attempts exhausted (%s): %s', v_msg.attempts, coalesce(v_error, v_response, 'transient failure'))
            WHERE id = p_message_id;
            RETURN 'failed';
        END IF;
        v_next := p_as_of + campaigns._retry_delay(v_msg.attempts, p_retry_base, p_retry_cap);
        -- A sender's minimum gap holds for retries too: the retry takes the sender's next free slot.
        SELECT sa.min_gap_seconds INTO v_gap FROM campaigns.sender_accounts sa
        WHERE sa.tenant_id = v_msg.tenant_id AND sa.id = v_msg.sender_account_id AND sa.min_gap_seconds IS NOT NULL
        FOR NO KEY UPDATE;
        IF v_gap IS NOT NULL THEN
            UPDATE campaigns.sender_accounts sa
            SET last_slot_at = greatest(v_next, coalesce(sa.last_slot_at + make_interval(secs => v_gap), v_next))
            WHERE sa.tenant_id = v_msg.tenant_id AND sa.id = v_msg.sender_account_id
            RETURNING sa.last_slot_at INTO v_next;
        END IF;
        UPDATE campaigns.email_messages
        SET status = 'queued', next_attempt_at = v_next, lease_expires_at = NULL, smtp_response = v_response,
            last_error = coalesce(v_error, v_response, 'transient failure')
        WHERE id = p_message_id;
        RETURN 'queued';

    WHEN 'failed' THEN
        -- The relay refused the recipient for good: the attempt counts as sent (so bounce rate =
        -- bounced / sent), the message is a dead letter, and the hard bounce suppresses the address
        -- and exits the contact everywhere.
        UPDATE campaigns.email_messages
        SET status = 'failed', sent_at = p_as_of, failed_at = p_as_of, lease_expires_at = NULL,
            smtp_response = v_response, last_error = coalesce(v_error, v_response, 'recipient refused'),
            subject = left(p_subject, 998)
        WHERE id = p_message_id;
        UPDATE campaigns.campaign_steps SET emails_sent = emails_sent + 1
        WHERE tenant_id = v_msg.tenant_id AND id = v_msg.step_id;
        PERFORM campaigns._add_send_usage(v_msg.tenant_id, 1, p_as_of);
        PERFORM campaigns.record_email_event(p_message_id, 'bounce_hard', p_as_of,
            jsonb_build_object('source', 'smtp', 'provider_event_id', 'smtp-refused', 'smtp_response', left(v_response, 200)));
        RETURN 'failed';

    WHEN 'rejected' THEN
        -- Refused for a reason that is not the recipient's (sender refused, content blocked): a dead
        -- letter, no bounce, the address stays mailable.
        UPDATE campaigns.email_messages
        SET status = 'failed', failed_at = p_as_of, lease_expires_at = NULL, smtp_response = v_response,
            last_error = coalesce(v_error, v_response, 'rejected')
        WHERE id = p_message_id;
        RETURN 'failed';

    WHEN 'release' THEN
        -- Not attempted (held by a pause, shutdown, lease about to run out): back to the queue as it
        -- was, without spending an attempt.
        UPDATE campaigns.email_messages
        SET status = 'queued', attempts = greatest(attempts - 1, 0), lease_expires_at = NULL
        WHERE id = p_message_id;
        RETURN 'queued';
    END CASE;
END
$$;
COMMENT ON FUNCTION campaigns.record_send_result(uuid, text, text, text, text, timestamptz, text, interval, interval) IS
    'Records the SMTP result of one leased message, only while worker p_worker still holds its lease (else returns NULL and changes nothing). sent: status sent, sent_at, step emails_sent + 1, the tenant''s monthly count (tenant_send_usage) + 1, and a delivered event through record_email_event unless tenants.settings.delivery_events = ''provider''. retry (4xx, timeout, dropped connection): back to queued at p_as_of + least(p_retry_base * 2^(attempts-1), p_retry_cap = 1 hour) ± 25% jitter (and after the sender''s minimum gap), or failed once attempts reach max_attempts (the dead letter). failed (5xx for the recipient): failed, counted as sent, plus a bounce_hard event (suppression, exits). rejected (permanent, not the recipient): failed without bounce. release (not attempted): queued again without spending the attempt. Returns the new status.';

CREATE OR REPLACE FUNCTION campaigns.record_send_results(
    p_worker text, p_message_ids uuid[], p_outcomes text[], p_smtp_responses text[] DEFAULT NULL,
    p_errors text[] DEFAULT NULL, p_subjects text[] DEFAULT NULL, p_as_of timestamptz DEFAULT now(),
    p_retry_base interval DEFAULT '1 minute', p_retry_cap interval DEFAULT '1 hour')
RETURNS TABLE (message_id uuid, status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
-- Custom plans for these array-driven statements were re-planned on every flush (about 1 ms a
-- flush, measured); the generic plans walk the same primary-key indexes.
SET plan_cache_mode = force_generic_plan
AS $$
-- The ON CONFLICT column list names email_events.message_id, which is also an output column here.
#variable_conflict use_column
DECLARE
    v_n    integer := coalesce(cardinality(p_message_ids), 0);
    v_ids       uuid[];
    v_responses text[];
    v_subjects  text[];
    v_sent      uuid[];
    v_first     uuid[];
    v_done      uuid[] := '{}';
    v_i    integer;
BEGIN
    IF v_n <> coalesce(cardinality(p_outcomes), 0)
       OR (p_smtp_responses IS NOT NULL AND cardinality(p_smtp_responses) <> v_n)
       OR (p_errors IS NOT NULL AND cardinality(p_errors) <> v_n)
       OR (p_subjects IS NOT NULL AND cardinality(p_subjects) <> v_n) THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'result arrays must have one entry per message',
            DETAIL = format('messages=%s outcomes=%s', v_n, cardinality(p_outcomes));
    END IF;
    IF v_n = 0 THEN
        RETURN;
    END IF;

    -- The common case, accepted mail, set-based: per result this is record_send_result(…, 'sent')
    -- including its delivered event, in a fixed number of statements per flush. Steps are locked in
    -- id order (concurrent flushes cannot deadlock on the counters), then the messages this worker
    -- still leases (compare-and-set), also in id order.
    PERFORM FROM campaigns.campaign_steps s
    WHERE s.id IN (SELECT m.step_id FROM campaigns.email_messages m
                   WHERE m.id = ANY (p_message_ids))
    ORDER BY s.id
    FOR NO KEY UPDATE;
    SELECT array_agg(r.id), array_agg(r.response), array_agg(r.subject)
      INTO v_ids, v_responses, v_subjects
    FROM unnest(p_message_ids, p_outcomes, coalesce(p_smtp_responses, array_fill(NULL::text, ARRAY[v_n])),
                coalesce(p_subjects, array_fill(NULL::text, ARRAY[v_n]))) AS r(id, outcome, response, subject)
    WHERE r.outcome = 'sent';
    -- Locked first so that "first delivery" below is read from the row we then update.
    WITH locked AS (
        SELECT m.id, m.delivered_at IS NULL AS first_delivery
        FROM campaigns.email_messages m
        WHERE m.id = ANY (v_ids) AND m.status = 'sending' AND m.locked_by = p_worker
        ORDER BY m.id
        FOR NO KEY UPDATE
    )
    SELECT array_agg(l.id ORDER BY l.id), array_agg(l.id ORDER BY l.id) FILTER (WHERE l.first_delivery)
      INTO v_sent, v_first
    FROM locked l;

    -- One UPDATE per message (a second one in this transaction would re-run every foreign-key check
    -- of the row: 0.3 ms a message, measured). `= ANY (array)` keeps it on the primary key whatever
    -- the batch size (a join to unnest() was planned as a sequential scan of the outbox).
    -- Delivery: unless the tenant says a provider reports deliveries (settings.delivery_events =
    -- 'provider'), acceptance by the relay counts as delivered, with a delivered event whose
    -- provider id makes a repeat (a resend after a lost lease) count once, as in record_email_event.
    WITH updated AS (
        UPDATE campaigns.email_messages m
        SET status = 'sent', sent_at = p_as_of, last_error = NULL, lease_expires_at = NULL,
            smtp_response = left(v_responses[array_position(v_ids, m.id)], 1000),
            subject = left(v_subjects[array_position(v_ids, m.id)], 998),
            delivered_at = CASE WHEN t.settings->>'delivery_events' IS DISTINCT FROM 'provider'
                                THEN least(m.delivered_at, p_as_of) ELSE m.delivered_at END
        FROM campaigns.tenants t
        WHERE m.id = ANY (v_sent) AND t.id = m.tenant_id
        RETURNING m.id, m.tenant_id, m.campaign_id, m.step_id, m.contact_id,
                  t.settings->>'delivery_events' IS DISTINCT FROM 'provider' AS smtp_delivery
    ), delivered AS (
        INSERT INTO campaigns.email_events
            (tenant_id, message_id, campaign_id, step_id, contact_id, event_type, occurred_at, provider_event_id, details)
        SELECT u.tenant_id, u.id, u.campaign_id, u.step_id, u.contact_id, 'delivered', p_as_of, 'smtp-accepted',
               jsonb_build_object('source', 'smtp', 'provider_event_id', 'smtp-accepted')
        FROM updated u
        WHERE u.smtp_delivery
        ON CONFLICT (tenant_id, message_id, event_type, provider_event_id) WHERE provider_event_id IS NOT NULL DO NOTHING
        RETURNING email_events.message_id
    ), counted AS (
        UPDATE campaigns.campaign_steps s
        SET emails_sent = s.emails_sent + c.sent, emails_delivered = s.emails_delivered + c.delivered
        FROM (SELECT u.tenant_id, u.step_id, count(*) AS sent,
                     count(*) FILTER (WHERE u.id = ANY (v_first) AND u.id IN (SELECT d.message_id FROM delivered d)) AS delivered
              FROM updated u GROUP BY 1, 2) c
        WHERE s.tenant_id = c.tenant_id AND s.id = c.step_id
    ), usage AS (
        -- After the steps (locked above): the order record_send_result and defer_over_quota_mail keep.
        INSERT INTO campaigns.tenant_send_usage AS su (tenant_id, month, sent)
        SELECT u.tenant_id, campaigns._usage_month(p_as_of), count(*) FROM updated u GROUP BY u.tenant_id
        ON CONFLICT (tenant_id, month) DO UPDATE SET sent = su.sent + EXCLUDED.sent, updated_at = now()
    )
    -- A delivery ends a run of soft bounces.
    UPDATE campaigns.contacts ct SET consecutive_soft_bounces = 0
    FROM updated u
    WHERE ct.tenant_id = u.tenant_id AND ct.id = u.contact_id AND ct.consecutive_soft_bounces <> 0
      AND u.id IN (SELECT d.message_id FROM delivered d);

    FOR v_i IN 1..v_n LOOP
        IF p_outcomes[v_i] = 'sent' THEN
            -- A repeat of the same message in one call is reported like a second call: NULL.
            RETURN QUERY SELECT p_message_ids[v_i],
                CASE WHEN p_message_ids[v_i] = ANY (v_sent) AND NOT p_message_ids[v_i] = ANY (v_done) THEN 'sent' END;
            v_done := v_done || p_message_ids[v_i];
        ELSE
            RETURN QUERY SELECT p_message_ids[v_i],
                campaigns.record_send_result(p_message_ids[v_i], p_worker, p_outcomes[v_i], p_smtp_responses[v_i],
                                             p_errors[v_i], p_as_of, p_subjects[v_i], p_retry_base, p_retry_cap);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION campaigns.record_send_results(text, uuid[], text[], text[], text[], text[], timestamptz, interval, interval) IS
    'record_send_result for several results at once (what the worker calls: each flush commits the results that arrived while the previous one committed). Same semantics per message: element i of each array describes message i; results for leases this worker no longer holds change nothing and return a NULL status. Accepted mail is recorded set-based, other outcomes one by one through record_send_result. Returns (message_id, new status) per input.';

CREATE OR REPLACE FUNCTION campaigns.find_message_for_reply(
    p_tenant_id uuid, p_references text[], p_from_email text DEFAULT NULL, p_subject text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_id      uuid;
    v_subject text;
BEGIN
    -- 1. Threading headers, in the order given (In-Reply-To first, then References newest first);
    --    ids are compared in their <…> form, with or without the brackets in the input.
    SELECT m.id INTO v_id
    FROM unnest(p_references) WITH ORDINALITY AS r(ref, ord)
    JOIN campaigns.email_messages m
      ON m.smtp_message_id = CASE WHEN btrim(r.ref) LIKE '<%>' THEN btrim(r.ref) ELSE '<' || btrim(r.ref) || '>' END
     AND m.tenant_id = p_tenant_id
    WHERE r.ref IS NOT NULL AND btrim(r.ref) <> ''
    ORDER BY r.ord
    LIMIT 1;
    IF v_id IS NOT NULL OR p_from_email IS NULL OR p_subject IS NULL THEN
        RETURN v_id;
    END IF;
    -- 2. Fallback: the newest message sent to this contact whose subject, without Re:/Fwd:
    --    prefixes, is the reply's.
    v_subject := lower(btrim(regexp_replace(p_subject, '^\s*((re|fwd?|aw|sv|antw|wg)\s*(\[\d+\])?\s*:\s*)+', '', 'i')));
    SELECT m.id INTO v_id
    FROM campaigns.contacts ct
    JOIN campaigns.email_messages m ON m.tenant_id = ct.tenant_id AND m.contact_id = ct.id
    WHERE ct.tenant_id = p_tenant_id AND lower(ct.email) = lower(btrim(p_from_email))
      AND m.sent_at IS NOT NULL AND lower(btrim(m.subject)) = v_subject
    ORDER BY m.sent_at DESC
    LIMIT 1;
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION campaigns.find_message_for_reply(uuid, text[], text, text) IS
    'The tenant''s message a reply answers: the first of p_references (In-Reply-To, then References newest first; with or without <>) that is a stored Message-ID, else the newest message sent to the contact with address p_from_email whose subject equals p_subject without Re:/Fwd: prefixes. NULL when nothing matches. Runs as the caller (Row Level Security applies).';

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
