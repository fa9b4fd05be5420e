"""Events benchmark: contact events through the REST API into enrollments, the time from one event to
its mail at an SMTP server, and webhook deliveries per second from one worker.

    .venv/bin/python bench/events_bench.py [--events 20000] [--batch 1000] [--samples 40] [--hooks 3000]

1. `--events` events in batches of `--batch` through POST /api/events/batch (4 clients), each a new
   contact (by email) triggering one active campaign (email, wait 2 days, email), so each event
   upserts a contact, records the event, enrolls the contact and queues its first email in the
   request's transaction. Floor, in the same run and database: the same rows written by bare
   INSERT … SELECT (contacts, contact_events, enrollments, email messages), no API and no rules.
2. `--samples` single POST /api/events, one after the other, with the worker (`campaignctl worker`,
   its own process) sending to an SMTP catcher in this process: the time from the request to the
   mail accepted by the catcher, p50/p95 (goal p95 < 2 s).
3. `--hooks` webhook deliveries (enrollment.started of events like those of 1) delivered by the
   worker to a local HTTP receiver that answers 204: deliveries per second.

The database is a throwaway embedded cluster (or CAMPAIGNS_BENCH_DATABASE_URL's server), as in
bench/api_bench.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from api_bench import database, serve  # noqa: E402
from service.dev.net import free_port  # noqa: E402
from service.migrate import migrate  # noqa: E402


class Catcher:
    """An SMTP server keeping the arrival time of each message by its subject."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
        for line in envelope.content.split(b"\r\n"):
            if line.startswith(b"Subject:"):
                self.arrived[line[8:].strip().decode()] = time.monotonic()
        return "250 OK"


class Receiver:
    def __init__(self) -> None:
        self.count = 0
        self.first = self.last = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["content-length"]))
                now = time.monotonic()
                receiver.first = receiver.first or now
                receiver.last = now
                receiver.count += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def triggered_campaign(api: httpx.Client, name: str, trigger: str) -> str:
    campaign = api.post("/api/campaigns", json={"name": name, "from_email": "hi@bench.test", "trigger_event": trigger})
    campaign.raise_for_status()
    cid = campaign.json()["id"]
    first = api.post(f"/api/campaigns/{cid}/steps", json={"step_type": "email", "subject_line": "{{ event.tag }}",
                                                          "email_content": "Welcome {{ first_name }}"}).json()
    wait = api.post(f"/api/campaigns/{cid}/steps", json={"step_type": "wait", "wait_duration_value": 2,
                                                         "wait_duration_unit": "days", "after_step_id": first["id"]}).json()
    api.post(f"/api/campaigns/{cid}/steps", json={"step_type": "email", "subject_line": "Still there?",
                                                  "email_content": "Hi", "after_step_id": wait["id"]}).raise_for_status()
    api.post(f"/api/campaigns/{cid}/launch").raise_for_status()
    return cid


