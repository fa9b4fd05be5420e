"""Campaign steps: create, list, get, update, delete and reorder under /api/campaigns/{id}/steps.

Validation is the engine's (the step trigger: at most 20 steps, rules and actions, same-campaign
targets, no cycle through an email) plus the editing rules of campaigns.create_step / update_step /
delete_step for running campaigns (db/functions/31_step_edit.sql, docs/api.md). subject_line and
email_content are checked as Liquid before anything is stored (service/liquid.py, as for templates).
"""

from __future__ import annotations

from uuid import UUID

from litestar import Controller
from litestar.params import FromPath, JSONBody

from service.api.common import DbDep, encode, endpoint, one
from service.api.step_webhooks import check_step_webhook_target
from service.api.examples import (
    FOLLOW_UP_STEP,
    STEP,
    STEP2_ID,
    STEP3_ID,
    STEP_ID,
    WAIT_STEP,
)
from service.api.templates import LIQUID_REFUSALS, check_liquid
from service.schemas.common import UNSET
from service.schemas.steps import ReorderRequest, StepCreate, StepFields, StepRead, StepSaved, StepUpdate
from service.schemas.templates import TemplateWarning


def _check_liquid(data: StepFields) -> list[TemplateWarning]:
    return check_liquid({"subject_line": data.subject_line, "email_content": data.email_content})

STEP_DOC = "to_jsonb(s) - 'tenant_id'"
Q_CREATE = f"SELECT {STEP_DOC} FROM campaigns.create_step(%s, %s::jsonb, %s) s"
Q_UPDATE = f"SELECT {STEP_DOC} FROM campaigns.update_step(%s, %s, %s::jsonb) s"
Q_DELETE = "SELECT campaigns.delete_step(%s, %s)"
Q_REORDER = f"SELECT coalesce(jsonb_agg({STEP_DOC} ORDER BY s.step_order), '[]'::jsonb) FROM campaigns.reorder_steps(%s, %s) s"
Q_GET = f"SELECT {STEP_DOC} FROM campaigns.campaign_steps s WHERE s.campaign_id = %s AND s.id = %s"
Q_LIST = f"""
    SELECT CASE WHEN EXISTS (SELECT FROM campaigns.campaigns c WHERE c.id = %(campaign_id)s) THEN
        coalesce((SELECT jsonb_agg({STEP_DOC} ORDER BY s.step_order) FROM campaigns.campaign_steps s
                  WHERE s.campaign_id = %(campaign_id)s), '[]'::jsonb) END
"""


class StepController(Controller):
    path = "/campaigns/{campaign_id:uuid}/steps"
    tags = ["steps"]

    @endpoint("POST", "/", operation_id="createStep", summary="Add a step", errors=(404, 409, 422),
              description="Refusals: TOO_MANY_STEPS (over 20), INVALID_STEP_RULE, STEP_TARGET_OUTSIDE_CAMPAIGN, STEP_CYCLE, "
                          "CONSTRAINT_VIOLATED (a wait without a positive value and unit, an email without subject and "
                          "content or template), STEP_ORDER_TAKEN, CAMPAIGN_NOT_EDITABLE (completed campaign), "
                          "WEBHOOK_TARGET_NOT_ALLOWED (a webhook action's url is an internal address). " + LIQUID_REFUSALS,
              request_example={"step_type": "wait", "step_name": "Wait 2 days", "wait_duration_value": 2,
                               "wait_duration_unit": "days", "after_step_id": STEP_ID},
              response_example=WAIT_STEP | {"warnings": []})
    async def create_step(self, db: DbDep, campaign_id: FromPath[UUID], data: JSONBody[StepCreate]) -> StepSaved:
        warnings = _check_liquid(data)
        await check_step_webhook_target(data)
        after = data.after_step_id if data.after_step_id is not UNSET else None
        saved = await one(db, Q_CREATE, (campaign_id, encode(data, exclude=("after_step_id",)), after), StepSaved, "campaign", campaign_id)
        saved.warnings = warnings
        return saved

    @endpoint("GET", "/", operation_id="listSteps", errors=(404,), summary="List a campaign's steps in step_order",
              response_example=[STEP, WAIT_STEP, FOLLOW_UP_STEP])
    async def list_steps(self, db: DbDep, campaign_id: FromPath[UUID]) -> list[StepRead]:
        return await one(db, Q_LIST, {"campaign_id": campaign_id}, list[StepRead], "campaign", campaign_id)

    @endpoint("GET", "/{step_id:uuid}", operation_id="getStep", summary="Get a step", response_example=STEP)
    async def get_step(self, db: DbDep, campaign_id: FromPath[UUID], step_id: FromPath[UUID]) -> StepRead:
        return await one(db, Q_GET, (campaign_id, step_id), StepRead, "step", step_id)

    @endpoint("PATCH", "/{step_id:uuid}", operation_id="updateStep", summary="Update a step", errors=(409, 422),
              description="Null clears a field. On an active or paused campaign the type of a step cannot change while "
                          "contacts stand on it or once mail was sent from it (STEP_IN_USE). " + LIQUID_REFUSALS,
              request_example={"subject_line": "Still interested, {{ first_name }}?"},
              response_example=STEP | {"subject_line": "Still interested, {{ first_name }}?", "warnings": []})
    async def update_step(self, db: DbDep, campaign_id: FromPath[UUID], step_id: FromPath[UUID], data: JSONBody[StepUpdate]) -> StepSaved:
        warnings = _check_liquid(data)
        await check_step_webhook_target(data)
        saved = await one(db, Q_UPDATE, (campaign_id, step_id, encode(data)), StepSaved, "step", step_id)
        saved.warnings = warnings
        return saved

    @endpoint("DELETE", "/{step_id:uuid}", operation_id="deleteStep", summary="Delete a step", errors=(409, 422),
              description="The step is spliced out: steps that led to it lead to its successor. On an active or paused "
                          "campaign a step with contacts on it or mail sent from it cannot be deleted (STEP_IN_USE).")
    async def delete_step(self, db: DbDep, campaign_id: FromPath[UUID], step_id: FromPath[UUID]) -> None:
        await db.execute(Q_DELETE, (campaign_id, step_id))

    @endpoint("POST", "/reorder", operation_id="reorderSteps", summary="Reorder the steps", errors=(404, 409, 422), status_code=200,
              description="step_ids lists every step once; step_order becomes 1..n in that order, in one transaction. "
                          "Display order, except that the first step is where new enrollments start.",
              request_example={"step_ids": [STEP3_ID, STEP_ID, STEP2_ID]},
              response_example=[FOLLOW_UP_STEP | {"step_order": 1}, STEP | {"step_order": 2}, WAIT_STEP | {"step_order": 3}])
    async def reorder_steps(self, db: DbDep, campaign_id: FromPath[UUID], data: JSONBody[ReorderRequest]) -> list[StepRead]:
        return await one(db, Q_REORDER, (campaign_id, data.step_ids), list[StepRead], "campaign", campaign_id)


