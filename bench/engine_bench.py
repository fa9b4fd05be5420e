"""Engine benchmark: launch, drain, idle tick and rollup, each next to a floor measured in the same run.

    .venv/bin/python bench/engine_bench.py                 # full scale (5M enrollments, 1M segment, 5M events)
    .venv/bin/python bench/engine_bench.py --scale 0.01    # a quick run
    .venv/bin/python bench/engine_bench.py --explain docs/explain.md

Uses DATABASE_URL when set (the benchmark creates and drops the database `campaigns_bench` there),
else an embedded cluster under .local/bench-pg tuned for the machine (same settings for engine and
floor). Each timed run starts right after a CHECKPOINT, so engine and floor pay the same full-page
writes. Prints every figure; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.migrate import migrate  # noqa: E402

BENCH_DB = "campaigns_bench"
T0 = "2026-03-02 14:00:00+00"          # launch instant (a Monday)
DAY = "2026-03-03"                      # the day of the big rollup
DAY_SMALL = "2026-03-04"                # the day of the small rollup


def say(label: str, value: str) -> None:
    print(f"{label:<58} {value}", flush=True)


@contextmanager
def timed(results: dict, key: str):
    start = time.perf_counter()
    yield
    results[key] = time.perf_counter() - start


def server_url() -> tuple[str, object | None]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, None
    from service.dev.embedded_pg import EmbeddedPostgres

    cluster = EmbeddedPostgres(folder=ROOT / ".local" / "bench-pg", port=int(os.environ.get("BENCH_PG_PORT", "54339")),
                               dbname="postgres")
    cluster.start()
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        wanted = {"shared_buffers": "4GB", "work_mem": "64MB", "maintenance_work_mem": "1GB",
                  "max_wal_size": "16GB", "checkpoint_timeout": "30min", "effective_cache_size": "16GB"}
        for name, value in wanted.items():
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    # shared_buffers needs a restart.
    cluster.stop()
    cluster.start()
    return cluster.url("postgres"), cluster


def with_db(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + dbname))


def setup(url: str, n_segment: int, n_background: int) -> dict:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    db = with_db(url, BENCH_DB)
    migrate(db)
    ids: dict = {}
    with psycopg.connect(db, autocommit=True) as conn:
        t0 = time.perf_counter()
        ids["bench"] = conn.execute("SELECT tenant_id FROM campaigns.create_tenant('bench')").fetchone()[0]
        ids["background"] = conn.execute("SELECT tenant_id FROM campaigns.create_tenant('background')").fetchone()[0]
        n_bg_contacts = max(n_background // 4, 1)
        for tenant, n, prefix in ((ids["bench"], n_segment, "b"), (ids["background"], n_bg_contacts, "g")):
            conn.execute(
                "INSERT INTO campaigns.contacts (tenant_id, email, first_name, timezone) "
                "SELECT %s, %s || i || '@bench.example', 'C' || i, "
                "       (ARRAY['America/New_York', 'Europe/London', NULL, 'Asia/Tokyo'])[1 + i %% 4] "
                "FROM generate_series(1, %s) i",
                (tenant, prefix, n),
            )
        # Background load: 4 finished campaigns of another tenant with an enrollment per contact each.
        for k in range(4):
            cid = conn.execute(
                "INSERT INTO campaigns.campaigns (tenant_id, name, status, launched_at, completed_at) "
                "VALUES (%s, %s, 'completed', %s, %s) RETURNING id", (ids["background"], f"bg{k}", T0, T0)
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO campaigns.campaign_contacts (tenant_id, campaign_id, contact_id, status, enrolled_at, completed_at) "
                "SELECT tenant_id, %s, id, 'completed', %s, %s FROM campaigns.contacts WHERE tenant_id = %s",
                (cid, T0, T0, ids["background"]),
            )
        ids["segment"] = conn.execute(
            "INSERT INTO campaigns.segments (tenant_id, name) VALUES (%s, 'everyone') RETURNING id", (ids["bench"],)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO campaigns.segment_contacts (tenant_id, segment_id, contact_id) "
            "SELECT tenant_id, %s, id FROM campaigns.contacts WHERE tenant_id = %s", (ids["segment"], ids["bench"])
        )
        for name in ("engine", "floor"):
            cid = conn.execute(
                "INSERT INTO campaigns.campaigns (tenant_id, name, segment_id, from_email) "
                "VALUES (%s, %s, %s, 'news@sender.example') RETURNING id", (ids["bench"], name, ids["segment"])
            ).fetchone()[0]
            first = conn.execute(
                "INSERT INTO campaigns.campaign_steps (tenant_id, campaign_id, step_order, step_type, subject_line, email_content) "
                "VALUES (%s, %s, 1, 'email', 'Hello {{ first_name }}', 'Hi') RETURNING id", (ids["bench"], cid)).fetchone()[0]
            last = conn.execute(
                "INSERT INTO campaigns.campaign_steps (tenant_id, campaign_id, step_order, step_type, subject_line, email_content) "
                "VALUES (%s, %s, 3, 'email', 'Again', 'Hi again') RETURNING id", (ids["bench"], cid)).fetchone()[0]
            wait = conn.execute(
                "INSERT INTO campaigns.campaign_steps (tenant_id, campaign_id, step_order, step_type, wait_duration_value, "
                "wait_duration_unit, next_step_id) VALUES (%s, %s, 2, 'wait', 2, 'days', %s) RETURNING id",
                (ids["bench"], cid, last)).fetchone()[0]
            conn.execute("UPDATE campaigns.campaign_steps SET next_step_id = %s WHERE id = %s", (wait, first))
            ids[name] = cid
            ids[f"{name}_first"], ids[f"{name}_wait"] = first, wait
        conn.execute("VACUUM ANALYZE")
        total = conn.execute("SELECT count(*) FROM campaigns.campaign_contacts").fetchone()[0]
        say("setup (contacts, background enrollments)", f"{time.perf_counter() - t0:.1f} s, {total:,} enrollments before launch")
    ids["db"] = db
    return ids


def bench_launch(ids: dict, r: dict) -> None:
    db = ids["db"]
    with psycopg.connect(db, autocommit=True) as conn:
        # Each timed run starts right after a checkpoint, so each pays the same full-page writes
        # (without it the second run finds most index pages already logged and looks cheaper).
        conn.execute("CHECKPOINT")
        with timed(r, "floor_launch"):
            conn.execute(
                "INSERT INTO campaigns.campaign_contacts (tenant_id, campaign_id, contact_id, status, current_step_id, "
                "enrolled_at, next_email_scheduled_at) "
                "SELECT sc.tenant_id, %s, sc.contact_id, 'enrolled', %s, %s, %s "
                "FROM campaigns.segment_contacts sc WHERE sc.tenant_id = %s AND sc.segment_id = %s",
                (ids["floor"], ids["floor_first"], T0, T0, ids["bench"], ids["segment"]),
            )
        conn.execute("VACUUM ANALYZE campaigns.campaign_contacts")
        conn.execute("CHECKPOINT")
        with timed(r, "launch"):
            r["enrolled"] = conn.execute("SELECT campaigns.launch_campaign(%s, %s)", (ids["engine"], T0)).fetchone()[0]
        conn.execute("VACUUM ANALYZE campaigns.campaign_contacts")
        r["enrollments_total"] = conn.execute("SELECT count(*) FROM campaigns.campaign_contacts").fetchone()[0]
    say("enrollments in the database after launch", f"{r['enrollments_total']:,}")
    say(f"launch_campaign of {r['enrolled']:,} contacts", f"{r['launch']:.2f} s")
    say("floor: bare INSERT … SELECT of the same rows", f"{r['floor_launch']:.2f} s")
    say("launch / floor (goal <= 1.5)", f"{r['launch'] / r['floor_launch']:.2f}x")


FLOOR_DRAIN = """
WITH c AS (
    SELECT id, tenant_id, campaign_id, contact_id, current_step_id, next_email_scheduled_at
    FROM campaigns.campaign_contacts
    WHERE tenant_id = %(t)s AND campaign_id = %(c)s AND status = 'enrolled'
    ORDER BY next_email_scheduled_at LIMIT %(n)s
    FOR UPDATE SKIP LOCKED
), m AS (
    -- Ids and Message-IDs made as process_due_steps makes them (one time-ordered id for both).
    INSERT INTO campaigns.email_messages (id, tenant_id, campaign_id, step_id, enrollment_id, contact_id, to_email, smtp_message_id, queued_at)
    SELECT x.mid, x.tenant_id, x.campaign_id, x.current_step_id, x.id, x.contact_id, 'floor@bench.example',
           '<' || x.mid || '@bench.example>', %(at)s
    FROM (SELECT campaigns.uuid_v7() AS mid, c.* FROM c) x
)
UPDATE campaigns.campaign_contacts cc
SET status = 'active', current_step_id = %(w)s, steps_completed = 1, started_at = %(at)s, last_email_sent_at = %(at)s,
    next_email_scheduled_at = c.next_email_scheduled_at + interval '2 days', updated_at = now()
