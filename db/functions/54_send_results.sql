-- Send results: how each SMTP result of a leased message is written back (sent, retry with backoff
-- within the retry lifetime, dead letter, hard bounce, release), one at a time or a worker's flush at
-- once. Each recorded result counts one attempt; the retry rules live in 55_retry_policy.sql.

-- The signatures before retry lifetimes.
DROP FUNCTION IF EXISTS campaigns.record_send_results(text, uuid[], text[], text[], text[], text[], timestamptz, interval, interval);
DROP FUNCTION IF EXISTS campaigns.record_send_result(uuid, text, text, text, text, timestamptz, text, interval, interval);

-- A delivery's consequences besides the message's own delivered_at, once and set-based: the step's
-- emails_delivered counts each message's first delivery, and a delivery ends the contact's run of
-- soft bounces. Element i of each array describes one delivered message.
CREATE OR REPLACE FUNCTION campaigns._count_deliveries(
    p_tenant_ids uuid[], p_step_ids uuid[], p_contact_ids uuid[], p_first boolean[])
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
-- PL/pgSQL rather than SQL for its cached plans (a SQL function is planned again on every call), and
-- generic ones: the statements are driven by arrays and walk primary keys whatever their size.
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF true = ANY (p_first) THEN
        UPDATE campaigns.campaign_steps s SET emails_delivered = s.emails_delivered + c.n
        FROM (SELECT d.tenant_id, d.step_id, count(*) AS n
              FROM unnest(p_tenant_ids, p_step_ids, p_first) AS d(tenant_id, step_id, first)
              WHERE d.first GROUP BY 1, 2) c
        WHERE s.tenant_id = c.tenant_id AND s.id = c.step_id;
    END IF;
    -- `= ANY (array)` keeps this on the primary key whatever the number of messages.
    UPDATE campaigns.contacts ct SET consecutive_soft_bounces = 0
    WHERE ct.id = ANY (p_contact_ids) AND ct.consecutive_soft_bounces <> 0
      AND (ct.tenant_id, ct.id) IN (SELECT * FROM unnest(p_tenant_ids, p_contact_ids));
END
$$;

-- Accepted mail, recorded once for one message or a worker's whole flush, in a fixed number of
-- statements: status sent, the step's emails_sent, the tenant's monthly count and, unless the tenant
-- says a provider reports deliveries (settings.delivery_events = 'provider'), the delivery (an event
-- whose provider id makes a repeat, a resend after a lost lease, count once, as in record_email_event).
-- Only messages this worker still leases change (compare-and-set); returns them.
CREATE OR REPLACE FUNCTION campaigns._record_sent(
    p_worker text, p_ids uuid[], p_responses text[], p_subjects text[], p_as_of timestamptz)
RETURNS SETOF uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
-- Custom plans for these array-driven statements were re-planned on every flush (about 1 ms a
-- flush, measured); the generic plans walk the same primary-key indexes.
SET plan_cache_mode = force_generic_plan
AS $$
-- The ON CONFLICT column list names email_events.message_id.
#variable_conflict use_column
DECLARE
    v_sent      uuid[];
    v_first     uuid[];
    v_tenants   uuid[];
    v_steps     uuid[];
    v_contacts  uuid[];
    v_delivered boolean[];
    v_firsts    boolean[];
