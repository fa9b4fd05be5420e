"""The API docs at /docs render in a browser with no internet access: Swagger UI's scripts and styles
are served by the app itself."""

from __future__ import annotations

import re
import subprocess
import tempfile

import httpx


def test_docs_page_names_no_outside_host(report_api):
    page = httpx.get(f"{report_api}/docs", timeout=30)
    assert page.status_code == 200
    assert not re.search(r"""(src|href)=["']https?://""", page.text)
    for asset in re.findall(r"""(?:src|href)=["'](/docs/assets/[^"']+)""", page.text):
        assert httpx.get(f"{report_api}{asset}", timeout=30).status_code == 200


def test_docs_render_in_headless_chromium_without_network(report_api, chromium):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             # Every host but the local server is unreachable, as on a machine without internet.
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
             "--virtual-time-budget=15000", "--window-size=1200,1600"]
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([chromium, *flags, f"--user-data-dir={profile}", "--dump-dom", f"{report_api}/docs"],
                             capture_output=True, text=True, timeout=120)
    html = dom.stdout
    assert 'class="swagger-ui' in html, dom.stderr[-2000:]
    paths = set(re.findall(r'data-path="([^"]+)"', html))
    assert {"/api/campaigns", "/api/contacts", "/api/intake/events"} <= paths
    assert len(re.findall(r'class="opblock opblock-', html)) >= 50        # the operations list
