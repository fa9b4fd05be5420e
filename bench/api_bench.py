"""REST API benchmark: throughput and p50/p99 latency of GET /api/campaigns/{id} and of a 1,000-contact
batch upsert (POST /api/contacts/batch), next to the same server's /health measured in the same run.

    .venv/bin/python bench/api_bench.py [--duration 10] [--concurrency 16] [--batch-size 1000]

What it does:
  1. a throwaway PostgreSQL (the embedded cluster of service.dev.embedded_pg, or CAMPAIGNS_BENCH_DATABASE_URL
     naming a server the benchmark may create a database on), migrated as a deploy does, with a tenant,
     10,000 contacts, and a campaign with 5 steps and 90 days of analytics;
  2. the API served by uvicorn in its own process (one worker, the default pool of 10 connections);
  3. the load from another process: a small asyncio HTTP/1.1 keep-alive client (no library overhead in
     the measurement), in two modes per endpoint:
       - closed loop: `--concurrency` clients each sending the next request when the last one answered
         (saturation throughput, and the latency at that load);
       - open loop at a fixed rate: requests start on a schedule whether or not earlier ones answered,
         latency counted from the scheduled start (no coordinated omission). /health is run at exactly
         the same rate as the endpoint it is compared with: that is "the same load".
The floor is /health: the same server, event loop, HTTP stack and client, without the API key check,
the pooled transaction and the SQL. The goal: p99 of GET /api/campaigns/{id} within 3x of /health's
at the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.dev.net import free_port  # noqa: E402 - needs ROOT on the path


# -- the load generator (runs in its own process) --------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; requests are bytes prepared in advance."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, raw: bytes) -> int:
        await self.connect()
        assert self.reader is not None
        self.writer.write(raw)
        status_line = await self.reader.readline()
        if not status_line:  # the server closed an idle keep-alive connection: reconnect once
            self.writer.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.writer.write(raw)
            status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status


def build_requests(spec: dict[str, Any], count: int) -> list[bytes]:
    host = f"{spec['host']}:{spec['port']}"
    head = f"{spec['method']} {spec['path']} HTTP/1.1\r\nHost: {host}\r\n"
    if spec.get("key"):
        head += f"Authorization: Bearer {spec['key']}\r\n"
    if spec.get("batch"):
        requests = []
        for i in range(count):
            body = json.dumps({"contacts": [
                {"email": f"{spec['tag']}-{i}-{j}@bench.test", "first_name": f"N{j}", "tags": ["bench"],
                 "custom_fields": {"n": j}} for j in range(spec["batch"])]}).encode()
            requests.append((head + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
        return requests
    return [(head + "\r\n").encode()] * count


async def closed_loop(spec: dict[str, Any]) -> dict[str, Any]:
    requests = build_requests(spec, spec.get("prebuild", 1))
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + spec["warmup"] + spec["duration"]
    measure_from = time.perf_counter() + spec["warmup"]
    counter = 0

    async def client() -> None:
        nonlocal errors, counter
        conn = Connection(spec["host"], spec["port"])
        while (now := time.perf_counter()) < stop:
            raw = requests[counter % len(requests)]
            counter += 1
            status = await conn.request(raw)
            if now >= measure_from:
                latencies.append(time.perf_counter() - now)
                errors += not 200 <= status < 300

    await asyncio.gather(*(client() for _ in range(spec["concurrency"])))
    return summarise(latencies, errors, spec["duration"])


async def open_loop(spec: dict[str, Any]) -> dict[str, Any]:
    total = int(spec["rate"] * (spec["warmup"] + spec["duration"]))
    requests = build_requests(spec, spec.get("prebuild", 1))
    free: asyncio.Queue[Connection] = asyncio.Queue()
    connections = [Connection(spec["host"], spec["port"]) for _ in range(spec["connections"])]
    await asyncio.gather(*(c.connect() for c in connections))  # connection set-up is not measured
    for conn in connections:
        free.put_nowait(conn)
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.05
    measure_from = start + spec["warmup"]
    tasks = []

    async def one(i: int, due: float) -> None:
        nonlocal errors
        conn = await free.get()
        try:
            status = await conn.request(requests[i % len(requests)])
        finally:
            free.put_nowait(conn)
        if due >= measure_from:
            latencies.append(time.perf_counter() - due)  # from the scheduled start: queueing counts
            errors += not 200 <= status < 300

    for i in range(total):
        due = start + i / spec["rate"]
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    return summarise(latencies, errors, spec["duration"])


def summarise(latencies: list[float], errors: int, duration: float) -> dict[str, Any]:
    latencies.sort()
    n = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(n - 1, int(p * n))] * 1000 if n else float("nan")

    return {"requests": n, "errors": errors, "rps": n / duration, "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0)}


def load_main(spec_json: str) -> None:
    spec = json.loads(spec_json)
    result = asyncio.run(open_loop(spec) if spec["mode"] == "open" else closed_loop(spec))
    print(json.dumps(result))


# -- the orchestrator ----------------------------------------------------------------------------


def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    """The load generator in a separate process."""
    out = subprocess.run([sys.executable, __file__, "--load", json.dumps(spec)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def database() -> tuple[str, Any]:
    """A fresh database: on CAMPAIGNS_BENCH_DATABASE_URL's server, or in a throwaway embedded cluster."""
    import psycopg
    from psycopg import sql

    from service.dev.embedded_pg import EmbeddedPostgres

    url = os.environ.get("CAMPAIGNS_BENCH_DATABASE_URL")
    if url:
        name = f"campaigns_bench_{os.getpid()}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        base, _, _ = url.rpartition("/")
        return f"{base}/{name}", lambda: None
    folder = Path(tempfile.mkdtemp(prefix="campaigns-bench-pg-"))
    folder.chmod(0o755)
    cluster = EmbeddedPostgres(folder=folder, port=free_port(), dbname="campaigns_bench")
    cluster.start()
    return cluster.url(), cluster.destroy


