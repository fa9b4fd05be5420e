"""Render limits and isolation: one tenant's template cannot stall everyone's sending.

- Each limit of service/liquid.py (loop iterations, output size, context depth, local namespace,
  string doubling, huge ranges and numbers, render time) is enforced, quickly, as RenderLimitError.
- A message over a limit is recorded with outcome render_limit: failed, last_error `render_limit: …`,
  the attempt given back, not counted as sent, no bounce, dead letter kind render_limit.
- Through a real worker and a real SMTP server: a hostile step of tenant A fails with render_limit
  while tenant B's ordinary mail, due a second later, arrives within a second of being due, and A's
  other mail goes out.
"""

from __future__ import annotations

import asyncio
import quopri
import time
import uuid

import pytest

from service import liquid
from service.liquid import Budget, RenderLimitError, SliceExceeded, render_template
from service.tracking.tokens import TokenSigner
from service.worker import render_budget
from service.worker.compose import Composer
from service.worker.render import Renderer
from tests.support.factories import make_tenant
from tests.support.outbox import claim, make_outbox, record, statuses, worker_in_thread
from tests.support.waits import wait_for_claim_cycle, wait_until

HUGE_LOOP = "{% for i in (1..30000000) %}x{% endfor %}"
# Within every count limit (10,000 loop iterations in all), but seconds of CPU: only the time budget stops it.
CPU_BURNER = ('{% capture big %}{% for i in (1..4000) %}abcdefghij{% endfor %}{% endcapture %}'
              '{% for i in (1..6000) %}{% assign a = big | split: "" | sort | join: "" %}{% endfor %}done')


def render(source: str, ctx: dict | None = None, budget: Budget | None = None) -> str:
    return render_template(liquid.TEXT_ENV.from_string(source), ctx or {}, budget)


def limit_of(source: str, ctx: dict | None = None, budget: Budget | None = None) -> str:
    started = time.perf_counter()
    with pytest.raises(RenderLimitError) as caught:
        render(source, ctx, budget)
    # Refused before doing (or allocating) the work, not after.
    assert time.perf_counter() - started < 0.5 + (budget.seconds * 10 if budget else 0)
    return caught.value.limit


# -- each limit ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("source, ctx, limit", [
    (HUGE_LOOP, {}, "loop_iterations"),
    ("{% for i in (1..1000000000) %}x{% endfor %}", {}, "loop_iterations"),
    ("{% for i in (1..1000000000) reversed %}x{% endfor %}", {}, "loop_iterations"),
    ("{% for i in (1..100000) %}{% for j in (1..100000) %}x{% endfor %}{% endfor %}", {}, "loop_iterations"),
    # nested: 100 × 200 = 20,000 iterations
    ("{% for i in (1..100) %}{% for j in (1..200) %}x{% endfor %}{% endfor %}", {}, "loop_iterations"),
    # one after the other: 6 × 2,000 = 12,000 iterations in all
    ("{% for i in (1..2000) %}x{% endfor %}" * 6, {}, "loop_iterations"),
    ("{% for t in tags %}{{ t }}{% endfor %}", {"tags": list(range(20000))}, "loop_iterations"),
    ("{% tablerow i in (1..20000) %}x{% endtablerow %}", {}, "loop_iterations"),
    ("{% for i in (1..2000) %}{{ big }}{% endfor %}", {"big": "y" * 1000}, "output_size"),
    ("{% capture c %}{% for i in (1..2000) %}{{ big }}{% endfor %}{% endcapture %}", {"big": "y" * 1000}, "output_size"),
    ("{% for a in (1..1) %}" * 14 + "x" + "{% endfor %}" * 14, {}, "context_depth"),
    ("".join("{%% assign v%d = big %%}" % i for i in range(10)), {"big": "y" * 200_000}, "local_namespace"),
    ('{% assign s = "x" %}' + "{% assign s = s | append: s %}" * 64 + "{{ s }}", {}, "string_size"),
    ('{% assign s = "x" %}{% for i in (1..64) %}{% assign s = s | prepend: s %}{% endfor %}', {}, "string_size"),
    ('{{ big | replace: "y", big }}', {"big": "y" * 5000}, "string_size"),
    ('{% assign l = big | split: "" %}', {"big": "y" * 200_000}, "sequence_size"),
    ('{{ (1..1000000000) | join: "," }}', {}, "sequence_size"),
    ('{% assign r = (1..1000000000) %}{{ r | reverse | first }}', {}, "sequence_size"),
    ("{% assign n = 2 %}" + "{% assign n = n | times: n %}" * 64, {}, "number_size"),
])
def test_each_limit_is_enforced(source, ctx, limit):
    assert limit_of(source, ctx) == limit


