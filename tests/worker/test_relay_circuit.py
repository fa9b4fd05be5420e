"""A relay, not its messages, is down: the circuit breaker (service/worker/circuit.py) and the
aggregated failure log (failure_log.py) on a fake clock, then a real worker process against a real
relay that refuses connections for a while, and the API's /ready with the worker in-process."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import httpx
import pytest

from service.worker.circuit import RelayCircuit
from service.worker.failure_log import FailureLog
from service.dev.net import free_port
from tests.support.outbox import make_outbox, run_once, spawn_worker, statuses, stop_process
from tests.support.smtp import SwitchableSmtp
from tests.support.waits import wait_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- the breaker ------------------------------------------------------------------------------------


def test_circuit_opens_after_n_consecutive_connection_failures():
    clock = FakeClock()
    c = RelayCircuit("mx:25", trip_failures=3, clock=clock)
    assert [c.failure("refused"), c.failure("refused")] == [False, False] and not c.down
    c.success()  # a message went through: the count starts again
    assert [c.failure("refused"), c.failure("refused"), c.failure("reset")] == [False, False, True]
    assert c.down and c.reason == "reset" and c.down_since == clock.now
    assert c.failure("refused") is False  # already down: trips once


def test_probes_back_off_exponentially_up_to_the_cap():
    clock = FakeClock()
    c = RelayCircuit("mx:25", trip_failures=1, probe_min_seconds=0.5, probe_max_seconds=5.0, clock=clock)
    c.failure("refused")
    waits = [c.probe_in()]
    for _ in range(6):
        clock.advance(c.probe_in())
        assert c.probe_in() == 0.0  # due now
        c.probe_failed()
        waits.append(c.probe_in())
    assert waits == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert c.probes == 6


def test_success_ends_the_outage_with_its_duration_and_resets_the_backoff():
    clock = FakeClock()
    c = RelayCircuit("mx:25", trip_failures=2, probe_min_seconds=0.5, probe_max_seconds=4.0, clock=clock)
    c.failure("x"), c.failure("x")
    for _ in range(4):
        clock.advance(c.probe_in())
        c.probe_failed()
    clock.advance(1.5)
    assert c.success() == pytest.approx(0.5 + 1 + 2 + 4 + 1.5)
    assert not c.down and c.success() is None
    c.failure("x"), c.failure("x")
    assert c.down and c.probe_in() == 0.5  # a new outage starts from the shortest wait


def test_a_session_that_cannot_be_opened_is_a_connection_failure_and_a_refusal_is_not(smtp):
    from service.worker.smtp import Relay, SmtpConnection, probe

    async def send(relay: Relay):
        connection = SmtpConnection(relay, timeout=5)
        try:
            return await connection.send("news@example.com", "reader@example.org", b"Subject: x\r\n\r\nx\r\n")
        finally:
            await connection.close()

    async def silent() -> object:
        """A server that accepts the connection and never greets."""
        server = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
        try:
            connection = SmtpConnection(Relay("127.0.0.1", server.sockets[0].getsockname()[1]), timeout=0.5)
            return await connection.send("news@example.com", "reader@example.org", b"x\r\n")
        finally:
            server.close()

    refused = asyncio.run(send(Relay("127.0.0.1", free_port())))
    mute = asyncio.run(silent())
    assert (mute.outcome, mute.connection_failed) == ("retry", True)
    smtp.fault = lambda command: "451 4.3.0 busy" if command == "MAIL" else None
    busy = asyncio.run(send(smtp.relay()))
    assert (refused.outcome, refused.connection_failed, refused.code) == ("retry", True, None)
    assert (busy.outcome, busy.connection_failed, busy.code) == ("retry", False, 451)
    asyncio.run(probe(smtp.relay(), 5))  # answers: no exception
    with pytest.raises(OSError):
        asyncio.run(probe(Relay("127.0.0.1", free_port()), 5))


def test_once_with_the_default_relay_down_spends_nothing_and_other_relays_still_send(conn, db_url, smtp):
    down = SwitchableSmtp()  # never listening
    stuck = make_outbox(conn, 30)
    other = make_outbox(conn, 10, sender={"smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_security": "none"})
    stats = run_once(db_url, down.server, relay_trip_failures=3)
    assert stats.relays_tripped == 1 and stats.sent == 10 and stats.retried == 0
    assert statuses(conn, other.campaign_id) == {"sent": 10}
    assert conn.execute("SELECT status, sum(attempts) FROM campaigns.email_messages WHERE campaign_id = %s "
                        "GROUP BY 1", (stuck.campaign_id,)).fetchall() == [("queued", 0)]


# -- the failure log --------------------------------------------------------------------------------


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_repeats_of_a_relay_and_code_are_one_line_with_a_count():
    clock = FakeClock()
    logger = logging.getLogger("campaigns.test.failures")
    handler = Records()
    logger.addHandler(handler)
    try:
        failures = FailureLog(logger, window_seconds=60, clock=clock)
        for _ in range(100):
            failures.record("mx:25", 451, "451 4.3.0 busy")
            clock.advance(0.1)
        failures.record("mx:25", None, "ConnectionRefusedError")
        failures.record("other:25", 451, "451 4.3.0 busy")
        failures.flush()  # windows not over yet: nothing
        assert len(handler.records) == 3
        clock.advance(60)
        failures.flush()
        failures.record("mx:25", 451, "451 4.3.0 again")  # a new window: logged at once
    finally:
        logger.removeHandler(handler)
    lines = [(r.relay, r.smtp_code, r.count) for r in handler.records]
    assert lines == [("mx:25", 451, 1), ("mx:25", None, 1), ("other:25", 451, 1), ("mx:25", 451, 99),
                     ("mx:25", 451, 1)]
    assert handler.records[3].smtp_reply == "451 4.3.0 busy"
    assert sum(r.count for r in handler.records if r.relay == "mx:25" and r.smtp_code == 451) == 101


# -- a relay down for a while, with a real worker process ---------------------------------------------


def _log_records(path) -> list[dict]:
    records = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == (f"{name}{{{want}}}" if want else name):
            return float(value)
    return 0.0


@pytest.mark.slow
def test_relay_refusing_connections_costs_no_attempt_and_mail_resumes_when_it_answers(conn, db_url, tmp_path):
    n = 2000
    relay = SwitchableSmtp()  # not listening: every connection is refused
    box = make_outbox(conn, n)
    metrics_port = free_port()
    log = tmp_path / "worker.log"
    proc = spawn_worker(db_url, relay.server, log=log, CAMPAIGNS_LOG_FORMAT="json",
                        CAMPAIGNS_WORKER_METRICS_PORT=metrics_port, CAMPAIGNS_WORKER_RELAY_PROBE_MAX_SECONDS=2,
                        CAMPAIGNS_WORKER_FAILURE_LOG_SECONDS=3, CAMPAIGNS_WORKER_CONNECTIONS=4,
                        CAMPAIGNS_WORKER_BATCH_SIZE=200, CAMPAIGNS_WORKER_LEASE_SECONDS=30)
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"

    def scrape() -> str:
        try:
            return httpx.get(metrics_url, timeout=5).text
        except httpx.HTTPError:
            return ""

    try:
        # Down: the gauge says so, and the relay keeps being probed (0.5, 1, 2, 2, 2 s...) for 6 probes.
        wait_until(lambda: _metric(scrape(), "campaigns_worker_relay_up", relay=relay.server.host + f":{relay.server.port}")
                   == 0 and "campaigns_worker_relay_up" in scrape(), timeout=60, interval=0.2,
                   message="the relay was not marked down")
        wait_until(lambda: _metric(scrape(), "campaigns_worker_relay_probes_total",
                                   relay=f"{relay.server.host}:{relay.server.port}", result="failed") >= 6,
                   timeout=60, interval=0.2, message="fewer than 6 failed probes")
        during = statuses(conn, box.campaign_id)
        charged = conn.execute("SELECT count(*) FROM campaigns.email_messages WHERE campaign_id = %s AND status = 'queued' "
                               "AND attempts > 0", (box.campaign_id,)).fetchone()[0]
        relay.up()
        back = time.monotonic()
        relay.server.wait_for(1, timeout=10)
        first = relay.server.received[0].at - back
        wait_until(lambda: statuses(conn, box.campaign_id) == {"sent": n}, timeout=120, interval=0.2,
                   message=lambda: f"{statuses(conn, box.campaign_id)}: not all sent")
        last = max(r.at for r in relay.server.received) - back
        final_metrics = scrape()
    finally:
        code = stop_process(proc)
        relay.down()
    attempts = dict(conn.execute("SELECT attempts, count(*) FROM campaigns.email_messages WHERE campaign_id = %s "
                                 "GROUP BY 1", (box.campaign_id,)).fetchall())
    records = _log_records(log)
    down = [r for r in records if r.get("relay_state") == "down"]
    up = [r for r in records if r.get("relay_state") == "up"]
    failures = [r for r in records if "smtp_reply" in r]
    name = f"{relay.server.host}:{relay.server.port}"
    refused = _metric(final_metrics, "campaigns_worker_smtp_replies_total", code_class="none")
    probes = _metric(final_metrics, "campaigns_worker_relay_probes_total", relay=name, result="failed")
    print(f"\nrelay outage: {n} due, during the outage {during}, {charged} queued messages charged; "
          f"first accepted {first:.2f}s and last {last:.2f}s after the relay came back; "
          f"{len(failures)} failure lines for {int(refused)} refused sessions and {int(probes)} failed probes; "
          f"outage logged as {up[0]['outage_seconds'] if up else None}s")
    assert code == 0
    assert charged == 0 and "failed" not in during
    assert attempts == {1: n}  # each message spent exactly the attempt that sent it
    assert relay.server.duplicates() == {} and len(relay.server.received) == n
    assert first < 2 + 3  # the probe cap, plus a claim and a send on a busy machine
    assert last < 60      # 2,000 messages at this shared machine's pace, not a retry schedule's
    assert len(down) == 1 and len(up) == 1 and down[0]["relay"] == up[0]["relay"] == name
    assert down[0]["level"] == "warning" and up[0]["level"] == "info" and up[0]["outage_seconds"] > 5
    assert all(r["relay"] == name and r["smtp_code"] is None for r in failures)
    # every refused session and failed probe is counted in exactly one line, a few lines in all
    assert sum(r["count"] for r in failures) == refused + probes
    assert 2 <= len(failures) <= 8
    assert _metric(final_metrics, "campaigns_worker_relay_up", relay=name) == 1
    # Only the batch in hand when the relay went down was released: the claims after it skipped the relay.
    assert 0 < _metric(final_metrics, "campaigns_worker_results_total", outcome="release") <= 200


def test_ready_lists_the_relays_the_in_process_worker_holds_down(conn, db_url, monkeypatch):
    from service.config import get_settings
    from tests.support.api import serve

    box = make_outbox(conn, 20)
    closed = free_port()
    for name, value in {"DATABASE_URL": db_url, "CAMPAIGNS_WORKER_IN_API": "1", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(closed),
                        "SMTP_TIMEOUT": "2", "CAMPAIGNS_WORKER_POLL_SECONDS": "0.2",
                        "CAMPAIGNS_WORKER_RELAY_TRIP_FAILURES": "2"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with serve(db_url) as url:
        def relays_down() -> list[str]:
            body = httpx.get(f"{url}/ready", timeout=10).json()
            return body.get("relays_down") or []
        assert wait_until(relays_down, timeout=30, interval=0.1) == [f"127.0.0.1:{closed}"]
        r = httpx.get(f"{url}/ready", timeout=10)
    # This database has no pg_cron jobs, so not ready for that reason; the relay is listed either way.
    assert r.status_code == 503 and r.json()["cron_jobs_missing"] and r.json()["database"] is True
    # After the API stopped (its worker released what it held): nothing spent, nothing dead.
    assert conn.execute("SELECT status, sum(attempts) FROM campaigns.email_messages WHERE campaign_id = %s "
                        "GROUP BY 1", (box.campaign_id,)).fetchall() == [("queued", 0)]
