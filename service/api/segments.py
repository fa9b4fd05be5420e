"""Segments: static (members by hand) and dynamic (rules compiled to SQL by campaigns.compile_segment_rules,
materialised into segment_contacts by campaigns.refresh_segment, which launch reads).

The rule language is documented in docs/api.md and db/functions/72_segments.sql.
"""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Controller
from litestar.params import FromPath, FromQuery, JSONBody

from service.api.common import DbDep, Limit, Offset, encode, endpoint, not_found, one, page_query
from service.api.examples import CONTACT, CONTACT_ID, SEGMENT, SEGMENT_RULES, page
from service.schemas.contacts import ContactPage
from service.schemas.segments import (
    MembersRequest,
    PreviewRequest,
    PreviewResult,
    RefreshResult,
    SegmentCreate,
    SegmentPage,
    SegmentRead,
    SegmentType,
    SegmentUpdate,
)

SEGMENT_DOC = "to_jsonb(s) - 'tenant_id'"
Q_CREATE = f"SELECT {SEGMENT_DOC} FROM campaigns.create_segment(%s, %s, %s::jsonb, %s, %s) s"
Q_UPDATE = f"SELECT {SEGMENT_DOC} FROM campaigns.update_segment(%s, %s::jsonb) s"
Q_GET = f"SELECT {SEGMENT_DOC} FROM campaigns.segments s WHERE s.id = %s"
Q_DELETE = "DELETE FROM campaigns.segments WHERE id = %s"
Q_PREVIEW = "SELECT jsonb_build_object('contact_count', p.contact_count, 'sample', p.sample) FROM campaigns.preview_segment(%s::jsonb, p_sample => %s) p"
Q_REFRESH = "SELECT to_jsonb(r) FROM campaigns.refresh_segment(%s) r"
Q_ADD = "SELECT to_jsonb(r) FROM campaigns.add_segment_contacts(%s, %s) r"
Q_REMOVE = "SELECT to_jsonb(r) FROM campaigns.remove_segment_contacts(%s, %s) r"
Q_LIST = page_query(
    source="campaigns.segments",
    where="(%(segment_type)s::text IS NULL OR x.segment_type = %(segment_type)s::text)",
    order="x.created_at DESC, x.id",
    doc="to_jsonb(x) - 'tenant_id'",
)
Q_MEMBERS = page_query(
    source="""(SELECT c.*, sc.segment_id, sc.added_at, sc.added_via FROM campaigns.segment_contacts sc
               JOIN campaigns.contacts c ON c.tenant_id = sc.tenant_id AND c.id = sc.contact_id)""",
    where="x.segment_id = %(segment_id)s",
    order="x.added_at, x.id",
    doc="to_jsonb(x) - 'tenant_id' - 'consecutive_soft_bounces' - 'segment_id' - 'added_at' - 'added_via'",
    guard="EXISTS (SELECT FROM campaigns.segments s WHERE s.id = %(segment_id)s)",
)


