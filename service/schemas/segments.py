"""Request and response Structs of the segments API (service/api/segments.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from service.schemas.contacts import ContactStatus
from service.schemas.common import Timestamp, UNSET, LongText, Name, Pagination, Unset

SegmentType = Literal["static", "dynamic"]
Match = Literal["all", "any"]
SegmentOperator = Literal["equals", "not_equals", "contains", "not_contains", "starts_with", "in", "not_in", "is_empty",
                          "is_not_empty", "greater_than", "less_than", "between", "within_last_days"]
ExclusionName = Literal["in_active_campaign", "received_email_last_24h", "suppressed"]

# The rule language is checked where it is compiled, by campaigns.compile_segment_rules (422
# INVALID_SEGMENT_RULES with the path of the problem), so the service passes the document through; an
# item of a list is a condition when it has `field`, else a nested group, which a msgspec union of two
# objects cannot tell apart. The document still describes it, as these components.
_REF = "#/components/schemas/{}".format
_LIST = {"type": "array", "maxItems": 100}
SEGMENT_RULE_SCHEMAS: dict[str, dict[str, Any]] = {
    "SegmentCondition": {
        "title": "SegmentCondition",
        "description": "A test of one contact field (docs/api.md lists the fields and what each operator takes)",
        "type": "object",
        "properties": {
            "field": {"type": "string", "minLength": 1, "description": "A standard field, tags, score, created_at, "
                      "updated_at, or custom.<name>"},
            "operator": {"$ref": _REF("SegmentOperator")},
            "value": {"description": "A string, number or boolean; an array for in / not_in; [min, max] for between; "
                      "a number of days for within_last_days; absent for is_empty / is_not_empty"},
            "dataType": {"description": "Accepted and ignored (older clients send it)"},
        },
        "required": ["field", "operator"],
        "additionalProperties": False,
    },
    "SegmentGroup": {
        "title": "SegmentGroup",
        "description": "Conditions and nested groups combined by match (at most 5 levels deep)",
        "type": "object",
        "properties": {
            "match": {"$ref": _REF("Match")},
            "conditions": {**_LIST, "items": {"oneOf": [{"$ref": _REF("SegmentCondition")}, {"$ref": _REF("SegmentGroup")}]}},
            "groups": {**_LIST, "items": {"$ref": _REF("SegmentGroup")}},
        },
        "additionalProperties": False,
    },
    "SegmentRules": {
        "title": "SegmentRules",
        "description": "A dynamic segment's rules: a group, plus exclusions (a contact matching any is left out)",
        "type": "object",
        "properties": {
            "match": {"$ref": _REF("Match")},
            "conditions": {**_LIST, "items": {"oneOf": [{"$ref": _REF("SegmentCondition")}, {"$ref": _REF("SegmentGroup")}]}},
            "groups": {**_LIST, "items": {"$ref": _REF("SegmentGroup")}},
            "exclusions": {**_LIST, "items": {"oneOf": [{"$ref": _REF("SegmentCondition")}, {"$ref": _REF("SegmentGroup")},
                                                         {"$ref": _REF("ExclusionName")}]}},
        },
        "additionalProperties": False,
    },
}
Rules = Annotated[dict[str, Any], msgspec.Meta(extra_json_schema={"$ref": _REF("SegmentRules")})]
ContactIds = Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=10_000)]


class SegmentCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    segment_type: SegmentType = "static"
    rules: Rules | None = None
    description: LongText | None = None
    workspace_id: UUID | None = None


class SegmentUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | Unset = UNSET
    description: LongText | None | Unset = UNSET
    is_active: bool | Unset = UNSET
    rules: Rules | Unset = UNSET


class SegmentRead(msgspec.Struct, kw_only=True):
    id: UUID
    workspace_id: UUID | None
    name: str
    description: str | None
    segment_type: SegmentType
    rules: Rules | None
    contact_count: int
    last_recalculated_at: Timestamp | None
    is_active: bool
    created_by: UUID | None
    created_at: Timestamp
    updated_at: Timestamp


class SegmentPage(msgspec.Struct):
    items: list[SegmentRead]
    pagination: Pagination


class PreviewRequest(msgspec.Struct, forbid_unknown_fields=True):
    rules: Rules
    sample: Annotated[int, msgspec.Meta(ge=0, le=100)] = 10


class PreviewContact(msgspec.Struct):
    id: UUID
    email: str
    status: ContactStatus


class PreviewResult(msgspec.Struct):
    contact_count: int
    sample: list[PreviewContact]


class RefreshResult(msgspec.Struct):
    added: int
    removed: int
    contact_count: int


class MembersRequest(msgspec.Struct, forbid_unknown_fields=True):
    contact_ids: ContactIds
