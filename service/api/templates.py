"""Email templates (Liquid): create, list, get, update, delete. The Liquid sources are validated at
save time (service/liquid.py): a syntax error or an unknown filter is a 422."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller
from litestar.params import FromPath, JSONBody

from service.api.common import DbDep, Limit, Offset, encode, endpoint, not_found, one, page_query, patch_query
from service.api.examples import TEMPLATE, page
from service.errors import ApiError
from service.liquid import check_template
from service.schemas.templates import TemplateCreate, TemplatePage, TemplateRead, TemplateUpdate


def validate_liquid(data: TemplateCreate | TemplateUpdate) -> None:
    for field in ("subject", "html_content", "text_content"):
        value = getattr(data, field)
        if isinstance(value, str) and (problem := check_template(field, value)):
            raise ApiError(422, problem.code, "The template is not valid Liquid", problem.message, errors=[
                {"key": problem.field, "message": problem.message, "source": "body"}])


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
              description="Subject and bodies are parsed as Liquid: a syntax error is TEMPLATE_SYNTAX_ERROR, an unknown "
                          "filter TEMPLATE_UNKNOWN_FILTER. A template needs html_content or text_content.",
              request_example={k: TEMPLATE[k] for k in ("name", "subject", "html_content", "text_content")},
              response_example=TEMPLATE)
    async def create_template(self, db: DbDep, data: JSONBody[TemplateCreate]) -> TemplateRead:
        validate_liquid(data)
        return await one(db, Q_CREATE, (encode(data),), TemplateRead, "template", "new")

    @endpoint("GET", "/", operation_id="listTemplates", summary="List templates",
              query_example={"limit": 20, "offset": 0}, response_example=page(TEMPLATE))
    async def list_templates(self, db: DbDep, limit: Limit = 20, offset: Offset = 0) -> TemplatePage:
        return await db.doc(Q_LIST, {"limit": limit, "offset": offset}, TemplatePage)  # type: ignore[return-value]

    @endpoint("GET", "/{template_id:uuid}", operation_id="getTemplate", summary="Get a template", response_example=TEMPLATE)
    async def get_template(self, db: DbDep, template_id: FromPath[UUID]) -> TemplateRead:
        return await one(db, Q_GET, (template_id,), TemplateRead, "template", template_id)

    @endpoint("PATCH", "/{template_id:uuid}", operation_id="updateTemplate", summary="Update a template", errors=(422,),
              request_example={"subject": "Welcome aboard, {{ first_name | default: \"friend\" }}"},
              response_example=TEMPLATE | {"subject": "Welcome aboard, {{ first_name | default: \"friend\" }}"})
    async def update_template(self, db: DbDep, template_id: FromPath[UUID], data: JSONBody[TemplateUpdate]) -> TemplateRead:
        validate_liquid(data)
        return await one(db, Q_UPDATE, {"c": encode(data), "id": template_id}, TemplateRead, "template", template_id)

    @endpoint("DELETE", "/{template_id:uuid}", operation_id="deleteTemplate", summary="Delete a template", errors=(409,),
              description="A template a step uses cannot be deleted (IN_USE).")
    async def delete_template(self, db: DbDep, template_id: FromPath[UUID]) -> None:
        if await db.execute(Q_DELETE, (template_id,)) == 0:
            raise not_found("template", template_id)