FROM c WHERE cc.id = c.id
"""


def bench_drain(ids: dict, r: dict, batch: int) -> None:
    db = ids["db"]
    as_of = "2026-03-02 14:04:00+00"
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        with timed(r, "floor_drain"):
            while conn.execute(FLOOR_DRAIN, {"t": ids["bench"], "c": ids["floor"], "n": batch, "at": as_of,
                                             "w": ids["floor_wait"]}).rowcount:
                pass
        conn.execute("VACUUM ANALYZE campaigns.campaign_contacts")
        conn.execute("CHECKPOINT")
        # What the pg_cron job runs: drain_due_steps, one committed process_due_steps batch after another.
        with timed(r, "drain"):
            processed = conn.execute("CALL campaigns.drain_due_steps(NULL, %s, 3600, %s)", (batch, as_of)).fetchone()[0]
        r["drained"] = processed
        queued = conn.execute("SELECT count(*) FROM campaigns.email_messages WHERE campaign_id = %s", (ids["engine"],)).fetchone()[0]
        conn.execute("VACUUM ANALYZE")
    say(f"drain_due_steps of {processed:,} due email steps (batch {batch})", f"{r['drain']:.2f} s")
    say("  enrollments per second (goal >= 25,000)", f"{processed / r['drain']:,.0f}/s, {queued:,} messages queued")
    say("floor: bare claim + UPDATE + INSERT of the same rows", f"{r['floor_drain']:.2f} s")
    say("drain / floor (goal <= 2.5)", f"{r['drain'] / r['floor_drain']:.2f}x")


def bench_idle(ids: dict, r: dict) -> None:
    with psycopg.connect(ids["db"], autocommit=True) as conn:
        samples = []
        for _ in range(30):
            start = time.perf_counter()
            conn.execute("SELECT campaigns.process_due_steps(%s)", ("2026-03-02 14:10:00+00",))
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    say("idle tick (nothing due), median / p95 of 30 (goal < 20 ms)", f"{statistics.median(samples):.2f} / {samples[28]:.2f} ms")


EVENTS = """
WITH chosen AS (
    SELECT id, tenant_id, row_number() OVER (ORDER BY id) AS i
    FROM campaigns.email_messages WHERE campaign_id = %(c)s ORDER BY id LIMIT %(n)s
), upd AS (
    UPDATE campaigns.email_messages m
    SET status = 'sent', sent_at = %(day)s::date + make_interval(secs => ch.i %% 36000),
        delivered_at = %(day)s::date + make_interval(secs => ch.i %% 36000 + 60),
        first_opened_at = %(day)s::date + make_interval(secs => ch.i %% 36000 + 600),
        first_clicked_at = %(day)s::date + make_interval(secs => ch.i %% 36000 + 700),
        replied_at = CASE WHEN ch.i %% 4 = 0 THEN %(day)s::date + make_interval(secs => ch.i %% 36000 + 900) END,
        bounced_at = CASE WHEN ch.i %% 4 = 1 THEN %(day)s::date + make_interval(secs => ch.i %% 36000 + 120) END,
        open_count = 2, click_count = 1
    FROM chosen ch WHERE m.id = ch.id
    RETURNING m.id, m.tenant_id, m.campaign_id, m.step_id, m.contact_id, ch.i
)
INSERT INTO campaigns.email_events (tenant_id, message_id, campaign_id, step_id, contact_id, event_type, occurred_at)
SELECT u.tenant_id, u.id, u.campaign_id, u.step_id, u.contact_id, e.type,
       %(day)s::date + make_interval(secs => u.i %% 36000 + e.offs)