def floor_seconds(url: str, tenant_id: str, campaign_id: str, step_id: str, n: int) -> float:
    """The same rows as n events of part 1, by bare INSERT … SELECT in one transaction."""
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        conn.execute("""
            WITH c AS (INSERT INTO campaigns.contacts (tenant_id, email)
                       SELECT %(t)s, 'floor' || g || '@bench.test' FROM generate_series(1, %(n)s) g RETURNING id),
                 e AS (INSERT INTO campaigns.contact_events (tenant_id, contact_id, name, properties, occurred_at)
                       SELECT %(t)s, c.id, 'floor', '{"tag": "x"}', now() FROM c RETURNING contact_id),
                 cc AS (INSERT INTO campaigns.campaign_contacts (tenant_id, campaign_id, contact_id, status, current_step_id,
                                                                 enrolled_at, next_email_scheduled_at, trigger_properties)
                        SELECT %(t)s, %(cid)s, e.contact_id, 'active', %(step)s, now(), now() + interval '2 days', '{"tag": "x"}'
                        FROM e RETURNING id, contact_id)
            INSERT INTO campaigns.email_messages (tenant_id, campaign_id, step_id, enrollment_id, contact_id, to_email,
                                                 smtp_message_id, status)
            SELECT %(t)s, %(cid)s, %(step)s, cc.id, cc.contact_id, 'floor@bench.test', gen_random_uuid()::text || '@bench',
                   'cancelled'
            FROM cc""", {"t": tenant_id, "n": n, "cid": campaign_id, "step": step_id})
        conn.commit()
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--hooks", type=int, default=3_000)
    args = parser.parse_args()

    url, destroy = database()
    worker = api_server = None
    try:
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            tenant_id, key = conn.execute("SELECT tenant_id, api_key FROM campaigns.create_tenant('bench')").fetchone()
        port = free_port()
        secret = os.urandom(32).hex()
        os.environ["CAMPAIGNS_SECRET_KEY"] = secret
        os.environ["CAMPAIGNS_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"  # the receiver of part 3 is local
        api_server = serve(url, port)
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=120)
        campaign = triggered_campaign(api, "Bulk", "bulk_signup")

        # 1. events per second into enrollments
        batches = [[{"name": "bulk_signup", "email": f"b{i}-{j}@bench.test", "properties": {"tag": "bulk"}}
                    for j in range(args.batch)] for i in range(args.events // args.batch)]

        def post(batch: list[dict]) -> int:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"},
                              timeout=300) as client:
                response = client.post("/api/events/batch", json={"events": batch})
                response.raise_for_status()
                return sum(1 for r in response.json()["results"] if r["enrolled"] and r["enrolled"][0]["outcome"] == "enrolled")

        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            enrolled = sum(pool.map(post, batches))
        api_seconds = time.perf_counter() - started
        total = len(batches) * args.batch
        with psycopg.connect(url, autocommit=True) as conn:
            queued = conn.execute("SELECT count(*) FROM campaigns.email_messages WHERE campaign_id = %s AND status = 'queued'",
                                  (campaign,)).fetchone()[0]
            step = conn.execute("SELECT id FROM campaigns.campaign_steps WHERE campaign_id = %s ORDER BY step_order LIMIT 1",
                                (campaign,)).fetchone()[0]
            # The bulk mail is not the subject of part 2: out of the worker's way.
            conn.execute("UPDATE campaigns.email_messages SET status = 'cancelled' WHERE campaign_id = %s AND status = 'queued'",
                         (campaign,))
        floor = floor_seconds(url, tenant_id, campaign, str(step), total)
        print(f"1. events into enrollments: {total} events, {enrolled} enrolled, {queued} first emails queued "
              f"in {api_seconds:.2f} s = {total / api_seconds:,.0f} events/s (goal >= 10,000/s)")
        print(f"   floor, the same rows by bare INSERT ... SELECT: {floor:.2f} s = {total / floor:,.0f} rows/s; "
              f"API / floor = {api_seconds / floor:.1f}x")

        # 2. one event -> its mail at the SMTP server
        catcher = Catcher()
        smtp_port = free_port()
        controller = Controller(catcher, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        receiver = Receiver()
        env = {**os.environ, "DATABASE_URL": url, "CAMPAIGNS_SECRET_KEY": secret, "SMTP_HOST": "127.0.0.1",
               "SMTP_PORT": str(smtp_port), "SMTP_TLS": "none",
               "CAMPAIGNS_PUBLIC_URL": "https://bench.test", "CAMPAIGNS_LOG_LEVEL": "WARNING"}
        worker = subprocess.Popen([sys.executable, "-m", "service.cli", "worker"], cwd=ROOT, env=env)
        triggered_campaign(api, "Single", "single_signup")
        time.sleep(2)  # the worker's start-up (connections, LISTEN) is not part of the latency
        latencies = []
        for i in range(args.samples):
            tag = f"sample-{i}"
            sent = time.monotonic()
            api.post("/api/events", json={"name": "single_signup", "email": f"s{i}@bench.test",
                                          "properties": {"tag": tag}}).raise_for_status()
            deadline = sent + 30
            while tag not in catcher.arrived and time.monotonic() < deadline:
                time.sleep(0.002)
            latencies.append(catcher.arrived.get(tag, deadline) - sent)
        latencies.sort()
        p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
        print(f"2. POST /api/events -> mail accepted by the SMTP server: {len(latencies)} samples, "
              f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms "
              f"(goal p95 < 2 s)")

        # 3. webhook deliveries per second
        api.post("/api/webhooks", json={"url": receiver.url, "event_types": ["enrollment.started"]}).raise_for_status()
        hooks = [[{"name": "bulk_signup", "email": f"h{i}-{j}@bench.test"} for j in range(args.batch)]
                 for i in range(max(1, args.hooks // args.batch))]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(post, hooks))
        expected = len(hooks) * args.batch
        deadline = time.monotonic() + 300
        while receiver.count < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        spread = max(receiver.last - receiver.first, 1e-9)
        print(f"3. webhook deliveries from one worker: {receiver.count} of {expected} in {spread:.2f} s "
              f"= {receiver.count / spread:,.0f}/s")
        controller.stop()
        return 0
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        if api_server is not None:
            api_server.terminate()
            api_server.wait(30)
        destroy()


if __name__ == "__main__":
    raise SystemExit(main())
