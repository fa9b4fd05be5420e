"""One log format per process: readable lines on a terminal, JSON lines otherwise, or what
CAMPAIGNS_LOG_FORMAT says; uvicorn's own lines come out in the same format as ours."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Logs one line of ours and the two kinds uvicorn writes (server messages and the access log).
SCRIPT = """
import logging
from service.logs import configure_logging
configure_logging()
logging.getLogger("campaigns.test").info("hello %s", "world")
logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/health", "1.1", 200)
"""
TEXT_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} INFO +\S+: .+$")


def _run(fmt: str | None, tty: bool) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "CAMPAIGNS_LOG_FORMAT"}
    if fmt is not None:
        env["CAMPAIGNS_LOG_FORMAT"] = fmt
    if not tty:
        result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True,
                                timeout=60, check=True)
        return result.stderr.splitlines()
    # A real terminal: the child's stderr is a pseudo-terminal.
    main, child = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=child)
        os.close(child)
        output = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(main)
    return output.decode().replace("\r", "").splitlines()


def _assert_json(lines: list[str]) -> None:
    docs = [json.loads(line) for line in lines]
    assert [d["logger"] for d in docs] == ["campaigns.test", "uvicorn.error", "uvicorn.access"]
    assert docs[0]["message"] == "hello world" and docs[0]["level"] == "info"


def _assert_text(lines: list[str]) -> None:
    assert len(lines) == 3 and all(TEXT_LINE.match(line) for line in lines), lines
    assert [line.split()[2] for line in lines] == ["campaigns.test:", "uvicorn.error:", "uvicorn.access:"]


@pytest.mark.parametrize("fmt", [None, "auto"])
def test_auto_is_text_on_a_terminal_and_json_otherwise(fmt):
    _assert_text(_run(fmt, tty=True))
    _assert_json(_run(fmt, tty=False))


def test_configured_format_wins_over_the_terminal():
    _assert_json(_run("json", tty=True))
    _assert_text(_run("text", tty=False))


def test_unknown_format_is_refused():
    env = {**os.environ, "CAMPAIGNS_LOG_FORMAT": "xml"}
    result = subprocess.run([sys.executable, "-m", "service.cli", "db", "status"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith("error: ")
