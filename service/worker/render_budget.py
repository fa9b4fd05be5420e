"""Rendering a message without stalling the event loop that sends everyone's mail.

A message is composed inline on the event loop while that is cheap: a slice of SLICE_SECONDS of wall
time, checked from inside the Liquid render (service.liquid.Budget). A message that needs more is
composed again from the start in a render thread, with a budget of MESSAGE_CPU_SECONDS of that
thread's CPU time (and a wall-clock cap for a machine too busy to give it that CPU), also checked
from inside the render, since a thread cannot be killed. Past it, or past any other render limit,
the message fails with reason render_limit (RenderLimitError); the event loop never waits on a
render longer than one slice.

Two memories keep a hostile template from costing its full budget on every message:
- templates that needed more CPU than the slice go to a thread straight away next time (a slice
  that ran out because the machine was busy sends that one message through a thread, no more);
- templates that ran out of the thread budget fail at once for a while (FAILED_FOR_SECONDS): a
  template that needs a second of CPU for one contact is not an email, and its other messages must
  not hold the relay's senders for a second each.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from service.liquid import MESSAGE_CPU_SECONDS, Budget, RenderLimitError, SliceExceeded
from service.worker.compose import Composed, Composer

SLICE_SECONDS = 0.02
# Render threads per process: a hostile template holds one for at most its budget.
THREADS = 2
FAILED_FOR_SECONDS = 600.0
_MEMORY = 1024

_executor: ThreadPoolExecutor | None = None
_slow: OrderedDict[int, None] = OrderedDict()
_failed: OrderedDict[int, tuple[float, str, str]] = OrderedDict()


def _executor_once() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(THREADS, thread_name_prefix="render")
    return _executor


def _key(row: dict[str, Any]) -> int:
    return hash((row.get("subject_template"), row.get("html_template"), row.get("text_template")))


def _remember(memory: OrderedDict, key: int, value: Any) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > _MEMORY:
        memory.popitem(last=False)


def _compose_in_thread(composer: Composer, row: dict[str, Any], seconds: float) -> tuple[Composed, float]:
    # The budget starts here, in the thread that renders (CPU time is per thread).
    started = time.thread_time()
    composed = composer.compose(row, Budget(seconds, wall_seconds=seconds * 10))
    return composed, time.thread_time() - started


async def compose_within_budget(composer: Composer, row: dict[str, Any], *, slice_seconds: float = SLICE_SECONDS,
                                cpu_seconds: float = MESSAGE_CPU_SECONDS) -> Composed:
    """The composed message, or RenderLimitError (the message fails with reason render_limit)."""
    key = _key(row)
    failed = _failed.get(key)
    if failed is not None:
        if failed[0] > time.monotonic():
            raise RenderLimitError(failed[1], failed[2] + " (on an earlier message of this template)")
        del _failed[key]
    if key not in _slow:
        try:
            return composer.compose(row, Budget(slice_seconds, inline=True))
        except SliceExceeded:
            pass
    loop = asyncio.get_running_loop()
    try:
        composed, cpu = await loop.run_in_executor(_executor_once(), _compose_in_thread, composer, row, cpu_seconds)
    except RenderLimitError as exc:
        if exc.limit == "render_time":
            _remember(_failed, key, (time.monotonic() + FAILED_FOR_SECONDS, exc.limit, str(exc)))
        raise
    # Slow by its own CPU, not because the process lost the CPU for a while during the slice.
    if cpu > slice_seconds:
        _remember(_slow, key, None)
    else:
        _slow.pop(key, None)
    return composed
