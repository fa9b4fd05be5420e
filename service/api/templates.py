"""Email templates (Liquid): create, list, get, update, delete. The Liquid sources are checked at
save time (service/liquid.py), like those of steps and A/B variants (`check_liquid`, shared): a syntax
error, an unknown tag or filter, include/render or a render limit is a 422 and nothing is stored;
unknown variables come back as `warnings`."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller
from litestar.params import FromPath, JSONBody

from service.api.common import DbDep, Limit, Offset, encode, endpoint, not_found, one, page_query, patch_query
from service.api.examples import TEMPLATE, page
from service.errors import TITLES, ApiError
from service.liquid import TemplateRefused, check_fields
from service.schemas.templates import (
    TemplateCreate,
    TemplatePage,
    TemplateRead,
    TemplateSaved,
    TemplateUpdate,
    TemplateWarning,
)

LIQUID_REFUSALS = ("Liquid is checked at save: TEMPLATE_SYNTAX_ERROR (syntax, unknown tag), TEMPLATE_UNKNOWN_FILTER, "
                   "TEMPLATE_TAG_NOT_ALLOWED (include, render), TEMPLATE_LIMIT_EXCEEDED (a render limit: a literal loop "
                   "over 10,000 iterations, or a trial render with a sample contact going over one); unknown variables "
                   "come back as `warnings`.")


def check_liquid(fields: dict[str, object]) -> list[TemplateWarning]:
    """The save-time Liquid check of a request's sources (body key → value; non-strings are skipped):
    422 with the check's code for the first refused one, else the warnings of all of them."""
    try:
        found = check_fields({key: value for key, value in fields.items() if isinstance(value, str)})
    except TemplateRefused as exc:
        problem = exc.problem
        raise ApiError(422, problem.code, TITLES[problem.code], f"{problem.field}: {problem.message}", errors=[
            {"key": problem.field, "message": problem.message, "source": "body"}]) from None
    return [TemplateWarning(code=w.code, field=w.field, variable=w.variable, message=w.message) for w in found]


def _sources(data: TemplateCreate | TemplateUpdate) -> dict[str, object]:
    return {field: getattr(data, field) for field in ("subject", "html_content", "text_content")}


TEMPLATE_DOC = "to_jsonb(t) - 'tenant_id'"
Q_CREATE = f"""
    INSERT INTO campaigns.templates AS t (tenant_id, workspace_id, name, subject, html_content, text_content, created_by)
    SELECT campaigns.current_tenant_id(), r.workspace_id, r.name, coalesce(r.subject, ''), r.html_content, r.text_content,
           campaigns.current_user_id()
    FROM jsonb_populate_record(NULL::campaigns.templates, %s::jsonb) r
    RETURNING {TEMPLATE_DOC}
"""
# Only the fields present change (the ? tests); null clears.
Q_UPDATE = patch_query(table="campaigns.templates", alias="t", doc=TEMPLATE_DOC,
                       fields=dict.fromkeys(("name", "subject", "html_content", "text_content")))
Q_GET = f"SELECT {TEMPLATE_DOC} FROM campaigns.templates t WHERE t.id = %s"
Q_DELETE = "DELETE FROM campaigns.templates WHERE id = %s"
Q_LIST = page_query(source="campaigns.templates", where="true", order="x.created_at DESC, x.id", doc="to_jsonb(x) - 'tenant_id'")


class TemplateController(Controller):
    path = "/templates"
    tags = ["templates"]

    @endpoint("POST", "/", operation_id="createTemplate", summary="Create a Liquid template", errors=(422,),
              description="A template needs html_content or text_content. " + LIQUID_REFUSALS,
              request_example={k: TEMPLATE[k] for k in ("name", "subject", "html_content", "text_content")},
              response_example=TEMPLATE | {"warnings": []})
    async def create_template(self, db: DbDep, data: JSONBody[TemplateCreate]) -> TemplateSaved:
        warnings = check_liquid(_sources(data))
        saved = await one(db, Q_CREATE, (encode(data),), TemplateSaved, "template", "new")
        saved.warnings = warnings
        return saved

    @endpoint("GET", "/", operation_id="listTemplates", summary="List templates",
              query_example={"limit": 20, "offset": 0}, response_example=page(TEMPLATE))
    async def list_templates(self, db: DbDep, limit: Limit = 20, offset: Offset = 0) -> TemplatePage:
        return await db.doc(Q_LIST, {"limit": limit, "offset": offset}, TemplatePage)  # type: ignore[return-value]

    @endpoint("GET", "/{template_id:uuid}", operation_id="getTemplate", summary="Get a template", response_example=TEMPLATE)
    async def get_template(self, db: DbDep, template_id: FromPath[UUID]) -> TemplateRead:
        return await one(db, Q_GET, (template_id,), TemplateRead, "template", template_id)

    @endpoint("PATCH", "/{template_id:uuid}", operation_id="updateTemplate", summary="Update a template", errors=(422,),
              description=LIQUID_REFUSALS,
              request_example={"subject": "Welcome aboard, {{ first_name | default: \"friend\" }}"},
              response_example=TEMPLATE | {"subject": "Welcome aboard, {{ first_name | default: \"friend\" }}", "warnings": []})
    async def update_template(self, db: DbDep, template_id: FromPath[UUID], data: JSONBody[TemplateUpdate]) -> TemplateSaved:
        warnings = check_liquid(_sources(data))
        saved = await one(db, Q_UPDATE, {"c": encode(data), "id": template_id}, TemplateSaved, "template", template_id)
        saved.warnings = warnings
        return saved

    @endpoint("DELETE", "/{template_id:uuid}", operation_id="deleteTemplate", summary="Delete a template", errors=(409,),
              description="A template a step uses cannot be deleted (IN_USE).")
    async def delete_template(self, db: DbDep, template_id: FromPath[UUID]) -> None:
        if await db.execute(Q_DELETE, (template_id,)) == 0:
            raise not_found("template", template_id)
