"""Dead letters over the API, end to end: mail a real relay refused is listed with why (failure kind,
the relay's last reply), filtered; a requeue puts it back with a fresh lifetime and the worker then
delivers it; a suppressed recipient is not requeued; bad filters are refused and change nothing."""

from __future__ import annotations

from tests.support.api import assert_problem, digest, in_process, new_tenant, ok
from tests.support.outbox import make_outbox, run_once, statuses

REFUSED = "554 5.7.1 Message refused by policy"


def _dead_letter_world(conn, db_url, smtp):
    """Six queued messages; the relay refuses every message at DATA and one recipient at RCPT."""
    box = make_outbox(conn, 6)
    victim = conn.execute("SELECT to_email FROM campaigns.email_messages WHERE campaign_id = %s ORDER BY to_email LIMIT 1",
                          (box.campaign_id,)).fetchone()[0]
    smtp.rcpt_replies[victim.lower()] = f"550 5.1.1 <{victim}>: Recipient address rejected: User unknown"
    smtp.fault = lambda command: REFUSED if command == "DATA" else None
    stats = run_once(db_url, smtp)
    assert (stats.failed, stats.rejected) == (1, 5) and not smtp.received
    smtp.fault = None
    return box, victim


def test_dead_letters_are_listed_with_why_and_requeued_mail_is_sent(conn, db_url, smtp):
    box, victim = _dead_letter_world(conn, db_url, smtp)
    with in_process(db_url) as app, app.client(box.api_key) as api:
        everything = ok(api.get("/api/dead-letters", params={"limit": 100}))
        assert everything["pagination"]["total"] == 6
        kinds = sorted(d["failure_kind"] for d in everything["items"])
        assert kinds == ["bounced"] + ["rejected"] * 5
        rejected = ok(api.get("/api/dead-letters", params={"failure_kind": "rejected", "campaign_id": str(box.campaign_id)}))
        assert rejected["pagination"]["total"] == 5
        assert all(d["last_smtp_reply"].startswith("554") and d["attempts"] == 1 for d in rejected["items"])
        one = ok(api.get(f"/api/dead-letters/{rejected['items'][0]['message_id']}"))
        assert one["message_id"] == rejected["items"][0]["message_id"] and one["to_email"] != victim
        later = ok(api.get("/api/dead-letters", params={"failed_after": "2999-01-01T00:00:00Z"}))
        assert later["pagination"]["total"] == 0

        # The suppressed recipient stays a dead letter.
        bounced = ok(api.post("/api/dead-letters/requeue", json={"failure_kind": "bounced"}))
        assert bounced == {"matched": 1, "requeued": 0, "suppressed": 1, "campaign_ended": 0, "enrollment_exited": 0,
                           "not_found": 0}

        summary = ok(api.post("/api/dead-letters/requeue",
                              json={"campaign_id": str(box.campaign_id), "failure_kind": "rejected"}))
        assert summary == {"matched": 5, "requeued": 5, "suppressed": 0, "campaign_ended": 0, "enrollment_exited": 0,
                           "not_found": 0}
        assert statuses(conn, box.campaign_id) == {"queued": 5, "failed": 1}

        stats = run_once(db_url, smtp)
        assert stats.sent == 5
        assert statuses(conn, box.campaign_id) == {"sent": 5, "failed": 1}
        assert len(smtp.received) == 5 and not smtp.duplicates()
        assert victim.lower() not in {r.rcpt.lower() for r in smtp.received}
        # Sent mail is no longer a dead letter: requeueing it again is a 404.
        assert_problem(api.post(f"/api/dead-letters/{one['message_id']}/requeue"), 404, "NOT_FOUND")
        assert ok(api.get("/api/dead-letters"))["pagination"]["total"] == 1


def test_requeue_one_dead_letter(conn, db_url, smtp):
    box, _ = _dead_letter_world(conn, db_url, smtp)
    with in_process(db_url) as app, app.client(box.api_key) as api:
        target = ok(api.get("/api/dead-letters", params={"failure_kind": "rejected", "limit": 1}))["items"][0]
        assert ok(api.post(f"/api/dead-letters/{target['message_id']}/requeue")) == {
            "message_id": target["message_id"], "outcome": "requeued"}
        assert statuses(conn, box.campaign_id) == {"queued": 1, "failed": 5}
        assert run_once(db_url, smtp).sent == 1
        assert [r.rcpt for r in smtp.received] == [target["to_email"]]


def test_bad_requeue_filters_are_refused_and_change_nothing(conn, db_url, smtp):
    box, _ = _dead_letter_world(conn, db_url, smtp)
    other = new_tenant(conn, "other")
    before = digest(conn)
    with in_process(db_url) as app, app.client(box.api_key) as api, app.client(other.api_key) as other_api:
        assert_problem(api.post("/api/dead-letters/requeue", json={}), 422)
        assert_problem(api.post("/api/dead-letters/requeue", json={"failure_kind": "tired"}), 400)
        assert_problem(api.post("/api/dead-letters/requeue", json={"message_ids": []}), 400)
        assert_problem(api.get("/api/dead-letters", params={"failure_kind": "tired"}), 400)
        target = ok(api.get("/api/dead-letters", params={"limit": 1}))["items"][0]["message_id"]
        # Another tenant neither sees nor requeues this tenant's dead letters.
        assert_problem(other_api.get(f"/api/dead-letters/{target}"), 404)
        assert_problem(other_api.post(f"/api/dead-letters/{target}/requeue"), 404)
        assert ok(other_api.post("/api/dead-letters/requeue", json={"campaign_id": str(box.campaign_id)}))["matched"] == 0
        assert ok(other_api.get("/api/dead-letters"))["pagination"]["total"] == 0
    assert digest(conn) == before
