"""Clients generated from the OpenAPI document are usable as they come: openapi-python-client's and
openapi-typescript's (with openapi-fetch) each drive a whole flow — a contact, a segment, a campaign
with an email, a wait, a condition and an action, the launch, the campaigns listed by the status
read from a campaign, the analytics — and the flows type-check strictly (mypy --strict, tsc --strict).
The Python flow also runs against the API over HTTP. Redocly's linter finds no error in the document.

The Node tools are installed once into .cache/npm (git-ignored) from the npm registry; Node itself is
installed by ./dev when missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.api import new_tenant, serve

ROOT = Path(__file__).resolve().parents[2]
NPM_PREFIX = ROOT / ".cache" / "npm"
# Pinned: @redocly/cli 2.77 runs on Node 20.19 or 22.12+ (Debian 13 ships 20.19).
NODE_TOOLS = ["openapi-typescript@7.13.0", "openapi-fetch@0.17.0", "typescript@5.9.3", "@redocly/cli@2.77.0"]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a tool; its output is the failure message when it fails."""
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600,
                            env={**os.environ, **(env or {})})
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def node_tools() -> Path:
    """The Node tools' bin folder (installed into .cache/npm on first use)."""
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: ./dev installs nodejs and npm (apt) before the tests")
    bin_dir = NPM_PREFIX / "node_modules" / ".bin"
    if not all((bin_dir / tool).exists() for tool in ("openapi-typescript", "tsc", "redocly")) or not (
            NPM_PREFIX / "node_modules" / "openapi-fetch").exists():
        NPM_PREFIX.mkdir(parents=True, exist_ok=True)
        if not (NPM_PREFIX / "package.json").exists():
            (NPM_PREFIX / "package.json").write_text('{"private": true, "name": "campaigns-api-tools"}\n')
        run("npm", "install", "--no-audit", "--no-fund", "--cache", NPM_PREFIX / "_cache", *NODE_TOOLS, cwd=NPM_PREFIX)
    return bin_dir


@pytest.fixture(scope="module")
def served(module_db_url: str) -> Any:
    """The API over HTTP, its OpenAPI document, and an API key of a new tenant."""
    with psycopg.connect(module_db_url, autocommit=True) as conn, serve(module_db_url) as base:
        tenant = new_tenant(conn, "Generated clients")
        document = httpx.get(f"{base}/docs/openapi.json").json()
        yield base, document, tenant.api_key


