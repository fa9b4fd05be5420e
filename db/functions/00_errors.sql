-- The engine's own SQLSTATEs (class QC), defined once: every intended refusal raises one of these, and
-- the service maps them to HTTP problem details by loading this table (service/errors.py reads
-- campaigns.error_codes() once per process). A new code is added here and nowhere else.

CREATE OR REPLACE FUNCTION campaigns.error_codes()
RETURNS TABLE (sqlstate text, code text, http_status integer, description text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
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
        ('QC206', 'STEP_IN_USE',                  409, 'the step has contacts standing on it or mail sent from it'),
        ('QC301', 'INVALID_TIME_RANGE',           400, 'a range whose start is after its end, or a time in the past'),
        ('QC302', 'INVALID_TIMEZONE',             422, 'not an IANA timezone name'),
        ('QC401', 'UNKNOWN_EVENT_TYPE',           422, 'record_email_event: not one of the event types'),
        ('QC402', 'NOT_APPROVER',                 403, 'the approval row is assigned to another user'),
        ('QC403', 'FORBIDDEN',                    403, 'the caller''s role does not allow this (admin required)'),
        ('QC501', 'INVALID_SEGMENT_RULES',        422, 'a segment rule is malformed (field, operator or value)'),
        ('QC502', 'SEGMENT_IS_DYNAMIC',           409, 'a dynamic segment''s members come from its rules, not by hand'),
        ('QC601', 'AB_TEST_INVALID',              422, 'an A/B test must be on an email step with 2 to 5 variants'),
        ('QC602', 'AB_TEST_NOT_EDITABLE',         409, 'an A/B test can only be edited while draft, and decided once')
$$;
COMMENT ON FUNCTION campaigns.error_codes() IS
    'The engine''s own SQLSTATEs (class QC) with their stable API code, HTTP status and meaning: the one table of them, which the service loads to map refusals to problem details.';
