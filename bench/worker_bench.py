"""Outbox worker benchmark: messages per second from one worker process to a fast local SMTP sink,
next to a bare aiosmtplib loop with the same connection count, measured in the same run; then two
worker processes at once.

    .venv/bin/python bench/worker_bench.py [--messages 20000] [--connections 16] [--batch 500] [--rounds 3]

What it does:
  1. Postfix's `smtp-sink` (installed with apt as root when missing; otherwise the benchmark says
     so and exits 0) listens on a free loopback port and accepts every message without storing it.
  2. A throwaway PostgreSQL (the embedded cluster of service.dev.embedded_pg under .local/worker-bench-pg,
     or CAMPAIGNS_BENCH_DATABASE_URL naming a server the benchmark may create a database on), migrated
     as a deploy does, with one tenant, `--messages` contacts and a launched one-email campaign whose
     template is a realistic 3 KB HTML newsletter (merge tags, fallbacks, a conditional, 4 links):
     process_due_steps queues one message per contact, exactly as production does.
  3. The floor: a bare aiosmtplib loop in this process, `--connections` persistent connections,
     sending pre-built messages of the worker's size with the same SMTP dialogue as the worker
     (MAIL FROM with SIZE, RCPT TO, DATA). `SMTP.sendmail()` is measured too, for reference.
  4. Composing alone (render, tracking links, MIME) of the same claimed rows, in this process: the
     worker does this on top of the floor's work, so floor / (floor + compose) is the most the
     worker / floor ratio can reach on this template even if the database cost nothing.
  5. `campaignctl worker --once` as one process, `--rounds` times (the median is the figure; a
     shared machine varies by 10-20% from run to run): claim, render, MIME, tracking, SMTP, and the
     group-committed record_send_results (with each message's `delivered` event). Throughput is
     counted from its first claim to its last recorded result (in the database), and wall-clock
     including process start-up is shown next to it.
  6. The same for a tenant whose provider reports deliveries (settings.delivery_events = 'provider':
     no `delivered` event at send time), to show what that event costs.
  7. The same with two worker processes at once.
The worker and the bare loop run on the same event loop (uvloop when installed; `--loop asyncio` for
asyncio's own). CPU time is reported per message for the worker process(es), PostgreSQL and the sink
(from /proc), so where the time goes is visible. Goals: >= 1,500 msg/s for one process and >= 80% of
the bare loop. 16 connections is the default because a sender waits for its result to be committed
before its next message (at most one unrecorded message per connection if the worker is killed), so
the connection count is also how many results one commit can carry: 8 connections leave the worker
waiting on commits, 16 and more keep it busy (docs/worker.md has the figures per connection count).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.dev.net import free_port
from service import eventloop  # noqa: E402
from service.migrate import migrate  # noqa: E402

SECRET = "worker-bench-signing-key-5d1f8b3e7a2c9f4b6e0a"  # the worker refuses keys under 32 bytes
TEMPLATE_SUBJECT = 'Hi {{firstName|there}}, news from {{company|"us"}}'
TEMPLATE_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>News</title><style>p { font-family: sans-serif; line-height: 1.4 }</style></head>
<body>
<h1>Hello {{ firstName | default: "there" }},</h1>
<p>We at Example think {{ company | default: "your team" }} would like
<a href="https://example.com/product?id=1&amp;utm_source=email&amp;utm_campaign={{ campaign_name | url_encode }}">our new product</a>.</p>
<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna
aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.</p>
<p>Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint
occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum.</p>
{% if leadScore > 50 %}<p>As one of our best customers, {{ first_name }}, you get early access.</p>
{% else %}<p>Join thousands of happy customers in {{ city | default: "your city" }}.</p>{% endif %}
<p>Your industry: {{ customField.industry | default: "all of them" }}</p>
<p><a href="https://example.com/blog">Blog</a> | <a href="https://example.com/pricing">Pricing</a> |
<a href="https://example.com/contact">Contact</a> | <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
<p style="color:#888">Example Inc., 1 Example Street, Example City</p>
</body></html>
"""


