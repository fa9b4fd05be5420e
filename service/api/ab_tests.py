"""A/B tests of email steps under /api/campaigns/{id}/steps/{step_id}/ab-test: set up while the
campaign is a draft, read with live per-variant results, decided by hand if wanted. The split, the
hold-back, the z-test and the deployment are the engine's (db/functions/45_ab_tests.sql, 46_ab_decisions.sql)."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Controller
from litestar.params import FromPath, JSONBody

from service.api.common import DbDep, endpoint, one
from service.api.examples import CAMPAIGN_ID, STEP_ID
from service.api.templates import LIQUID_REFUSALS, check_liquid
from service.schemas.ab_tests import AbTestPut, AbTestRead, AbTestSaved, WinnerChoice, WinnerDeployed

VARIANT_A_ID = "ab000000-0000-4000-8000-00000000000a"
VARIANT_B_ID = "ab000000-0000-4000-8000-00000000000b"
AB_TEST_ID = "ab000000-0000-4000-8000-000000000001"


_VARIANT = {"subject_line": None, "email_content": None, "sender_name": None, "sender_email": None,
            "created_at": "2026-03-01T09:00:00Z"}
AB_TEST_EXAMPLE = {
    "id": AB_TEST_ID, "campaign_id": CAMPAIGN_ID, "step_id": STEP_ID, "test_name": "Subject test", "status": "draft",
    "sample_percent": 20.0, "duration_hours": 4.0, "win_metric": "open_rate", "confidence_threshold": 95.0,
    "minimum_sample_size": 100, "if_no_winner": "send_control", "started_at": None, "decided_at": None,
    "decision": None, "winner_variant_id": None, "created_at": "2026-03-01T09:00:00Z", "updated_at": "2026-03-01T09:00:00Z",
    "variants": [_VARIANT | {"id": VARIANT_A_ID, "variant_name": "A", "is_control": True, "subject_line": "Hello {{ first_name }}"},
                 _VARIANT | {"id": VARIANT_B_ID, "variant_name": "B", "is_control": False, "subject_line": "{{ first_name }}, a quick question"}],
    "results": [],
}
PUT_EXAMPLE = {"test_name": "Subject test", "sample_percent": 20, "duration_hours": 4, "win_metric": "open_rate",
               "variants": [{"subject_line": "Hello {{ first_name }}", "is_control": True},
                            {"subject_line": "{{ first_name }}, a quick question"}]}

Q_DOC = "SELECT campaigns.ab_test_doc(%s, %s)"


class AbTestController(Controller):
    path = "/campaigns/{campaign_id:uuid}/steps/{step_id:uuid}/ab-test"
    tags = ["a/b tests"]

    @endpoint("POST", "/", operation_id="setAbTest", status_code=200,
              summary="Create or replace the step's A/B test (campaign in draft)", errors=(404, 409, 422),
              description="2 to 5 variants, named A, B, … in order; the first is the control unless one is marked. "
                          "CAMPAIGN_NOT_EDITABLE once the campaign left draft; AB_TEST_INVALID for a non-email step. "
                          "Each variant's subject_line and email_content: " + LIQUID_REFUSALS,
              request_example=PUT_EXAMPLE, response_example=AB_TEST_EXAMPLE | {"warnings": []})
    async def put_ab_test(self, db: DbDep, campaign_id: FromPath[UUID], step_id: FromPath[UUID],
                          data: JSONBody[AbTestPut]) -> AbTestSaved:
        warnings = check_liquid({f"variants[{i}].{field}": getattr(variant, field)
                                 for i, variant in enumerate(data.variants)
                                 for field in ("subject_line", "email_content")})
        await db.execute("SELECT campaigns.put_ab_test(%s, %s, %s::jsonb)",
                         (campaign_id, step_id, msgspec.json.encode(data).decode()))
        saved = await one(db, Q_DOC, (campaign_id, step_id), AbTestSaved, "A/B test", step_id)
        saved.warnings = warnings
        return saved

    @endpoint("GET", "/", operation_id="getAbTest", summary="The step's A/B test with live per-variant results", errors=(404,),
              response_example=AB_TEST_EXAMPLE)
    async def get_ab_test(self, db: DbDep, campaign_id: FromPath[UUID], step_id: FromPath[UUID]) -> AbTestRead:
        return await one(db, Q_DOC, (campaign_id, step_id), AbTestRead, "A/B test", step_id)

    @endpoint("POST", "/winner", operation_id="chooseAbWinner", status_code=200, errors=(404, 409),
              summary="Pick the winner by hand and deploy it to the held-back contacts",
              description="Only while the test is running (AB_TEST_NOT_EDITABLE otherwise).",
              request_example={"variant_id": VARIANT_B_ID}, response_example={"released": 800})
    async def choose_winner(self, db: DbDep, campaign_id: FromPath[UUID], step_id: FromPath[UUID],
                            data: JSONBody[WinnerChoice]) -> WinnerDeployed:
        cur = await db.conn.execute("SELECT campaigns.choose_step_ab_winner(%s, %s, %s) AS released",
                                    (campaign_id, step_id, data.variant_id))
        return WinnerDeployed(released=(await cur.fetchone())["released"])

    @endpoint("DELETE", "/", operation_id="deleteAbTest", status_code=204, errors=(404, 409),
              summary="Remove the step's A/B test (campaign in draft)")
    async def delete_ab_test(self, db: DbDep, campaign_id: FromPath[UUID], step_id: FromPath[UUID]) -> None:
        await db.execute("SELECT campaigns.delete_ab_test(%s, %s)", (campaign_id, step_id))
