"""Request and response Structs of the steps API (service/api/steps.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from service.schemas.common import UNSET, LongText, PositiveInt, ShortText, Timestamp, Unset
from service.schemas.templates import Warnings

StepType = Literal["email", "wait", "condition", "action"]
WaitUnit = Literal["minutes", "hours", "days", "weeks"]
ActionType = Literal["add_tag", "remove_tag", "update_field", "adjust_score", "exit", "move_to_campaign", "notify",
                     "webhook"]
Subject = Annotated[str, msgspec.Meta(max_length=998)]
WebhookOnFailure = Literal["continue", "exit"]
AttributeOperator = Literal["equals", "not_equals", "contains", "greater_than", "less_than", "in", "not_in"]
Scalar = int | float | str | bool
# A standard field, or a custom field as custom.<name> (customField.<name> is the older spelling).
AttributeField = Annotated[str, msgspec.Meta(
    pattern=r"^(email|first_name|last_name|company|job_title|city|state|country|timezone|status|score"
            r"|(custom|customField|event)\.[A-Za-z0-9_\-]+)$")]
WritableField = Annotated[str, msgspec.Meta(
    pattern=r"^(first_name|last_name|company|job_title|city|state|country|(custom|customField)\.[A-Za-z0-9_\-]+)$")]

# -- condition rules: one Struct per `type` ---------------------------------------------------------------
# Keys a rule does not define are ignored (as the engine does), so they are not refused here either.


class EmailOpenedCondition(msgspec.Struct, tag_field="type", tag="email_opened"):
    """True when the contact opened an email of this enrollment (or of the step email_step_id names)."""


class EmailClickedCondition(msgspec.Struct, tag_field="type", tag="email_clicked"):
    """True when the contact clicked a link of an email of this enrollment (or of email_step_id's)."""


class EmailRepliedCondition(msgspec.Struct, tag_field="type", tag="email_replied"):
    """True when the contact replied to an email of this enrollment (or of email_step_id's)."""


class LeadScoreCondition(msgspec.Struct, tag_field="type", tag="lead_score"):
    """True when the contact's score is at least the threshold."""

    threshold: int | float


class ContactAttributeCondition(msgspec.Struct, tag_field="type", tag="contact_attribute"):
    """Compares a contact field, or with event.<name> a property of the event that started the
    enrollment: in / not_in take an array, the other operators a scalar."""

    field: AttributeField
    operator: AttributeOperator
    value: Scalar | list[Scalar]


ConditionRules = Annotated[
    EmailOpenedCondition | EmailClickedCondition | EmailRepliedCondition | LeadScoreCondition | ContactAttributeCondition,
    msgspec.Meta(description="The condition a condition step evaluates, by `type` (docs/engine.md)"),
]


class ActionConfig(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An action step's settings; which apply depends on action_type: add_tag / remove_tag `tag`,
    update_field `field` + `value`, adjust_score `delta`, exit `reason`, move_to_campaign `campaign_id`,
    notify `payload` (sent as is on the campaigns_actions channel), webhook `url` + `payload` + `on_failure`
    (POSTed through the signed webhook outbox, docs/webhooks.md)."""

    tag: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | Unset = UNSET
    field: WritableField | Unset = UNSET
    value: Scalar | None | Unset = UNSET
    delta: Annotated[int, msgspec.Meta(ge=-2_147_483_648, le=2_147_483_647)] | Unset = UNSET
    reason: Annotated[str, msgspec.Meta(max_length=64)] | Unset = UNSET
    campaign_id: UUID | Unset = UNSET
    payload: Annotated[dict[str, Any], msgspec.Meta(
        description="Free-form: what the notify action sends, or the webhook action's `data.payload` (at most 64 KB)")] | Unset = UNSET
    url: Annotated[str, msgspec.Meta(
        min_length=8, max_length=2048, pattern=r"^https?://[^/?#\s]+\S*$",
        description="webhook: where to POST (http or https; the host must be public unless the operator allows it)",
        examples=["https://hooks.example.com/crm"])] | Unset = UNSET
    on_failure: Annotated[WebhookOnFailure, msgspec.Meta(
        description="webhook: what a delivery that failed for good (3 days of retries, or a refused target) does: "
                    "continue (nothing, the default) or exit the enrollment if it is still live (exit_reason webhook_failed)")] | Unset = UNSET


class StepFields(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The fields a client sets on a step; an absent field is UNSET (not given)."""

    step_type: StepType | Unset = UNSET
    step_order: PositiveInt | Unset = UNSET
    step_name: ShortText | None | Unset = UNSET
    template_id: UUID | None | Unset = UNSET
    subject_line: Subject | None | Unset = UNSET
    email_content: LongText | None | Unset = UNSET
    wait_duration_value: PositiveInt | None | Unset = UNSET
    wait_duration_unit: WaitUnit | None | Unset = UNSET
    condition_rules: ConditionRules | None | Unset = UNSET
    email_step_id: UUID | None | Unset = UNSET
    true_next_step_id: UUID | None | Unset = UNSET
    false_next_step_id: UUID | None | Unset = UNSET
    action_type: ActionType | None | Unset = UNSET
    action_config: ActionConfig | Unset = UNSET
    next_step_id: UUID | None | Unset = UNSET


class StepCreate(StepFields, kw_only=True):
    """A new step. `after_step_id` links it in after that step (which then points to it)."""

    step_type: StepType
    after_step_id: UUID | Unset = UNSET


class StepUpdate(StepFields, kw_only=True):
    """The fields to change."""


class ReorderRequest(msgspec.Struct, forbid_unknown_fields=True):
    step_ids: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=20, description="Every step of the campaign, in the new order")]


class StepCounts(msgspec.Struct, kw_only=True):
    """A step's running counters (campaign_steps)."""

    emails_sent: int
    emails_delivered: int
    opens: int
    clicks: int
    replies: int
    unsubscribes: int
    bounces: int


class StepRead(StepCounts, kw_only=True):
    id: UUID
    campaign_id: UUID
    step_order: int
    step_name: str | None
    step_type: StepType
    template_id: UUID | None
    subject_line: str | None
    email_content: str | None
    wait_duration_value: int | None
    wait_duration_unit: WaitUnit | None
    condition_rules: ConditionRules | None
    email_step_id: UUID | None
    true_next_step_id: UUID | None
    false_next_step_id: UUID | None
    action_type: ActionType | None
    action_config: ActionConfig
    next_step_id: UUID | None
    created_at: Timestamp
    updated_at: Timestamp


class StepSaved(StepRead, kw_only=True):
    """A step as created or updated, with the warnings of the save-time Liquid check."""

    warnings: Warnings = msgspec.field(default_factory=list)