BEGIN
    -- Steps in id order (a flush has locked them already), then the messages, also in id order.
    PERFORM FROM campaigns.campaign_steps s
    WHERE s.id IN (SELECT m.step_id FROM campaigns.email_messages m WHERE m.id = ANY (p_ids))
    ORDER BY s.id
    FOR NO KEY UPDATE;
    -- Locked first so that "first delivery" below is read from the row we then update.
    WITH locked AS (
        SELECT m.id, m.delivered_at IS NULL AS first_delivery
        FROM campaigns.email_messages m
        WHERE m.id = ANY (p_ids) AND m.status = 'sending' AND m.locked_by = p_worker
        ORDER BY m.id
        FOR NO KEY UPDATE
    )
    SELECT array_agg(l.id ORDER BY l.id), array_agg(l.id ORDER BY l.id) FILTER (WHERE l.first_delivery)
      INTO v_sent, v_first
    FROM locked l;

    -- One UPDATE per message (a second one in this transaction would re-run every foreign-key check
    -- of the row: 0.3 ms a message, measured). `= ANY (array)` keeps it on the primary key whatever
    -- the batch size (a join to unnest() was planned as a sequential scan of the outbox).
    WITH updated AS (
        UPDATE campaigns.email_messages m
        SET status = 'sent', sent_at = p_as_of, last_error = NULL, lease_expires_at = NULL, attempts = m.attempts + 1,
            smtp_response = left(p_responses[array_position(p_ids, m.id)], 1000),
            subject = left(p_subjects[array_position(p_ids, m.id)], 998),
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
               jsonb_build_object('source', 'smtp', 'provider_event_id', 'smtp-accepted',
                                  'smtp_response', left(p_responses[array_position(p_ids, u.id)], 200))
        FROM updated u
        WHERE u.smtp_delivery
        ON CONFLICT (tenant_id, message_id, event_type, provider_event_id) WHERE provider_event_id IS NOT NULL DO NOTHING
        RETURNING email_events.message_id
    ), counted AS (
        UPDATE campaigns.campaign_steps s SET emails_sent = s.emails_sent + c.sent
        FROM (SELECT u.tenant_id, u.step_id, count(*) AS sent FROM updated u GROUP BY 1, 2) c
        WHERE s.tenant_id = c.tenant_id AND s.id = c.step_id
    )
    SELECT array_agg(u.tenant_id), array_agg(u.step_id), array_agg(u.contact_id),
           array_agg(u.id IN (SELECT d.message_id FROM delivered d)), array_agg(u.id = ANY (v_first))
      INTO v_tenants, v_steps, v_contacts, v_delivered, v_firsts
    FROM updated u;

    IF v_tenants IS NOT NULL THEN
        -- After the steps (locked above): the order record_send_result and defer_over_quota_mail keep.
        PERFORM campaigns._add_send_usage(x.tenant_id, x.n, p_as_of)
        FROM (SELECT d.tenant_id, count(*) AS n FROM unnest(v_tenants) AS d(tenant_id) GROUP BY 1 ORDER BY 1) x;
        PERFORM campaigns._count_deliveries(array_agg(d.tenant_id), array_agg(d.step_id), array_agg(d.contact_id),
                                            array_agg(d.first))
        FROM unnest(v_tenants, v_steps, v_contacts, v_delivered, v_firsts) AS d(tenant_id, step_id, contact_id, delivered, first)
        WHERE d.delivered
        HAVING count(*) > 0;
    END IF;
    RETURN QUERY SELECT unnest(v_sent);
END
$$;

CREATE OR REPLACE FUNCTION campaigns.record_send_result(
    p_message_id uuid, p_worker text, p_outcome text, p_smtp_response text DEFAULT NULL, p_error text DEFAULT NULL,
    p_as_of timestamptz DEFAULT now(), p_subject text DEFAULT NULL, p_retry_base interval DEFAULT '1 minute',
    p_retry_cap interval DEFAULT '1 hour', p_retry_lifetime interval DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    v_msg      campaigns.email_messages;
    v_gap      integer;
    v_next     timestamptz;
    v_expires  timestamptz;
    v_response text := left(p_smtp_response, 1000);
    v_error    text := left(p_error, 1000);
BEGIN
    IF p_outcome IS NULL OR p_outcome NOT IN ('sent', 'retry', 'failed', 'rejected', 'release') THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422', MESSAGE = 'unknown send outcome',
            DETAIL = format('outcome=%s', p_outcome),
            HINT = 'One of sent, retry, failed (recipient refused), rejected (refused, not the recipient), release.';
    END IF;
    IF p_retry_base IS NULL OR p_retry_base <= interval '0' OR p_retry_cap IS NULL OR p_retry_cap < p_retry_base
       OR p_retry_lifetime <= interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = 'QC422',
            MESSAGE = 'p_retry_base must be positive, p_retry_cap at least as long and p_retry_lifetime positive';
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
        -- The same recording as a worker's flush (_record_sent), for one message.
        PERFORM campaigns._record_sent(p_worker, ARRAY[p_message_id], ARRAY[v_response], ARRAY[p_subject], p_as_of);
        RETURN 'sent';

    WHEN 'retry' THEN
        -- The lifetime runs from the first transient failure and is fixed then (a later change of the
        -- setting applies to later messages). Past it, the message is a dead letter.
        v_expires := coalesce(v_msg.retry_expires_at,
                              p_as_of + campaigns._retry_lifetime(v_msg.tenant_id, v_msg.sender_account_id, p_retry_lifetime));
        IF p_as_of >= v_expires THEN
            UPDATE campaigns.email_messages
            SET status = 'failed', failed_at = p_as_of, lease_expires_at = NULL, smtp_response = v_response,
                attempts = attempts + 1, retry_expires_at = v_expires, failure_kind = 'retry_lifetime_expired',
                last_error = format('retry lifetime expired after %s attempts: %s', v_msg.attempts + 1,
                                    coalesce(v_error, v_response, 'transient failure'))
            WHERE id = p_message_id;
            RETURN 'failed';
        END IF;
        -- A delay that would end past the lifetime is cut to its end: the last try comes then,
        -- rather than the message failing one backoff early.
        v_next := least(p_as_of + campaigns._retry_delay(v_msg.attempts + 1, p_retry_base, p_retry_cap), v_expires);
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
            attempts = attempts + 1, retry_expires_at = v_expires,
            last_error = coalesce(v_error, v_response, 'transient failure')
        WHERE id = p_message_id;
        RETURN 'queued';

    WHEN 'failed' THEN
        -- The relay refused the recipient for good: the attempt counts as sent (so bounce rate =
        -- bounced / sent), the message is a dead letter, and the hard bounce suppresses the address
        -- and exits the contact everywhere.
        UPDATE campaigns.email_messages
        SET status = 'failed', sent_at = p_as_of, failed_at = p_as_of, lease_expires_at = NULL,
            attempts = attempts + 1, failure_kind = 'bounced',
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
        -- Refused for a reason that is not the recipient's (sender refused, content blocked, or a
        -- message the renderer refused: error 'render_limit: …'): a dead letter, no bounce, the
        -- address stays mailable.
        UPDATE campaigns.email_messages
        SET status = 'failed', failed_at = p_as_of, lease_expires_at = NULL, smtp_response = v_response,
            attempts = attempts + 1,
            failure_kind = CASE WHEN v_error LIKE 'render\_limit:%' THEN 'render_limit' ELSE 'rejected' END,
            last_error = coalesce(v_error, v_response, 'rejected')
        WHERE id = p_message_id;
        RETURN 'failed';

    WHEN 'release' THEN
        -- Not attempted (held by a pause, shutdown, lease about to run out): back to the queue as it
        -- was (the claim counted no attempt).
        UPDATE campaigns.email_messages
        SET status = 'queued', lease_expires_at = NULL
        WHERE id = p_message_id;
        RETURN 'queued';
    END CASE;
