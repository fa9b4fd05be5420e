-- Release the enrollments an A/B test still holds back although its winner was deployed (a processing batch that overlapped the deployment held them after the release ran); they become due now and get the winner.
-- depends: 0033_widen_analytics_counters

-- Routing now reads the test's status under the test's row lock (db/functions/45_ab_tests.sql), so
-- no new ones appear; these are the ones left by the race before. Held back = live, standing on the
-- tested step, with no due time; only a deployment gives them one, and it already ran.
UPDATE campaigns.campaign_contacts cc
SET next_email_scheduled_at = now(), updated_at = now()
FROM campaigns.ab_tests t
WHERE t.status = 'winner_deployed'
  AND cc.tenant_id = t.tenant_id AND cc.campaign_id = t.campaign_id AND cc.current_step_id = t.step_id
  AND cc.status IN ('enrolled', 'active', 'paused') AND cc.next_email_scheduled_at IS NULL;