def seed(url: str) -> tuple[str, str]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tenant_id, key = conn.execute("SELECT tenant_id, api_key FROM campaigns.create_tenant('bench')").fetchone()
        conn.execute(
            "INSERT INTO campaigns.contacts (tenant_id, email, score) "
            "SELECT %s, 'seed' || g || '@bench.test', g %% 100 FROM generate_series(1, 10000) g", (tenant_id,))
        campaign_id = conn.execute(
            "INSERT INTO campaigns.campaigns (tenant_id, name, daily_limit) VALUES (%s, 'Bench', 500) RETURNING id", (tenant_id,)
        ).fetchone()[0]
        for order in range(1, 6):
            conn.execute(
                "INSERT INTO campaigns.campaign_steps (tenant_id, campaign_id, step_order, step_type, subject_line, email_content) "
                "VALUES (%s, %s, %s, 'email', 'Subject {{ first_name }}', 'Body')", (tenant_id, campaign_id, order))
        conn.execute(
            "INSERT INTO campaigns.campaign_analytics (tenant_id, campaign_id, date, emails_sent) "
            "SELECT %s, %s, current_date - g, 100 FROM generate_series(0, 89) g", (tenant_id, campaign_id))
        conn.execute("ANALYZE")
    return key, str(campaign_id)


def serve(url: str, port: int) -> subprocess.Popen:
    code = (
        "import uvicorn; from service.app import create_app; "
        f"uvicorn.run(create_app({url!r}), host='127.0.0.1', port={port}, log_level='warning', access_log=False, "
        # Idle keep-alive connections stay open (as behind a load balancer): the open-loop runs at
        # low rates reuse each of their connections only every few seconds.
        "timeout_keep_alive=75)"
    )
    # The API refuses to start without a proper signing key; a throwaway one unless one is given.
    env = {**os.environ, "CAMPAIGNS_SECRET_KEY": os.environ.get("CAMPAIGNS_SECRET_KEY") or os.urandom(32).hex()}
    server = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the API server did not start")


