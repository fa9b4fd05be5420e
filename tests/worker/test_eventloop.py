"""The worker's event loop (service/eventloop.py, CAMPAIGNS_WORKER_EVENT_LOOP): uvloop when installed,
asyncio's own on request, and a clear exit 2 for a value it does not know."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service import eventloop

ROOT = Path(__file__).resolve().parents[2]


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_runs_on_uvloop_when_it_is_installed():
    pytest.importorskip("uvloop")
    assert eventloop.resolve("auto") == "uvloop"
    assert eventloop.run(_loop_module(), "auto").startswith("uvloop")


def test_asyncio_runs_on_asyncios_own_loop():
    assert eventloop.resolve("asyncio") == "asyncio"
    assert eventloop.run(_loop_module(), "asyncio").startswith("asyncio")


def test_an_unknown_loop_is_refused_without_running_anything():
    coro = _loop_module()
    with pytest.raises(ValueError):
        eventloop.run(coro, "trio")
    assert coro.cr_frame is None  # closed, never started


def test_the_worker_command_exits_2_for_an_unknown_loop():
    env = {**os.environ, "CAMPAIGNS_WORKER_EVENT_LOOP": "trio", "CAMPAIGNS_SECRET_KEY": "eventloop-tests-signing-key-2c7e9a4f1b6d",
           "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    done = subprocess.run([sys.executable, "-m", "service.cli", "worker", "--once"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2  # refused before touching the (unreachable) database