def say(label: str, value: str) -> None:
    print(f"{label:<62} {value}", flush=True)


# -- CPU accounting from /proc --------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()


def tree_cpu(root_pid: int) -> float:
    """CPU seconds of a process, its reaped children and its live children (one level: postmaster)."""
    fields = _stat(root_pid)
    if fields is None:
        return 0.0
    total = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            child = _stat(int(entry.name))
            if child and int(child[1]) == root_pid:
                total += int(child[11]) + int(child[12])
    return total / _TICK


# -- smtp-sink ------------------------------------------------------------------------------------------------


def find_smtp_sink() -> str | None:
    found = shutil.which("smtp-sink") or ("/usr/sbin/smtp-sink" if Path("/usr/sbin/smtp-sink").exists() else None)
    if found or os.geteuid() != 0:
        return found
    print("installing postfix (for smtp-sink) with apt …", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-q", "postfix"], env=env, stdout=subprocess.DEVNULL, check=False)
    if not Path("/usr/sbin/smtp-sink").exists():
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=False)
        subprocess.run(["apt-get", "install", "-y", "-q", "postfix"], env=env, stdout=subprocess.DEVNULL, check=False)
    return "/usr/sbin/smtp-sink" if Path("/usr/sbin/smtp-sink").exists() else None


def start_sink(binary: str, port: int) -> subprocess.Popen:
    cmd = [binary]
    if os.geteuid() == 0:
        cmd += ["-u", "nobody"]
    cmd += ["-m", "1000", f"127.0.0.1:{port}", "1024"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("smtp-sink did not start")
            time.sleep(0.05)


# -- PostgreSQL ------------------------------------------------------------------------------------------------


def database() -> tuple[str, object | None, int | None]:
    """(url of a fresh database, cluster to stop or None, postmaster pid for CPU accounting or None)."""
    base = os.environ.get("CAMPAIGNS_BENCH_DATABASE_URL")
    cluster = None
    if not base:
        from service.dev.embedded_pg import EmbeddedPostgres

        cluster = EmbeddedPostgres(folder=ROOT / ".local" / "worker-bench-pg",
                                   port=int(os.environ.get("BENCH_PG_PORT", "54349")), dbname="postgres")
        cluster.start()
        with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
            for name, value in {"shared_buffers": "1GB", "max_wal_size": "8GB", "checkpoint_timeout": "30min",
                                "work_mem": "16MB"}.items():
                conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        cluster.stop()
        cluster.start()
        base = cluster.url("postgres")
    dbname = "worker_bench"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        postmaster = None
        if cluster is not None:
            postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    url = urlunsplit(urlsplit(base)._replace(path="/" + dbname))
    migrate(url)
    return url, cluster, postmaster


def seed(url: str, n: int) -> dict:
    with psycopg.connect(url, autocommit=True) as conn:
        tenant_id, _ = conn.execute("SELECT * FROM campaigns.create_tenant('Bench', 'bench@example.com')").fetchone()
        segment_id = conn.execute("INSERT INTO campaigns.segments (tenant_id, name) VALUES (%s, 'all') RETURNING id",
                                  (tenant_id,)).fetchone()[0]
        conn.execute(
            """INSERT INTO campaigns.contacts (tenant_id, email, first_name, last_name, company, city, custom_fields, score)
               SELECT %s, 'reader' || g || '@example.org', CASE WHEN g %% 10 = 0 THEN NULL ELSE 'Reader' || g END, 'Lee',
                      CASE WHEN g %% 3 = 0 THEN NULL ELSE 'Company ' || g END, 'Lyon',
                      jsonb_build_object('industry', CASE WHEN g %% 2 = 0 THEN 'Retail' ELSE 'SaaS' END), g %% 100
               FROM generate_series(1, %s) g""", (tenant_id, n))
        conn.execute("INSERT INTO campaigns.segment_contacts (tenant_id, segment_id, contact_id) "
                     "SELECT tenant_id, %s, id FROM campaigns.contacts WHERE tenant_id = %s", (segment_id, tenant_id))
        campaign_id = conn.execute(
            "INSERT INTO campaigns.campaigns (tenant_id, name, segment_id, from_email, from_name) "
            "VALUES (%s, 'Newsletter', %s, 'news@example.com', 'Example News') RETURNING id",
            (tenant_id, segment_id)).fetchone()[0]
        step_id = conn.execute(
            "INSERT INTO campaigns.campaign_steps (tenant_id, campaign_id, step_order, step_type, subject_line, email_content) "
            "VALUES (%s, %s, 1, 'email', %s, %s) RETURNING id", (tenant_id, campaign_id, TEMPLATE_SUBJECT, TEMPLATE_HTML)
        ).fetchone()[0]
        started = time.perf_counter()
        conn.execute("SELECT campaigns.launch_campaign(%s)", (campaign_id,))
        while conn.execute("SELECT campaigns.process_due_steps()").fetchone()[0]:
            pass
        queued = conn.execute("SELECT count(*) FROM campaigns.email_messages WHERE status = 'queued'").fetchone()[0]
        elapsed = time.perf_counter() - started
        conn.execute("VACUUM ANALYZE")
    assert queued == n
    return {"tenant_id": tenant_id, "campaign_id": campaign_id, "step_id": step_id, "queue_seconds": elapsed}


def requeue(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE campaigns.email_messages SET status = 'queued', attempts = 0, locked_by = NULL, locked_at = NULL, "
                     "lease_expires_at = NULL, sent_at = NULL, delivered_at = NULL, smtp_response = NULL, subject = NULL, "
                     "next_attempt_at = now() - interval '1 minute'")
        conn.execute("TRUNCATE campaigns.email_events")
        conn.execute("UPDATE campaigns.campaign_steps SET emails_sent = 0, emails_delivered = 0")
        conn.execute("VACUUM ANALYZE campaigns.email_messages")
        conn.execute("VACUUM ANALYZE campaigns.campaign_steps")
        conn.execute("CHECKPOINT")


def claimed_rows(url: str, limit: int) -> list[dict]:
    """Rows as the worker claims them (in a transaction rolled back: nothing is leased)."""
    with psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        conn.execute("BEGIN")
        rows = conn.execute("SELECT * FROM campaigns.claim_outbox_batch('bench-sample', %s)", (limit,)).fetchall()
        conn.execute("ROLLBACK")
    return rows


def compose_cost(rows: list[dict]) -> tuple[bytes, float]:
    """(one message exactly as the worker builds it, for the bare loop; CPU µs to compose one)."""
    from service.tracking.tokens import TokenSigner
    from service.worker.compose import Composer

    composer = Composer("https://mail.example.com", TokenSigner(SECRET))
    sample = composer.compose(rows[0]).data  # also compiles and caches the templates
    started = time.process_time()
    for row in rows:
        composer.compose(row)
    return sample, (time.process_time() - started) / len(rows) * 1e6


# -- the floor: a bare aiosmtplib loop -----------------------------------------------------------------------


async def bare_loop(port: int, connections: int, count: int, data: bytes, use_sendmail: bool) -> float:
    import aiosmtplib

    remaining = [count]

    async def one() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, local_hostname="bench")
        await client.connect()
        options = [f"SIZE={len(data)}"] if client.supports_extension("size") else None
        while remaining[0] > 0:
            remaining[0] -= 1
            if use_sendmail:
                await client.sendmail("news@example.com", ["reader@example.org"], data)
            else:
                await client.mail("news@example.com", options=options)
                await client.rcpt("reader@example.org")
                await client.data(data)
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(connections)))
    return time.perf_counter() - started