FROM upd u
CROSS JOIN LATERAL (VALUES ('delivered', 60), ('open', 600), ('open', 3600), ('click', 700),
                           (CASE u.i %% 4 WHEN 0 THEN 'reply' WHEN 1 THEN 'bounce_hard' WHEN 2 THEN 'unsubscribe' ELSE 'complaint' END, 900)) e(type, offs)
"""


def bench_rollup(ids: dict, r: dict, n_events: int) -> None:
    with psycopg.connect(ids["db"], autocommit=True) as conn:
        for campaign, day, events in ((ids["engine"], DAY, n_events), (ids["floor"], DAY_SMALL, max(n_events // 50, 5))):
            t0 = time.perf_counter()
            conn.execute(EVENTS, {"c": campaign, "n": events // 5, "day": day})
            conn.execute("VACUUM ANALYZE campaigns.email_events")
            conn.execute("VACUUM ANALYZE campaigns.email_messages")
            count = conn.execute("SELECT count(*) FROM campaigns.email_events WHERE occurred_at >= %s::date "
                                 "AND occurred_at < %s::date + 1", (day, day)).fetchone()[0]
            say(f"events generated for {day}", f"{count:,} in {time.perf_counter() - t0:.1f} s")
            start = time.perf_counter()
            rows = conn.execute("SELECT campaigns.rollup_analytics(%s)", (day,)).fetchone()[0]
            first = time.perf_counter() - start
            start = time.perf_counter()
            again = conn.execute("SELECT campaigns.rollup_analytics(%s)", (day,)).fetchone()[0]
            rerun = time.perf_counter() - start
            r[f"rollup_{count}"] = first
            say(f"rollup_analytics of a day with {count:,} events (goal < 30 s)", f"{first:.2f} s ({rows} rows written)")
            say("  re-run, unchanged data", f"{rerun:.2f} s ({again} rows written)")
        big, small = sorted((k for k in r if k.startswith("rollup_")), key=lambda k: -int(k.split("_")[1]))
        ratio_events = int(big.split("_")[1]) / int(small.split("_")[1])
        say("rollup time ratio big/small vs event ratio (linear growth)", f"{r[big] / r[small]:.1f}x for {ratio_events:.0f}x events")


def explain(ids: dict, out: Path) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the hot statements through auto_explain (nested statements)."""
    plans: list[str] = []
    with psycopg.connect(ids["db"], autocommit=True) as conn:
        conn.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
        # A fresh small launch + one processing batch + the rollup, each explained statement by statement.
        cid = conn.execute("SELECT campaigns.clone_campaign(%s)", (ids["engine"],)).fetchone()[0]
        seg = conn.execute(
            "INSERT INTO campaigns.segments (tenant_id, name) VALUES (%s, 'explain') RETURNING id", (ids["bench"],)).fetchone()[0]
        conn.execute("INSERT INTO campaigns.segment_contacts (tenant_id, segment_id, contact_id) "
                     "SELECT tenant_id, %s, id FROM campaigns.contacts WHERE tenant_id = %s LIMIT 10000", (seg, ids["bench"]))
        conn.execute("UPDATE campaigns.campaigns SET segment_id = %s WHERE id = %s", (seg, cid))
        conn.execute("VACUUM ANALYZE")
        conn.execute("LOAD 'auto_explain'")
        for setting, value in (("auto_explain.log_min_duration", "0"), ("auto_explain.log_analyze", "on"),
                               ("auto_explain.log_buffers", "on"), ("auto_explain.log_nested_statements", "on"),
                               ("client_min_messages", "log")):
            conn.execute(sql.SQL("SET {} = {}").format(sql.SQL(setting), sql.Literal(value)))  # constant names
        sections = []
        for title, stmt, args in (
            ("launch_campaign (10,000 contacts)", "SELECT campaigns.launch_campaign(%s, %s)", (cid, "2026-03-05 14:00+00")),
            ("process_due_steps (one batch of 5,000)", "SELECT campaigns.process_due_steps(%s, 5000)", ("2026-03-05 14:01+00",)),
            ("process_due_steps (the next batch of the same launch)", "SELECT campaigns.process_due_steps(%s)", ("2026-03-05 14:02+00",)),
            ("rollup_analytics (the big day)", "SELECT campaigns.rollup_analytics(%s)", (DAY,)),
        ):
            plans.clear()
            conn.execute("SELECT pg_advisory_unlock_all()")
            conn.execute(stmt, args)
            # Statements of 1 ms or more; foreign-key checks (one per row) are left out.
            kept = [p for p in plans if "Query Text" in p and "SELECT 1 FROM ONLY" not in p
                    and float(p.split("duration: ")[1].split(" ")[0]) >= 1.0]
            sections.append(f"## {title}\n\n" + "\n\n".join(f"```\n{p.strip()}\n```" for p in kept))
    out.write_text(
        "# EXPLAIN (ANALYZE, BUFFERS) of the hot statements\n\n"
        "Captured by `bench/engine_bench.py --explain` with auto_explain (nested statements) on the benchmark "
        "database after the full run. Only statements that took 1 ms or more are shown (foreign-key checks "
        "and trivial helper calls are left out).\n\n"
        + "\n\n".join(sections) + "\n"
    )
    say("plans written to", str(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full sizes (1M segment, 4M background, 5M events)")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--explain", type=Path, default=None, help="write EXPLAIN plans of the hot statements here")
    args = parser.parse_args()
    n_segment = int(1_000_000 * args.scale)
    n_background = int(4_000_000 * args.scale)
    n_events = int(5_000_000 * args.scale)

    url, cluster = server_url()
    print(f"PostgreSQL: {url}")
    with psycopg.connect(url) as conn:
        print(conn.execute("SELECT version()").fetchone()[0])
    r: dict = {}
    ids = setup(url, n_segment, n_background)
    bench_launch(ids, r)
    bench_drain(ids, r, args.batch)
    bench_idle(ids, r)
    bench_rollup(ids, r, n_events)
    if args.explain:
        explain(ids, args.explain)
    if cluster is not None:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