END
$$;
COMMENT ON FUNCTION campaigns.record_send_result(uuid, text, text, text, text, timestamptz, text, interval, interval, interval) IS
    'Records the SMTP result of one leased message, only while worker p_worker still holds its lease (else returns NULL and changes nothing). sent: status sent, sent_at, step emails_sent + 1, the tenant''s monthly count (tenant_send_usage) + 1, and a delivered event through record_email_event unless tenants.settings.delivery_events = ''provider''. retry (4xx, timeout, dropped connection): back to queued at p_as_of + least(p_retry_base * 2^(attempts-1), p_retry_cap = 1 hour) ± 25% jitter (and after the sender''s minimum gap), but no later than retry_expires_at (first transient failure + _retry_lifetime: sender account, tenant, p_retry_lifetime, 2 days), so the last try comes at the end of the lifetime; a retry at or after retry_expires_at fails the message (failure_kind retry_lifetime_expired). failed (5xx for the recipient): failed (bounced), counted as sent, plus a bounce_hard event (suppression, exits). rejected (permanent, not the recipient): failed (rejected, or render_limit when p_error starts with render_limit:) without bounce. release (not attempted): queued again. Every outcome but release counts one attempt (max_attempts is no longer a limit). Returns the new status.';

CREATE OR REPLACE FUNCTION campaigns.record_send_results(
    p_worker text, p_message_ids uuid[], p_outcomes text[], p_smtp_responses text[] DEFAULT NULL,
    p_errors text[] DEFAULT NULL, p_subjects text[] DEFAULT NULL, p_as_of timestamptz DEFAULT now(),
    p_retry_base interval DEFAULT '1 minute', p_retry_cap interval DEFAULT '1 hour', p_retry_lifetime interval DEFAULT NULL)
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

    -- The common case, accepted mail, set-based (_record_sent), the rest one by one. The steps of
    -- every result are locked first, in id order, so concurrent flushes cannot deadlock on the
    -- counters whatever the outcomes.
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
    v_sent := ARRAY(SELECT campaigns._record_sent(p_worker, v_ids, v_responses, v_subjects, p_as_of));

    FOR v_i IN 1..v_n LOOP
        IF p_outcomes[v_i] = 'sent' THEN
            -- A repeat of the same message in one call is reported like a second call: NULL.
            RETURN QUERY SELECT p_message_ids[v_i],
                CASE WHEN p_message_ids[v_i] = ANY (v_sent) AND NOT p_message_ids[v_i] = ANY (v_done) THEN 'sent' END;
            v_done := v_done || p_message_ids[v_i];
        ELSE
            RETURN QUERY SELECT p_message_ids[v_i],
                campaigns.record_send_result(p_message_ids[v_i], p_worker, p_outcomes[v_i], p_smtp_responses[v_i],
                                             p_errors[v_i], p_as_of, p_subjects[v_i], p_retry_base, p_retry_cap,
                                             p_retry_lifetime);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION campaigns.record_send_results(text, uuid[], text[], text[], text[], text[], timestamptz, interval, interval, interval) IS
    'record_send_result for several results at once (what the worker calls: each flush commits the results that arrived while the previous one committed). Same semantics per message: element i of each array describes message i; results for leases this worker no longer holds change nothing and return a NULL status. Accepted mail is recorded set-based, other outcomes one by one through record_send_result. Returns (message_id, new status) per input.';