def test_python_liquid_limits_are_set():
    env = liquid.TEXT_ENV
    assert env.loop_iteration_limit == liquid.LOOP_ITERATIONS == 10_000
    assert env.output_stream_limit == liquid.OUTPUT_BYTES == 1_000_000
    assert env.context_depth_limit == liquid.CONTEXT_DEPTH == 16
    assert env.local_namespace_limit == liquid.LOCAL_NAMESPACE_BYTES == 1_000_000
    assert liquid.HTML_ENV.loop_iteration_limit == liquid.LOOP_ITERATIONS


def test_within_the_limits_renders_as_before():
    assert render("{% for i in (1..9997) %}{% endfor %}{% for i in (1..3) %}{{ i }}{% endfor %}") == "123"
    assert Renderer().render("{{firstName|there}}!", {"firstName": "Ann"}) == "Ann!"
    assert render('{{ "1e999999999" | currency }}|{{ 1234.5 | currency }}') == "1e999999999|$1,234.50"
    assert render('{% assign s = "ab" %}{% for i in (1..10) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}') == "2048"


def test_include_and_render_do_not_parse():
    for source in ("{% include 'x' %}", "{% render 'x' %}", "{% liquid\ninclude 'x' %}"):
        with pytest.raises(liquid.TagNotAllowedError):
            liquid.TEXT_ENV.from_string(source)


def test_the_time_budget_is_checked_inside_the_render():
    started = time.thread_time()
    assert limit_of(CPU_BURNER, budget=Budget(0.2)) == "render_time"
    assert time.thread_time() - started < 1.0
    with pytest.raises(SliceExceeded):
        render(CPU_BURNER, budget=Budget(0.02, inline=True))
    # Thousands of nodes per iteration, no filter or output: each iteration still checks the clock.
    assert limit_of("{% for i in (1..10000) %}" + "{% if x %}{% endif %}" * 3000 + "{% endfor %}",
                    budget=Budget(0.2)) == "render_time"


def test_the_renderer_lets_a_limit_through_instead_of_stripping_tags():
    with pytest.raises(RenderLimitError):
        Renderer().render(HUGE_LOOP, {})
    # Other render errors keep the old fallback (merge tags stripped).
    assert Renderer().render("a{{ 1 | divided_by: 0 }}b", {}) == "ab"


def compose_row(**overrides):
    base = dict(
        message_id=uuid.uuid4(), tenant_id=uuid.uuid4(), contact_id=uuid.uuid4(), campaign_id=uuid.uuid4(),
        step_id=uuid.uuid4(), to_email="ann@example.org", smtp_message_id="<fixed-id@example.com>",
        email="ann@example.org", first_name="Ann", custom_fields={}, tags=[], campaign_name="C",
        campaign_from_email="campaign@example.com", subject_template="Hello {{ first_name }}",
        html_template="<html><body><p>Hi {{ first_name }}</p></body></html>", text_template=None,
    )
    base.update(overrides)
    return base


def test_compose_within_budget_inline_thread_and_memory():
    composer = Composer("https://mail.example.test", TokenSigner("k"))

    async def main():
        ordinary = await render_budget.compose_within_budget(composer, compose_row())
        assert b"Hi Ann" in ordinary.data
        with pytest.raises(RenderLimitError, match="loops over"):
            await render_budget.compose_within_budget(composer, compose_row(text_template=HUGE_LOOP, html_template=None))
        # The event loop keeps turning while a thread renders: a ticker notes its longest wait.
        gaps = [0.0]

        async def tick():
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.005)
                now = time.monotonic()
                gaps[0], last = max(gaps[0], now - last), now
        ticker = asyncio.create_task(tick())
        hostile = compose_row(subject_template=f"x{uuid.uuid4()}", text_template=CPU_BURNER, html_template=None)
        started = time.monotonic()
        with pytest.raises(RenderLimitError, match="render time"):
            await render_budget.compose_within_budget(composer, hostile, cpu_seconds=0.6)
        took = time.monotonic() - started
        ticker.cancel()
        # Never blocked for the render (at least 0.6 s): at most a slice plus scheduling on a busy machine.
        assert took >= 0.6 and gaps[0] < 0.3, (took, gaps)
        # The same template fails at once next time, without another budget's worth of CPU.
        started = time.monotonic()
        with pytest.raises(RenderLimitError, match="earlier message"):
            await render_budget.compose_within_budget(composer, hostile, cpu_seconds=0.6)
        assert time.monotonic() - started < 0.1
    asyncio.run(main())


# -- the SQL outcome ----------------------------------------------------------------------------------


