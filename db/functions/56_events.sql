-- What happens after a send: tracked events (delivered, open, click, reply, bounces, complaint,
-- unsubscribe) appended to email_events, folded into the message and step counters, and their
-- consequences for the contact, the suppression lists and the enrollments; and how a reply finds the
-- message it answers.

CREATE OR REPLACE FUNCTION campaigns._suppress(p_tenant_id uuid, p_email text, p_reason text, p_as_of timestamptz)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
    INSERT INTO campaigns.suppressions (tenant_id, email, reason, source, added_at)
    VALUES (p_tenant_id, p_email, p_reason, 'event', p_as_of)
    ON CONFLICT (tenant_id, lower(email)) DO NOTHING
$$;

-- record_email_event's unsubscribe and bounce rule, for one message: its earliest unsubscribed_at /
-- bounced_at, the step counter once, the active contact unsubscribed / bounced, the address suppressed
-- for the tenant with p_reason (unsubscribe, hard_bounce, soft_bounce), the contact exited everywhere.
CREATE OR REPLACE FUNCTION campaigns._record_opt_out(
    p_msg campaigns.email_messages, p_email text, p_reason text, p_occurred_at timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, campaigns
AS $$
DECLARE
    -- unsubscribe, or a bounce (hard_bounce, soft_bounce) that makes the address unmailable.
    v_unsub  boolean := p_reason = 'unsubscribe';
    v_status text := CASE WHEN v_unsub THEN 'unsubscribed' ELSE 'bounced' END;
    v_first  boolean := CASE WHEN v_unsub THEN p_msg.unsubscribed_at IS NULL ELSE p_msg.bounced_at IS NULL END;
BEGIN
    UPDATE campaigns.email_messages
    SET unsubscribed_at = CASE WHEN v_unsub THEN least(unsubscribed_at, p_occurred_at) ELSE unsubscribed_at END,
        bounced_at = CASE WHEN v_unsub THEN bounced_at ELSE least(bounced_at, p_occurred_at) END
    WHERE id = p_msg.id;
    UPDATE campaigns.campaign_steps
    SET unsubscribes = unsubscribes + v_unsub::integer, bounces = bounces + (NOT v_unsub)::integer
    WHERE v_first AND tenant_id = p_msg.tenant_id AND id = p_msg.step_id;
    UPDATE campaigns.contacts SET status = v_status
    WHERE tenant_id = p_msg.tenant_id AND id = p_msg.contact_id AND status = 'active';
    PERFORM campaigns._suppress(p_msg.tenant_id, p_email, p_reason, p_occurred_at);
    PERFORM campaigns._exit_contact_everywhere(p_msg.tenant_id, p_msg.contact_id, v_status, p_occurred_at);
END
$$;

CREATE OR REPLACE FUNCTION campaigns.record_email_event(
    p_message_id uuid, p_event_type text, p_occurred_at timestamptz DEFAULT now(), p_details jsonb DEFAULT '{}')
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, campaigns
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
        UPDATE campaigns.email_messages SET delivered_at = least(delivered_at, p_occurred_at) WHERE id = v_msg.id;
        -- The step counter and the soft-bounce reset, as for mail the relay accepted (_record_sent).
        PERFORM campaigns._count_deliveries(ARRAY[v_msg.tenant_id], ARRAY[v_msg.step_id], ARRAY[v_msg.contact_id],
                                            ARRAY[v_msg.delivered_at IS NULL]);

    WHEN 'open', 'click' THEN
        -- A click without a prior open counts as an open too.
        v_first_open := v_msg.first_opened_at IS NULL;
        v_first := p_event_type = 'click' AND v_msg.first_clicked_at IS NULL;
        UPDATE campaigns.email_messages
        SET first_opened_at = least(first_opened_at, p_occurred_at),
            open_count = open_count + (p_event_type = 'open')::integer,
            first_clicked_at = CASE WHEN p_event_type = 'click' THEN least(first_clicked_at, p_occurred_at) ELSE first_clicked_at END,
            click_count = click_count + (p_event_type = 'click')::integer
        WHERE id = v_msg.id;
        UPDATE campaigns.campaign_steps
        SET opens = opens + v_first_open::integer, clicks = clicks + v_first::integer
        WHERE (v_first_open OR v_first) AND tenant_id = v_msg.tenant_id AND id = v_msg.step_id;

    WHEN 'reply' THEN
        v_first := v_msg.replied_at IS NULL;
        UPDATE campaigns.email_messages SET replied_at = least(replied_at, p_occurred_at) WHERE id = v_msg.id;
        UPDATE campaigns.campaign_steps SET replies = replies + 1
        WHERE v_first AND tenant_id = v_msg.tenant_id AND id = v_msg.step_id;
        SELECT c.on_reply INTO v_on_reply FROM campaigns.campaigns c WHERE c.tenant_id = v_msg.tenant_id AND c.id = v_msg.campaign_id;
        IF v_on_reply = 'exit' THEN
            PERFORM campaigns._exit_enrollments(ARRAY[v_msg.enrollment_id], ARRAY['replied'], p_occurred_at);
        ELSIF v_on_reply = 'pause' THEN
            -- Also when the campaign is paused: the reply's pause must outlive the campaign's resume.
            UPDATE campaigns.campaign_contacts SET status = 'paused', pause_reason = 'reply', updated_at = now()
            WHERE tenant_id = v_msg.tenant_id AND id = v_msg.enrollment_id
              AND (status IN ('enrolled', 'active') OR (status = 'paused' AND pause_reason = 'campaign'));
        END IF;

    WHEN 'unsubscribe' THEN
        PERFORM campaigns._record_opt_out(v_msg, v_email, 'unsubscribe', p_occurred_at);

    WHEN 'bounce_hard' THEN
        PERFORM campaigns._record_opt_out(v_msg, v_email, 'hard_bounce', p_occurred_at);

    WHEN 'bounce_soft' THEN
        SELECT t.soft_bounce_threshold INTO v_threshold FROM campaigns.tenants t WHERE t.id = v_msg.tenant_id;
        UPDATE campaigns.contacts SET consecutive_soft_bounces = consecutive_soft_bounces + 1
        WHERE tenant_id = v_msg.tenant_id AND id = v_msg.contact_id
        RETURNING consecutive_soft_bounces INTO v_soft;
        IF v_soft >= v_threshold THEN
            PERFORM campaigns._record_opt_out(v_msg, v_email, 'soft_bounce', p_occurred_at);
        END IF;

    WHEN 'complaint' THEN
        UPDATE campaigns.email_messages SET complained_at = least(complained_at, p_occurred_at) WHERE id = v_msg.id;
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
COMMENT ON FUNCTION campaigns.record_email_event(uuid, text, timestamptz, jsonb) IS
    'Records one event of a sent message (delivered, open, click, reply, bounce_hard, bounce_soft, complaint, unsubscribe) and applies it: the message''s earliest delivered/open/click/reply/unsubscribe/bounce/complaint times (an event reported late but earlier moves them back) and unique step counters (a click implies an open); reply exits the enrollment (or pauses it / continues per campaigns.on_reply); unsubscribe suppresses for the tenant and exits the contact from every campaign, cancelling queued mail; a hard bounce, or the tenant''s threshold of consecutive soft bounces, suppresses and exits with reason bounced; a complaint suppresses globally and exits. A repeat of a provider event (details.provider_event_id) returns false and changes nothing. QC401 for an unknown type, QC404 for an unknown message.';

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
