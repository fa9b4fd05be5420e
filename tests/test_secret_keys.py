"""Signing keys: the API and the worker refuse to start with a missing, short or placeholder key (anyone
who read the same page could forge click, unsubscribe and report links), only the local demo makes one
of its own, and a list of keys verifies tokens while the newest alone signs them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from uuid import uuid4

import pytest

from service.app import create_app
from service.config import LinkSettings, SecretKeyError, Settings, check_secret_keys, get_settings
from service.dev import demo
from service.report.links import ReportLinkSigner
from service.tracking.tokens import CLICK, UNSUBSCRIBE, TokenSigner
from tests.conftest import ROOT

NEW = "keys-tests-newest-key-6f1c8e3a9d2b7f4e0a5c"
OLD = "keys-tests-older-key-2a9d4f7c1e8b3a6d0f5e"
OLDEST = "keys-tests-oldest-key-9e4b1d7a3f6c0e8b2d5a"
UNREACHABLE_DB = "postgresql://nobody@127.0.0.1:1/none"

BAD_KEYS = [
    pytest.param(None, id="missing"),
    pytest.param("", id="empty"),
    pytest.param("f3a9c1e5b2d8f4a6c0e9b7d1a3c5e7f", id="31-bytes"),
    pytest.param("change-me-in-production", id="compose-placeholder"),
    pytest.param("change-me-in-production-7f3a9c1e5b2d8f4a6c0e", id="long-placeholder"),
    pytest.param("your-secret-key-goes-here-7f3a9c1e5b2d8f4a", id="your-secret"),
    pytest.param("a" * 64, id="one-character"),
    pytest.param("0123" * 16, id="four-characters"),
]


def ids(n: int = 5) -> bytes:
    return TokenSigner.ids(*(uuid4() for _ in range(n)))


# -- which keys are accepted ------------------------------------------------------------------------


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_missing_short_or_placeholder_key_is_refused(key):
    with pytest.raises(SecretKeyError):
        check_secret_keys(LinkSettings(secret_key=key))


@pytest.mark.parametrize("key", [k for k in BAD_KEYS if k.values[0]])
def test_a_weak_previous_key_is_refused_too(key):
    with pytest.raises(SecretKeyError):
        check_secret_keys(LinkSettings(secret_key=NEW, previous_secret_keys=(OLD, key)))


def test_32_random_bytes_are_enough():
    key = os.urandom(16).hex()  # 32 characters
    assert check_secret_keys(LinkSettings(secret_key=key)) == (key,)


def test_the_key_list_is_read_newest_first_and_never_shown():
    settings = Settings.from_env({"CAMPAIGNS_SECRET_KEY": NEW,
                                  "CAMPAIGNS_PREVIOUS_SECRET_KEYS": f" {OLD} ,{OLDEST},, {NEW}"})
    assert check_secret_keys(settings.links) == (NEW, OLD, OLDEST)
    assert not any(key in repr(settings) for key in (NEW, OLD, OLDEST))


def test_previous_keys_alone_sign_nothing():
    with pytest.raises(SecretKeyError):
        check_secret_keys(LinkSettings(secret_key=None, previous_secret_keys=(OLD,)))
    assert LinkSettings(secret_key=None, previous_secret_keys=(OLD,)).secret_keys == ()


# -- refusing to start --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", BAD_KEYS)
def test_the_app_is_not_built_with_a_bad_key(monkeypatch, key):
    if key is None:
        monkeypatch.delenv("CAMPAIGNS_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("CAMPAIGNS_SECRET_KEY", key)
    get_settings.cache_clear()
    try:
        with pytest.raises(SecretKeyError):
            create_app(UNREACHABLE_DB)
    finally:
        get_settings.cache_clear()


def _run(command: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DATABASE_URL": UNREACHABLE_DB, "PYTHONUNBUFFERED": "1"}
    for name, value in env.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return subprocess.run([sys.executable, "-m", "service.cli", *command.split()], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", ["serve --port 1", "worker --once"])
@pytest.mark.parametrize("key", [None, "f3a9c1e5b2d8f4a6c0e9b7d1", "change-me-in-production-7f3a9c1e5b2d8f4a6c0e"],
                         ids=["missing", "short", "placeholder"])
def test_the_api_and_the_worker_refuse_to_start(command, key):
    done = _run(command, CAMPAIGNS_SECRET_KEY=key, CAMPAIGNS_PREVIOUS_SECRET_KEYS=None)
    # Exit 2 before touching the (unreachable) database, naming the setting and never the key.
    assert done.returncode == 2, done.stdout + done.stderr
    assert "CAMPAIGNS_SECRET_KEY" in done.stderr
    assert key is None or key not in done.stdout + done.stderr


def test_the_api_refuses_a_weak_previous_key():
    done = _run("serve --port 1", CAMPAIGNS_SECRET_KEY=NEW, CAMPAIGNS_PREVIOUS_SECRET_KEYS=f"{OLD},short-old-key")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "CAMPAIGNS_PREVIOUS_SECRET_KEYS" in done.stderr and "short-old-key" not in done.stderr


# -- the local demo -----------------------------------------------------------------------------------


def test_the_demo_generates_its_own_key_once_and_keeps_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CAMPAIGNS_SECRET_KEY", raising=False)
    try:
        demo.ensure_secret_key()
        key = os.environ["CAMPAIGNS_SECRET_KEY"]
        assert check_secret_keys(get_settings().links) == (key,)
        assert stat.S_IMODE(demo.SECRET_FILE.stat().st_mode) == 0o600
        # A second run (a restart) signs with the same key, so the links it already sent keep working.
        monkeypatch.delenv("CAMPAIGNS_SECRET_KEY")
        demo.ensure_secret_key()
        assert os.environ["CAMPAIGNS_SECRET_KEY"] == key
        # A kept key that is no longer acceptable is replaced.
        demo.SECRET_FILE.write_text("change-me")
        monkeypatch.delenv("CAMPAIGNS_SECRET_KEY")
        demo.ensure_secret_key()
        assert os.environ["CAMPAIGNS_SECRET_KEY"] not in ("change-me", key)
        assert check_secret_keys(get_settings().links) == (os.environ["CAMPAIGNS_SECRET_KEY"],)
    finally:
        get_settings.cache_clear()


def test_the_demo_refuses_a_bad_key_given_by_hand(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAMPAIGNS_SECRET_KEY", "change-me-in-production")
    with pytest.raises(SecretKeyError):
        demo.ensure_secret_key()
    assert not demo.SECRET_FILE.exists()


# -- signing with the newest, verifying with every listed key --------------------------------------------


def test_tracking_tokens_of_every_listed_key_verify_and_only_the_newest_signs():
    before, rotated, after_removal = TokenSigner(OLD), TokenSigner((NEW, OLD)), TokenSigner(NEW)
    payload = ids()
    old_unsubscribe = before.sign(UNSUBSCRIBE, payload)
    old_click = before.sign(CLICK, payload, "https://example.com/")
    assert rotated.verify(old_unsubscribe, UNSUBSCRIBE) is not None
    assert rotated.verify(old_click, CLICK).url == "https://example.com/"
    fresh = rotated.sign(UNSUBSCRIBE, payload)
    assert after_removal.verify(fresh, UNSUBSCRIBE) is not None and before.verify(fresh, UNSUBSCRIBE) is None
    # The old key removed from the list: what it signed is refused.
    assert after_removal.verify(old_unsubscribe, UNSUBSCRIBE) is None
    assert after_removal.verify(old_click, CLICK) is None


def test_report_links_of_every_listed_key_open_and_only_the_newest_signs():
    tenant, campaign, expires = uuid4(), uuid4(), int(time.time()) + 60
    old_link = ReportLinkSigner(OLD).sign(tenant, campaign, expires)
    rotated = ReportLinkSigner([NEW, OLD])
    assert rotated.verify(old_link, campaign) == tenant
    assert ReportLinkSigner(NEW).verify(rotated.sign(tenant, campaign, expires), campaign) == tenant
    assert ReportLinkSigner(NEW).verify(old_link, campaign) is None
