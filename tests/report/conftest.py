"""Report page tests: the API served on a fresh database (the root conftest sets the signing secret), and headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from api.api_helpers import serve  # tests/ is on sys.path; api/ is a namespace package

@pytest.fixture
def report_api(db_url: str) -> Iterator[str]:
    with serve(db_url) as base:
        yield base


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, installed with apt when missing and running as root (as CI does)."""
    path = shutil.which("chromium")
    if path is None and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True, env=env, stdout=subprocess.DEVNULL)
        path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: apt-get install chromium")
    return path