class SegmentController(Controller):
    path = "/segments"
    tags = ["segments"]

    @endpoint("POST", "/", operation_id="createSegment", summary="Create a static or dynamic segment", errors=(422,),
              description="A dynamic segment's rules are validated (INVALID_SEGMENT_RULES with the path of the problem) "
                          "and its membership is materialised at once; a static segment takes no rules.",
              request_example={"name": "UK SaaS leads", "segment_type": "dynamic", "rules": SEGMENT_RULES},
              response_example=SEGMENT)
    async def create_segment(self, db: DbDep, data: JSONBody[SegmentCreate]) -> SegmentRead:
        rules = msgspec.json.encode(data.rules).decode() if data.rules is not None else None
        return await one(db, Q_CREATE, (data.name, data.segment_type, rules, data.description, data.workspace_id),
                         SegmentRead, "segment", "new")

    @endpoint("GET", "/", operation_id="listSegments", summary="List segments",
              query_example={"segment_type": "dynamic", "limit": 20, "offset": 0}, response_example=page(SEGMENT))
    async def list_segments(self, db: DbDep, segment_type: FromQuery[SegmentType | None] = None, limit: Limit = 20, offset: Offset = 0) -> SegmentPage:
        return await db.doc(Q_LIST, {"segment_type": segment_type, "limit": limit, "offset": offset}, SegmentPage)  # type: ignore[return-value]

    @endpoint("POST", "/preview", operation_id="previewSegment", summary="Count the contacts some rules match",
              errors=(422,), status_code=200,
              description="Validates the rules and counts the matching contacts now, with a sample; changes nothing.",
              request_example={"rules": SEGMENT_RULES, "sample": 5},
              response_example={"contact_count": 1250, "sample": [{"id": CONTACT_ID, "email": "ada@example.com", "status": "active"}]})
    async def preview_segment(self, db: DbDep, data: JSONBody[PreviewRequest]) -> PreviewResult:
        return await one(db, Q_PREVIEW, (msgspec.json.encode(data.rules).decode(), data.sample), PreviewResult, "preview", "")

    @endpoint("GET", "/{segment_id:uuid}", operation_id="getSegment", summary="Get a segment", response_example=SEGMENT)
    async def get_segment(self, db: DbDep, segment_id: FromPath[UUID]) -> SegmentRead:
        return await one(db, Q_GET, (segment_id,), SegmentRead, "segment", segment_id)

    @endpoint("PATCH", "/{segment_id:uuid}", operation_id="updateSegment", summary="Update a segment", errors=(422,),
              description="Name, description, is_active, and (dynamic segments) rules, which are validated and "
                          "materialised at once. The type never changes.",
              request_example={"name": "UK and IE SaaS leads"}, response_example=SEGMENT | {"name": "UK and IE SaaS leads"})
    async def update_segment(self, db: DbDep, segment_id: FromPath[UUID], data: JSONBody[SegmentUpdate]) -> SegmentRead:
        return await one(db, Q_UPDATE, (segment_id, encode(data)), SegmentRead, "segment", segment_id)

    @endpoint("DELETE", "/{segment_id:uuid}", operation_id="deleteSegment", summary="Delete a segment", errors=(409,),
              description="A segment a campaign uses cannot be deleted (IN_USE).")
    async def delete_segment(self, db: DbDep, segment_id: FromPath[UUID]) -> None:
        if await db.execute(Q_DELETE, (segment_id,)) == 0:
            raise not_found("segment", segment_id)

    @endpoint("POST", "/{segment_id:uuid}/refresh", operation_id="refreshSegment", summary="Re-materialise a segment",
              status_code=200,
              description="A dynamic segment's membership is recomputed from its rules (added, removed); a static one is recounted.",
              response_example={"added": 50, "removed": 20, "contact_count": 1280})
    async def refresh_segment(self, db: DbDep, segment_id: FromPath[UUID]) -> RefreshResult:
        return await one(db, Q_REFRESH, (segment_id,), RefreshResult, "segment", segment_id)

    @endpoint("GET", "/{segment_id:uuid}/contacts", operation_id="listSegmentContacts", summary="List a segment's members",
              query_example={"limit": 20, "offset": 0}, response_example=page(CONTACT))
    async def list_members(self, db: DbDep, segment_id: FromPath[UUID], limit: Limit = 20, offset: Offset = 0) -> ContactPage:
        return await one(db, Q_MEMBERS, {"segment_id": segment_id, "limit": limit, "offset": offset}, ContactPage, "segment", segment_id)

    @endpoint("POST", "/{segment_id:uuid}/contacts", operation_id="addSegmentContacts", summary="Add contacts to a static segment",
              errors=(409,), status_code=200,
              description="All or nothing: an id that is not one of the tenant's contacts is NOT_FOUND; a dynamic "
                          "segment is SEGMENT_IS_DYNAMIC.",
              request_example={"contact_ids": [CONTACT_ID]}, response_example={"added": 1, "removed": 0, "contact_count": 1})
    async def add_members(self, db: DbDep, segment_id: FromPath[UUID], data: JSONBody[MembersRequest]) -> RefreshResult:
        return await one(db, Q_ADD, (segment_id, data.contact_ids), RefreshResult, "segment", segment_id)

    @endpoint("POST", "/{segment_id:uuid}/contacts/remove", operation_id="removeSegmentContacts",
              summary="Remove contacts from a static segment", errors=(409,), status_code=200,
              description="Ids that are not members are ignored; enrollments already made are not touched.",
              request_example={"contact_ids": [CONTACT_ID]}, response_example={"added": 0, "removed": 1, "contact_count": 0})
    async def remove_members(self, db: DbDep, segment_id: FromPath[UUID], data: JSONBody[MembersRequest]) -> RefreshResult:
        return await one(db, Q_REMOVE, (segment_id, data.contact_ids), RefreshResult, "segment", segment_id)
