"""The documentation's tables come from the code: the routes of docs/api.md from the app's route table,
the settings of docs/deploy.md from service/config.py, and the README's defaults agree with it."""

from __future__ import annotations

import re
from pathlib import Path

from service.api.openapi import route_table
from service.app import create_app
from service.config import Settings, reference, settings_table

ROOT = Path(__file__).resolve().parent.parent


def _between(text: str, name: str) -> str:
    match = re.search(rf"<!-- {name}:begin -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert match, f"markers {name}:begin/end missing"
    return match.group(1)


def test_api_doc_lists_every_route():
    doc = (ROOT / "docs" / "api.md").read_text()
    assert _between(doc, "routes") == route_table(create_app("postgresql://unused"))


def test_deploy_doc_lists_every_setting():
    doc = (ROOT / "docs" / "deploy.md").read_text()
    assert _between(doc, "settings") == settings_table()


def test_readme_defaults_are_the_settings_defaults():
    defaults = {env: default for _, env, default, _ in reference()}
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Configuration"):readme.index("## Layout")]
    checked = 0
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([A-Z_]+)`", cells[0])
        values = [v.strip().strip("`") for v in cells[1].split(" / ")]
        assert len(names) == len(values), line
        for name, value in zip(names, values, strict=True):
            if name.startswith("CAMPAIGNS_TEST_"):      # the test harness's own, not the service's
                continue
            assert name in defaults, f"{name} is not a setting"
            assert value == defaults[name], (name, value, defaults[name])
            checked += 1
    assert checked >= 10


def test_every_setting_is_read_from_its_variable():
    env = {name: "7" for _, name, _, _ in reference()}
    env.update(SMTP_TLS="tls", CAMPAIGNS_WORKER_EVENT_LOOP="asyncio", CAMPAIGNS_LOG_FORMAT="text",
               CAMPAIGNS_WORKER_IN_API="1")
    settings = Settings.from_env(env)
    assert settings.database.pool_max == 7 and settings.api.port == 7 and settings.worker.lease_seconds == 7.0
    assert settings.smtp.tls == "tls" and settings.worker.in_api is True and settings.logging.format == "text"
    assert Settings.from_env({}) == Settings()