def row(label: str, r: dict[str, Any]) -> str:
    return (f"  {label:<44} {r['rps']:>9.1f} {r['p50_ms']:>9.2f} {r['p99_ms']:>9.2f} {r['max_ms']:>9.2f} "
            f"{r['requests']:>8} {r['errors']:>6}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per run (after 2 s warm-up)")
    parser.add_argument("--concurrency", type=int, default=16, help="closed-loop clients")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_main(args.load)
        return 0

    from service.config import get_settings
    from service.migrate import migrate

    url, cleanup = database()
    server = None
    try:
        migrate(url)
        key, campaign_id = seed(url)
        port = free_port()
        server = serve(url, port)
        common = {"host": "127.0.0.1", "port": port, "warmup": 2.0, "duration": args.duration}
        health = common | {"method": "GET", "path": "/health"}
        campaign = common | {"method": "GET", "path": f"/api/campaigns/{campaign_id}", "key": key}
        batch = common | {"method": "POST", "path": "/api/contacts/batch", "key": key, "batch": args.batch_size}

        print(f"API benchmark: {os.cpu_count()} CPUs shared by PostgreSQL, the server (1 uvicorn worker, pool "
              f"{get_settings().database.pool_max}) and the load generator (a separate process); "
              f"{args.duration:.0f} s per run after a 2 s warm-up.")
        results: dict[str, dict[str, Any]] = {}
        header = f"  {'run':<44} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'requests':>8} {'errors':>6}"

        print(f"\nClosed loop, {args.concurrency} concurrent clients (saturation):")
        print(header)
        for label, spec in (("GET /health", health), ("GET /api/campaigns/{id}", campaign),
                            (f"POST /api/contacts/batch ({args.batch_size} contacts)",
                             batch | {"tag": "closed", "prebuild": 1000})):
            results[f"closed {label}"] = r = run_load(spec | {"mode": "closed", "concurrency": args.concurrency})
            print(row(label, r))

        get_saturation = results["closed GET /api/campaigns/{id}"]["rps"]
        get_rates = [max(1.0, round(get_saturation * share)) for share in (0.25, 0.5)]
        batch_key = f"closed POST /api/contacts/batch ({args.batch_size} contacts)"
        batch_rate = max(1.0, round(results[batch_key]["rps"] * 0.5, 1))
        print("\nOpen loop at fixed rates (a quarter and half of GET's saturation, half of the batch's), "
              "/health at the same rates:")
        print(header)
        open_runs = []
        for rate in get_rates:
            open_runs += [(f"GET /health @ {rate:.0f}/s", health, rate),
                          (f"GET /api/campaigns/{{id}} @ {rate:.0f}/s", campaign, rate)]
        open_runs += [
            (f"GET /health @ {batch_rate:g}/s", health, batch_rate),
            (f"POST batch of {args.batch_size} @ {batch_rate:g}/s",
             batch | {"tag": "open", "prebuild": int(batch_rate * (args.duration + 3)) + 10}, batch_rate),
        ]
        for label, spec, rate in open_runs:
            results[f"open {label}"] = r = run_load(spec | {"mode": "open", "rate": rate, "connections": 64})
            print(row(label, r))

        def ratio(a: str, b: str) -> float:
            return results[a]["p99_ms"] / results[b]["p99_ms"]

        batch_rows = results[batch_key]["rps"] * args.batch_size
        print("\np99 relative to /health at the same load (goal for GET /api/campaigns/{id}: within 3x):")
        print(f"  GET /api/campaigns/{{id}}, closed loop x{args.concurrency}: "
              f"{ratio('closed GET /api/campaigns/{id}', 'closed GET /health'):.2f}x "
              f"(not the same rate: {get_saturation:.0f}/s vs {results['closed GET /health']['rps']:.0f}/s)")
        for rate in get_rates:
            print(f"  GET /api/campaigns/{{id}}, open loop @ {rate:.0f}/s: "
                  f"{ratio(f'open GET /api/campaigns/{{id}} @ {rate:.0f}/s', f'open GET /health @ {rate:.0f}/s'):.2f}x")
        print(f"  POST batch of {args.batch_size}, open loop @ {batch_rate:g}/s: "
              f"{ratio(f'open POST batch of {args.batch_size} @ {batch_rate:g}/s', f'open GET /health @ {batch_rate:g}/s'):.2f}x "
              f"(each request upserts {args.batch_size} rows: {batch_rows:,.0f} contacts/s at saturation)")
        errors = sum(r["errors"] for r in results.values())
        if errors:
            print(f"\n{errors} requests failed (non-2xx)")
            return 1
        return 0
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
