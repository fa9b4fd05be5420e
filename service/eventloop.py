"""The event loop the worker runs on: uvloop where it is installed, else asyncio's own.

uvloop's transports cost about a quarter less CPU per SMTP command than asyncio's selector loop
(bench/worker_bench.py measures both), which matters at thousands of messages a second in one
process. It is a dependency on Linux and macOS; CAMPAIGNS_WORKER_EVENT_LOOP=asyncio opts out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
CHOICES = ("auto", "uvloop", "asyncio")


def resolve(choice: str = "auto") -> str:
    """The loop `run` will use for a CAMPAIGNS_WORKER_EVENT_LOOP value: 'uvloop' or 'asyncio'."""
    if choice not in CHOICES:
        raise ValueError(f"CAMPAIGNS_WORKER_EVENT_LOOP must be one of {', '.join(CHOICES)}, not {choice!r}")
    if choice == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if choice == "uvloop":
            raise ValueError("CAMPAIGNS_WORKER_EVENT_LOOP=uvloop, but uvloop is not installed") from None
        return "asyncio"
    return "uvloop"


def run(coro: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """asyncio.run(coro) on the loop `resolve(choice)` names."""
    try:
        loop = resolve(choice)
    except ValueError:
        coro.close()  # never awaited: close it so no warning follows the error
        raise
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)
