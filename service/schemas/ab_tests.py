"""Request and response Structs of the ab tests API (service/api/ab_tests.py)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec

from service.schemas.common import Email, LongText, ShortText, Timestamp
from service.schemas.templates import Warnings

Percent = Annotated[float, msgspec.Meta(gt=0, le=100)]
Confidence = Annotated[float, msgspec.Meta(gt=0, lt=100)]
Hours = Annotated[float, msgspec.Meta(ge=2, le=720)]
WinMetric = Literal["open_rate", "click_rate"]
AbTestStatus = Literal["draft", "running", "winner_deployed"]
IfNoWinner = Literal["send_control"]
# manual (a winner chosen by hand), significant (the test found one), no_winner (the control was sent)
Decision = Literal["manual", "significant", "no_winner"]


class VariantIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What this variant changes; a field left out keeps the step's own value."""

    subject_line: Annotated[str, msgspec.Meta(max_length=998)] | None = None
    email_content: LongText | None = None
    sender_name: ShortText | None = None
    sender_email: Email | None = None
    is_control: bool = False


class AbTestPut(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    variants: Annotated[list[VariantIn], msgspec.Meta(min_length=2, max_length=5)]
    test_name: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] = "A/B test"
    sample_percent: Percent = 20
    duration_hours: Hours = 4
    win_metric: WinMetric = "open_rate"
    confidence_threshold: Confidence = 95
    minimum_sample_size: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 100


class VariantRead(msgspec.Struct, kw_only=True):
    id: UUID
    variant_name: str
    is_control: bool
    subject_line: str | None
    email_content: str | None
    sender_name: str | None
    sender_email: str | None
    created_at: Timestamp


class VariantResult(msgspec.Struct, kw_only=True):
    variant_id: UUID
    variant_name: str
    is_control: bool
    sent: int
    delivered: int
    unique_opens: int
    unique_clicks: int
    open_rate: float
    click_rate: float
    confidence: float | None
    lift: float | None
    is_winner: bool | None


class AbTestRead(msgspec.Struct, kw_only=True):
    id: UUID
    campaign_id: UUID
    step_id: UUID
    test_name: str
    status: AbTestStatus
    sample_percent: float
    duration_hours: float
    win_metric: WinMetric
    confidence_threshold: float
    minimum_sample_size: int
    if_no_winner: IfNoWinner
    started_at: Timestamp | None
    decided_at: Timestamp | None
    decision: Decision | None
    winner_variant_id: UUID | None
    created_at: Timestamp
    updated_at: Timestamp
    variants: list[VariantRead]
    results: list[VariantResult]


class AbTestSaved(AbTestRead, kw_only=True):
    """The A/B test as set up, with the warnings of the save-time Liquid check of its variants."""

    warnings: Warnings = msgspec.field(default_factory=list)


class WinnerChoice(msgspec.Struct, forbid_unknown_fields=True):
    variant_id: UUID


class WinnerDeployed(msgspec.Struct):
    released: int