# -- the worker ------------------------------------------------------------------------------------------------


def worker_env(url: str, port: int, connections: int, batch: int, loop: str = "auto") -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
            "CAMPAIGNS_WORKER_EVENT_LOOP": loop,
            "CAMPAIGNS_SECRET_KEY": SECRET, "CAMPAIGNS_PUBLIC_URL": "https://mail.example.com",
            "CAMPAIGNS_WORKER_CONNECTIONS": str(connections), "CAMPAIGNS_WORKER_BATCH_SIZE": str(batch),
            "CAMPAIGNS_WORKER_LEASE_SECONDS": "600", "CAMPAIGNS_WORKER_POLL_SECONDS": "1"}


def run_workers(url: str, port: int, processes: int, connections: int, batch: int, n: int,
                postmaster: int | None, sink: subprocess.Popen, provider_mode: bool = False, loop: str = "auto") -> dict:
    requeue(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE campaigns.tenants SET settings = %s", ('{"delivery_events": "provider"}' if provider_mode else "{}",))
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    pg_before = tree_cpu(postmaster) if postmaster else 0.0
    sink_before = tree_cpu(sink.pid)
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "service.cli", "worker", "--once"], cwd=ROOT,
                              env=worker_env(url, port, connections, batch, loop), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for _ in range(processes)]
    outputs = [p.communicate(timeout=3600)[0] for p in procs]
    wall = time.perf_counter() - started
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = (after_children.ru_utime + after_children.ru_stime) - (before_children.ru_utime + before_children.ru_stime)
    with psycopg.connect(url, autocommit=True) as conn:
        sent, span = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'sent'), extract(epoch FROM max(sent_at) - min(locked_at)) "
            "FROM campaigns.email_messages").fetchone()
        delivered = conn.execute("SELECT count(*) FROM campaigns.email_events WHERE event_type = 'delivered'").fetchone()[0]
    if sent != n or delivered != (0 if provider_mode else n):
        raise RuntimeError(f"expected {n} sent and delivered, got {sent} / {delivered}: {outputs}")
    return {"processes": processes, "wall_seconds": wall, "busy_seconds": float(span), "rate": n / float(span),
            "wall_rate": n / wall, "worker_cpu_us": worker_cpu / n * 1e6,
            "pg_cpu_us": ((tree_cpu(postmaster) - pg_before) / n * 1e6) if postmaster else None,
            "sink_cpu_us": (tree_cpu(sink.pid) - sink_before) / n * 1e6,
            "summaries": [o.strip().splitlines()[-1] if o.strip() else "" for o in outputs]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="runs of the one-process worker (the median is reported)")
    parser.add_argument("--bare-messages", type=int, default=None, help="messages for the bare loop (default: --messages)")
    parser.add_argument("--loop", choices=eventloop.CHOICES, default="auto",
                        help="event loop of the worker and of the bare loop (auto: uvloop when installed)")
    args = parser.parse_args()
    loop = eventloop.resolve(args.loop)

    sink_binary = find_smtp_sink()
    if not sink_binary:
        print("SKIP: Postfix's smtp-sink is not installed and this is not root: "
              "`sudo apt-get install postfix` (it provides /usr/sbin/smtp-sink), then run again.")
        return 0
    say("machine", f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    say("event loop (worker and bare loop)", loop)
    port = free_port()
    sink = start_sink(sink_binary, port)
    cluster = None
    results: dict = {"messages": args.messages, "connections": args.connections, "batch": args.batch, "loop": loop}
    try:
        url, cluster, postmaster = database()
        ids = seed(url, args.messages)
        say(f"queue {args.messages:,} messages (launch + process_due_steps)", f"{ids['queue_seconds']:.1f} s")
        data, compose_us = compose_cost(claimed_rows(url, min(args.messages, 5000)))
        say("message size (multipart/alternative, tracking on)", f"{len(data):,} bytes")

        bare_n = args.bare_messages or args.messages
        for variant, use_sendmail in (("bare", False), ("bare_sendmail", True)):
            cpu_before = time.process_time()
            sink_before = tree_cpu(sink.pid)
            seconds = eventloop.run(bare_loop(port, args.connections, bare_n, data, use_sendmail), loop)
            results[variant] = {"rate": bare_n / seconds, "cpu_us": (time.process_time() - cpu_before) / bare_n * 1e6,
                                "sink_cpu_us": (tree_cpu(sink.pid) - sink_before) / bare_n * 1e6}
        say(f"floor: bare aiosmtplib loop, {args.connections} connections (MAIL/RCPT/DATA)",
            f"{results['bare']['rate']:,.0f} msg/s  ({results['bare']['cpu_us']:.0f} µs CPU/msg)")
        say("       the same with SMTP.sendmail()",
            f"{results['bare_sendmail']['rate']:,.0f} msg/s  ({results['bare_sendmail']['cpu_us']:.0f} µs CPU/msg)")
        ceiling = results["bare"]["cpu_us"] / (results["bare"]["cpu_us"] + compose_us)
        results["compose_cpu_us"], results["ratio_ceiling"] = compose_us, ceiling
        say("compose alone (render, tracking, MIME), same rows", f"{compose_us:.0f} µs CPU/msg")
        say("       most worker / floor can be with it (database free)", f"{ceiling:.0%}")

        rounds = [run_workers(url, port, 1, args.connections, args.batch, args.messages, postmaster, sink, loop=loop)
                  for _ in range(max(1, args.rounds))]
        one = results["one_process"] = sorted(rounds, key=lambda r: r["rate"])[len(rounds) // 2]
        results["one_process_rounds"] = [r["rate"] for r in rounds]
        say(f"worker, 1 process, {args.connections} connections, batch {args.batch}",
            f"{one['rate']:,.0f} msg/s  (wall incl. start-up {one['wall_rate']:,.0f} msg/s)")
        if len(rounds) > 1:
            say(f"       median of {len(rounds)} runs; all runs", ", ".join(f"{r['rate']:,.0f}" for r in rounds) + " msg/s")
        say("       CPU per message: worker / PostgreSQL / smtp-sink",
            f"{one['worker_cpu_us']:.0f} / {one['pg_cpu_us'] or 0:.0f} / {one['sink_cpu_us']:.0f} µs")
        ratio = one["rate"] / results["bare"]["rate"]
        results["ratio"] = ratio
        say("worker / floor", f"{ratio:.0%}")

        prov = results["one_process_provider_deliveries"] = run_workers(
            url, port, 1, args.connections, args.batch, args.messages, postmaster, sink, provider_mode=True, loop=loop)
        say("worker, 1 process, deliveries reported by a provider instead",
            f"{prov['rate']:,.0f} msg/s  (no `delivered` event recorded at send time)")
        say("       CPU per message: worker / PostgreSQL / smtp-sink",
            f"{prov['worker_cpu_us']:.0f} / {prov['pg_cpu_us'] or 0:.0f} / {prov['sink_cpu_us']:.0f} µs")

        two = results["two_processes"] = run_workers(url, port, 2, args.connections, args.batch, args.messages, postmaster, sink, loop=loop)
        say(f"worker, 2 processes, {args.connections} connections each",
            f"{two['rate']:,.0f} msg/s  (wall incl. start-up {two['wall_rate']:,.0f} msg/s)")
        say("       CPU per message: workers / PostgreSQL / smtp-sink",
            f"{two['worker_cpu_us']:.0f} / {two['pg_cpu_us'] or 0:.0f} / {two['sink_cpu_us']:.0f} µs")

        goal_rate = one["rate"] >= 1500
        goal_ratio = ratio >= 0.8
        say("goal: >= 1,500 msg/s from one process", "met" if goal_rate else "NOT met")
        say("goal: >= 80% of the bare loop", "met" if goal_ratio else "NOT met")
        say("load average at the end", f"{os.getloadavg()[0]:.2f}")
        out = ROOT / ".local" / "worker_bench.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2, default=str))
        say("figures written to", str(out.relative_to(ROOT)))
    finally:
        sink.terminate()
        sink.wait(10)
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
