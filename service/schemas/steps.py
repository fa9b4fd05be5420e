"""Request and response Structs of the steps API (service/api/steps.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from service.schemas.common import UNSET, LongText, PositiveInt, ShortText, Unset
from service.schemas.templates import Warnings

StepType = Literal["email", "wait", "condition", "action"]
WaitUnit = Literal["minutes", "hours", "days", "weeks"]
ActionType = Literal["add_tag", "remove_tag", "update_field", "adjust_score", "exit", "move_to_campaign", "notify"]
Subject = Annotated[str, msgspec.Meta(max_length=998)]
Rules = Annotated[dict[str, Any], msgspec.Meta(description="A condition rule: {type: email_opened|email_clicked|email_replied|lead_score|contact_attribute, …} (docs/engine.md)")]
ActionConfig = Annotated[dict[str, Any], msgspec.Meta(description="The action's settings, e.g. {\"tag\": \"hot\"} (docs/engine.md)")]


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
    condition_rules: Rules | None | Unset = UNSET
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
    condition_rules: dict[str, object] | None
    email_step_id: UUID | None
    true_next_step_id: UUID | None
    false_next_step_id: UUID | None
    action_type: str | None
    action_config: dict[str, object]
    next_step_id: UUID | None
    created_at: datetime
    updated_at: datetime


class StepSaved(StepRead, kw_only=True):
    """A step as created or updated, with the warnings of the save-time Liquid check."""

    warnings: Warnings = msgspec.field(default_factory=list)