@pytest.fixture(scope="module")
def document_path(served: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("contract") / "openapi.json"
    path.write_text(json.dumps(served[1]))
    return path


PYTHON_FLOW = '''"""The whole flow through the generated Python client."""

from __future__ import annotations

import sys

from campaigns_client import AuthenticatedClient
from campaigns_client.api.campaigns import create_campaign, get_campaign_analytics, launch_campaign, list_campaigns
from campaigns_client.api.contacts import create_contact, import_contacts_csv
from campaigns_client.api.segments import add_segment_contacts, create_segment
from campaigns_client.api.steps import create_step
from campaigns_client.models import (
    ActionConfig,
    ActionType,
    CampaignActionResult,
    CampaignAnalytics,
    CampaignCreate,
    CampaignPage,
    CampaignRead,
    ContactAttributeCondition,
    AttributeOperator,
    ContactCreate,
    ContactRead,
    CsvImportRequest,
    EmailOpenedCondition,
    GroupBy,
    ImportResult,
    MembersRequest,
    RefreshResult,
    SegmentCreate,
    SegmentRead,
    SegmentType,
    StepCreate,
    StepSaved,
    StepType,
    WaitUnit,
)


def main(base_url: str, api_key: str) -> None:
    client = AuthenticatedClient(base_url=base_url, token=api_key, raise_on_unexpected_status=True)
    contact = create_contact.sync(client=client, body=ContactCreate(email="ada@example.com", tags=["beta"]))
    assert isinstance(contact, ContactRead), contact
    imported = import_contacts_csv.sync(client=client, body=CsvImportRequest(csv="email\\ngrace@example.com\\n"))
    assert isinstance(imported, ImportResult) and imported.created == 1, imported
    segment = create_segment.sync(client=client, body=SegmentCreate(name="Beta", segment_type=SegmentType.STATIC))
    assert isinstance(segment, SegmentRead), segment
    added = add_segment_contacts.sync(segment_id=segment.id, client=client, body=MembersRequest(contact_ids=[contact.id]))
    assert isinstance(added, RefreshResult) and added.contact_count == 1, added

    campaign = create_campaign.sync(client=client, body=CampaignCreate(name="Launch", segment_id=segment.id))
    assert isinstance(campaign, CampaignRead), campaign
    email = create_step.sync(campaign_id=campaign.id, client=client, body=StepCreate(
        step_type=StepType.EMAIL, subject_line="Hello {{ first_name }}", email_content="Hi"))
    assert isinstance(email, StepSaved), email
    wait = create_step.sync(campaign_id=campaign.id, client=client, body=StepCreate(
        step_type=StepType.WAIT, wait_duration_value=2, wait_duration_unit=WaitUnit.DAYS, after_step_id=email.id))
    assert isinstance(wait, StepSaved), wait
    tag = create_step.sync(campaign_id=campaign.id, client=client, body=StepCreate(
        step_type=StepType.ACTION, action_type=ActionType.ADD_TAG, action_config=ActionConfig(tag="opened")))
    assert isinstance(tag, StepSaved) and tag.action_type is ActionType.ADD_TAG, tag
    vip = create_step.sync(campaign_id=campaign.id, client=client, body=StepCreate(
        step_type=StepType.CONDITION, true_next_step_id=tag.id, condition_rules=ContactAttributeCondition(
            type_="contact_attribute", field="company", operator=AttributeOperator.CONTAINS, value="acme")))
    assert isinstance(vip, StepSaved), vip
    opened = create_step.sync(campaign_id=campaign.id, client=client, body=StepCreate(
        step_type=StepType.CONDITION, condition_rules=EmailOpenedCondition(type_="email_opened"),
        email_step_id=email.id, true_next_step_id=vip.id, after_step_id=wait.id))
    assert isinstance(opened, StepSaved) and isinstance(opened.condition_rules, EmailOpenedCondition), opened

    launched = launch_campaign.sync(campaign_id=campaign.id, client=client)
    assert isinstance(launched, CampaignActionResult) and launched.affected == 1, launched
    # The status read from a campaign filters the list as it is: one enum class everywhere.
    page = list_campaigns.sync(client=client, status=launched.campaign.status)
    assert isinstance(page, CampaignPage) and [c.id for c in page.items] == [campaign.id], page
    analytics = get_campaign_analytics.sync(campaign_id=campaign.id, client=client, group_by=GroupBy.WEEK)
    assert isinstance(analytics, CampaignAnalytics) and len(analytics.by_step) == 5, analytics


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
'''

TS_FLOW = '''// The whole flow through openapi-fetch over the types openapi-typescript generated.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Schemas = components["schemas"];

function need<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new Error(`${what} failed`);
    return value;
}

export async function flow(baseUrl: string, apiKey: string): Promise<number> {
    const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${apiKey}` } });
    const contact = need((await client.POST("/api/contacts", { body: { email: "ada@example.com", tags: ["beta"] } })).data, "contact");
    const imported = await client.POST("/api/contacts/import", { body: { csv: "email\\ngrace@example.com\\n" } });
    const created: number = need(imported.data, "import").created;
    const segment = need((await client.POST("/api/segments", { body: { name: "Beta", segment_type: "static" } })).data, "segment");
    await client.POST("/api/segments/{segment_id}/contacts", {
        params: { path: { segment_id: segment.id } }, body: { contact_ids: [contact.id] } });
    const campaign = need((await client.POST("/api/campaigns", { body: { name: "Launch", segment_id: segment.id } })).data, "campaign");
    const path = { params: { path: { campaign_id: campaign.id } } };
    const email = need((await client.POST("/api/campaigns/{campaign_id}/steps", {
        ...path, body: { step_type: "email", subject_line: "Hello", email_content: "Hi" } })).data, "email");
    const wait = need((await client.POST("/api/campaigns/{campaign_id}/steps", {
        ...path, body: { step_type: "wait", wait_duration_value: 2, wait_duration_unit: "days", after_step_id: email.id } })).data, "wait");
    const config: Schemas["ActionConfig"] = { tag: "opened" };
    const tag = need((await client.POST("/api/campaigns/{campaign_id}/steps", {
        ...path, body: { step_type: "action", action_type: "add_tag", action_config: config } })).data, "action");
    const rules: Schemas["ConditionRules"] = { type: "contact_attribute", field: "company", operator: "contains", value: "acme" };
    const opened: Schemas["ConditionRules"] = { type: "email_opened" };
    const vip = need((await client.POST("/api/campaigns/{campaign_id}/steps", {
        ...path, body: { step_type: "condition", condition_rules: rules, true_next_step_id: tag.id } })).data, "condition");
    await client.POST("/api/campaigns/{campaign_id}/steps", {
        ...path, body: { step_type: "condition", condition_rules: opened, email_step_id: email.id,
                         true_next_step_id: vip.id, after_step_id: wait.id } });
    const launched = need((await client.POST("/api/campaigns/{campaign_id}/launch", path)).data, "launch");
    const status: Schemas["CampaignStatus"] = launched.campaign.status;
    const page = need((await client.GET("/api/campaigns", { params: { query: { status } } })).data, "list");
    const analytics = await client.GET("/api/campaigns/{campaign_id}/analytics", {
        params: { path: { campaign_id: campaign.id }, query: { groupBy: "week", timeRange: "30d" } } });
    const failed: Schemas["Problem"] | undefined = analytics.error;
    if (failed !== undefined) throw new Error(failed.code);
    return page.items.length + need(analytics.data, "analytics").byStep.length + created;
}
'''

TSCONFIG = {"compilerOptions": {
    "strict": True, "noEmit": True, "target": "es2022", "module": "esnext", "moduleResolution": "bundler",
    "lib": ["es2022", "dom"], "types": [], "noUncheckedIndexedAccess": True, "exactOptionalPropertyTypes": False,
}, "files": ["flow.ts"]}


def test_python_client_type_checks_and_runs_the_flow(served, document_path, tmp_path):
    base, document, api_key = served
    (tmp_path / "config.yaml").write_text("package_name_override: campaigns_client\nproject_name_override: campaigns-client\n")
    run(BIN / "openapi-python-client", "generate", "--path", document_path, "--output-path", tmp_path / "campaigns_client",
        "--meta", "none", "--config", tmp_path / "config.yaml")
    # One class per enum of the document, not one per place it is used.
    enums = {name for name, schema in document["components"]["schemas"].items() if "enum" in schema}
    classes = [line for path in (tmp_path / "campaigns_client" / "models").glob("*.py")
               for line in path.read_text().splitlines() if line.startswith("class ") and "Enum)" in line]
    assert len(classes) == len(enums), classes
    (tmp_path / "flow.py").write_text(PYTHON_FLOW)
    run(BIN / "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, "flow.py", "campaigns_client", cwd=tmp_path)
    run(sys.executable, "flow.py", base, api_key, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})


def test_typescript_client_type_checks(node_tools, document_path, tmp_path):
    run(node_tools / "openapi-typescript", document_path, "-o", tmp_path / "schema.d.ts")
    (tmp_path / "flow.ts").write_text(TS_FLOW)
    (tmp_path / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    (tmp_path / "node_modules").symlink_to(NPM_PREFIX / "node_modules")
    run(node_tools / "tsc", "--noEmit", "--strict", "-p", tmp_path / "tsconfig.json", cwd=tmp_path)


def test_redocly_lint_finds_no_error(node_tools, document_path):
    output = run(node_tools / "redocly", "lint", document_path, "--config", ROOT / "redocly.yaml", "--format", "json",
                 env={"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"})
    report = json.loads(output[output.index("{"):])
    errors = [p for p in report.get("problems", []) if p.get("severity") == "error"]
    assert errors == [], json.dumps(errors, indent=1)[:5000]