def test_render_limit_outcome_fails_the_message_without_sending(conn):
    box = make_outbox(conn, 2)
    rows = claim(conn)
    first, second = rows[0]["message_id"], rows[1]["message_id"]
    assert record(conn, first, "render_limit", error="render_limit: loops over 10000 iterations") == "failed"
    msg = conn.execute("SELECT status, attempts, last_error, sent_at, lease_expires_at FROM campaigns.email_messages "
                       "WHERE id = %s", (first,)).fetchone()
    assert msg == ("failed", 0, "render_limit: loops over 10000 iterations", None, None)
    assert conn.execute("SELECT emails_sent FROM campaigns.campaign_steps WHERE id = %s", (box.step_id,)).fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM campaigns.email_events WHERE message_id = %s", (first,)).fetchone()[0] == 0
    assert conn.execute("SELECT failure_kind FROM campaigns.dead_letters WHERE message_id = %s",
                        (first,)).fetchone()[0] == "render_limit"
    # In a worker's flush, next to other outcomes.
    result = dict(conn.execute(
        "SELECT message_id, status FROM campaigns.record_send_results('w1', %s::uuid[], %s::text[], NULL, %s::text[])",
        ([second], ["render_limit"], ["render_limit: output over 1000000 bytes"])).fetchall())
    assert result == {second: "failed"}
    assert statuses(conn, box.campaign_id) == {"failed": 2}
    assert conn.execute("SELECT count(*) FROM campaigns.tenant_send_usage WHERE tenant_id = %s",
                        (box.tenant_id,)).fetchone()[0] == 0


# -- through a real worker ----------------------------------------------------------------------------


@pytest.mark.parametrize("body, reason", [(HUGE_LOOP, "loops over"), (CPU_BURNER, "render time")],
                         ids=["huge-loop", "cpu-burner"])
def test_a_hostile_step_does_not_delay_another_tenants_mail(conn, db_url, smtp, body, reason):
    tenant_a = make_tenant(conn, "A")
    hostile = make_outbox(conn, 1, tenant=tenant_a, step={"email_content": body})
    ordinary_a = make_outbox(conn, 1, tenant=tenant_a)
    other = make_outbox(conn, 1)  # tenant B
    boxes = (hostile, ordinary_a, other)
    park = "UPDATE campaigns.email_messages SET next_attempt_at = clock_timestamp() + %s::interval WHERE campaign_id = ANY (%s)"
    conn.execute(park, ("1 hour", [b.campaign_id for b in boxes]))
    with worker_in_thread(db_url, smtp, max_connections=2) as worker:
        wait_for_claim_cycle(conn)
        conn.execute(park, ("0.3 seconds", [hostile.campaign_id, ordinary_a.campaign_id]))
        conn.execute(park, ("1.3 seconds", [other.campaign_id]))
        due_b = time.monotonic() + conn.execute(
            "SELECT extract(epoch FROM next_attempt_at - clock_timestamp())::float8 FROM campaigns.email_messages "
            "WHERE campaign_id = %s", (other.campaign_id,)).fetchone()[0]
        b_id = other.smtp_ids(conn).pop()
        wait_until(lambda: b_id in smtp.message_ids(), 10, message="tenant B's mail did not arrive")
        arrived = next(r.at for r in smtp.received if r.message_id == b_id)
        wait_until(lambda: statuses(conn, hostile.campaign_id).get("failed"), 30,
                   message=lambda: f"hostile message is {statuses(conn, hostile.campaign_id)}")
        wait_until(lambda: statuses(conn, ordinary_a.campaign_id).get("sent"), 10)
        assert worker.stats.sent == 2
    late = arrived - due_b
    print(f"\n{reason}: tenant B's mail arrived {late:+.3f} s after it was due")
    assert late < 1.0
    status, attempts, last_error = conn.execute(
        "SELECT status, attempts, last_error FROM campaigns.email_messages WHERE campaign_id = %s",
        (hostile.campaign_id,)).fetchone()
    assert status == "failed" and attempts == 0
    assert last_error.startswith("render_limit: ") and reason in last_error
    assert hostile.smtp_ids(conn).isdisjoint(smtp.message_ids())
    assert conn.execute("SELECT failure_kind FROM campaigns.dead_letters WHERE campaign_id = %s",
                        (hostile.campaign_id,)).fetchone()[0] == "render_limit"


def test_a_big_message_is_finished_off_the_event_loop():
    # 300 KB of links: rendering is quick, but signing and rewriting 6,000 links is not.
    composer = Composer("https://mail.example.test", TokenSigner("k"))
    big = compose_row(html_template="<html><body>{% for i in (1..6000) %}<a href=\"https://example.com/{{ i }}\">"
                                    "link {{ i }}</a>{% endfor %}</body></html>")
    with pytest.raises(SliceExceeded):
        composer.compose(big, Budget(5, inline=True))
    composed = asyncio.run(render_budget.compose_within_budget(composer, big))
    assert quopri.decodestring(composed.data).count(b"/api/track/click?token=") == 6000
