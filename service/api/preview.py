"""A step's preview and test send under /api/campaigns/{id}/steps/{step_id}: the email as the worker
would compose it for one contact (or made-up data), and one real mail of it to a given address.

Both build the same row claim_outbox_batch gives the worker (contact fields; the variant's, else the
step's, else the template's subject and content; the variant's, else the sender account's, else the
campaign's sender) and run the worker's own Composer on it, so the context, the shorthand, the
unsubscribe footer, the text part derived from HTML and the render limits are the worker's. What
differs, on purpose: tracking is off (links are shown and sent as written, no open pixel), and the
unsubscribe link is an unsigned stand-in (PREVIEW_UNSUBSCRIBE_PATH) that unsubscribes nobody, since
the mail is not a real contact's. The test send is queued in campaigns.test_sends, which the worker
delivers beside the outbox (db/functions/57_test_sends.sql, service/worker/test_sends.py).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller
from litestar.params import FromPath, JSONBody

from service.api.common import DbDep, endpoint, not_found
from service.config import get_settings
from service.errors import TITLES, ApiError
from service.liquid import MESSAGE_CPU_SECONDS, SAMPLE_CONTEXT, Budget, RenderLimitError, preview_warnings
from service.schemas.preview import StepPreview, StepPreviewRequest, StepPreviewSample, StepTestSendQueued, StepTestSendRequest
from service.schemas.templates import TemplateWarning
from service.tracking.tokens import TokenSigner
from service.worker.compose import Composed, Composer
from service.worker.render import build_context

PREVIEW_UNSUBSCRIBE_PATH = "/unsubscribe/preview"
NO_CONTACT = UUID(int=0)
TEST_SUBJECT_PREFIX = "[Test] "
# Test sends per tenant per window; past it a 429 with Retry-After.
TEST_SEND_LIMIT = 20
TEST_SEND_WINDOW = "1 hour"
# What the worker takes from the request's row; ids, recipient and Message-ID come with the claim.
_NOT_STORED = ("message_id", "tenant_id", "campaign_id", "step_id", "contact_id", "to_email", "smtp_message_id", "step_type")
Q_ENQUEUE = """
    SELECT test_send_id, retry_after_seconds
    FROM campaigns.enqueue_test_send(%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s::interval)
"""

# The claim's row (52_outbox_claim.sql) for one step, variant and contact; RLS keeps it to the tenant.
Q_ROW = """
    SELECT s.step_type, s.tenant_id, s.campaign_id, s.id AS step_id, c.sender_account_id,
           c.name AS campaign_name, c.from_email AS campaign_from_email, c.from_name AS campaign_from_name,
           c.reply_to_email AS campaign_reply_to, c.unsubscribe_enabled, c.timezone AS campaign_timezone,
           sa.from_email AS sender_from_email, sa.from_name AS sender_from_name, sa.reply_to_email AS sender_reply_to,
           sa.smtp_host, sa.smtp_port, sa.smtp_security, sa.smtp_username, sa.smtp_password_env,
           v.id AS ab_variant_id, v.variant_name, v.sender_email AS variant_sender_email, v.sender_name AS variant_sender_name,
           coalesce(v.subject_line, s.subject_line, t.subject, '') AS subject_template,
           coalesce(v.email_content, s.email_content, t.html_content) AS html_template,
           CASE WHEN coalesce(v.email_content, s.email_content) IS NULL THEN t.text_content END AS text_template,
           ct.id AS contact_id, ct.email, ct.first_name, ct.last_name, ct.company, ct.job_title, ct.city, ct.state,
           ct.country, ct.timezone AS contact_timezone, ct.custom_fields, ct.score, ct.tags
    FROM campaigns.campaign_steps s
    JOIN campaigns.campaigns c ON c.tenant_id = s.tenant_id AND c.id = s.campaign_id
    LEFT JOIN campaigns.templates t ON t.tenant_id = s.tenant_id AND t.id = s.template_id
    LEFT JOIN campaigns.sender_accounts sa ON sa.tenant_id = c.tenant_id AND sa.id = c.sender_account_id
    LEFT JOIN (campaigns.ab_tests a JOIN campaigns.ab_test_variants v ON v.tenant_id = a.tenant_id AND v.ab_test_id = a.id)
           ON a.tenant_id = s.tenant_id AND a.step_id = s.id AND v.variant_name = %(variant)s
    LEFT JOIN campaigns.contacts ct ON ct.tenant_id = s.tenant_id AND ct.id = %(contact_id)s
    WHERE s.campaign_id = %(campaign_id)s AND s.id = %(step_id)s
"""


def _refuse(code: str, detail: str, key: str, source: str = "body") -> ApiError:
    return ApiError(422, code, TITLES.get(code, "Validation failed"), detail,
                    errors=[{"key": key, "message": detail, "source": source}])


async def message_row(db: DbDep, campaign_id: UUID, step_id: UUID, data: StepPreviewRequest, *,
                      sample_by_default: bool = False) -> dict[str, Any]:
    """The row the worker would compose for this step, variant and contact (or sample), or a 404/422."""
    has_contact, has_sample = data.contact_id is not msgspec.UNSET, data.sample is not msgspec.UNSET
    if has_contact == has_sample and not (sample_by_default and not has_contact):
        raise _refuse("VALIDATION_FAILED", "give exactly one of contact_id and sample", "contact_id")
    variant = data.variant if data.variant is not msgspec.UNSET else None
    cur = await db.conn.execute(Q_ROW, {"campaign_id": campaign_id, "step_id": step_id, "variant": variant,
                                        "contact_id": data.contact_id if has_contact else None})
    row = await cur.fetchone()
    if row is None:
        raise not_found("step", step_id)
    if row["step_type"] != "email":
        raise _refuse("VALIDATION_FAILED", f"a {row['step_type']} step sends no email", "step_id", "path")
    if variant is not None and row["ab_variant_id"] is None:
        raise _refuse("VALIDATION_FAILED", f"the step has no A/B variant {variant}", "variant")
    if has_contact:
        if row["contact_id"] is None:
            raise _refuse("REFERENCE_NOT_FOUND", f"contact {data.contact_id} does not exist", "contact_id")
    else:
        sample = data.sample if has_sample else None
        row.update(_sample_fields(sample))
    return row


def _sample_fields(sample: StepPreviewSample | None) -> dict[str, Any]:
    if sample is None:  # the save-time check's made-up contact
        contact = SAMPLE_CONTEXT["contact"]
        return {"contact_id": None, "custom_fields": {}, "contact_timezone": None,
                **{k: contact[k] for k in ("email", "first_name", "last_name", "company", "job_title", "city",
                                           "state", "country", "score", "tags")}}
    fields = msgspec.to_builtins(sample)
    fields["contact_timezone"] = fields.pop("timezone")
    return {"contact_id": None, **fields}


def prepare(row: dict[str, Any], to_email: str | None) -> dict[str, Any]:
    """The row as the Composer takes it: tracking off, the unsubscribe stand-in, ids for the MIME parts."""
    row = dict(row)
    row.update(message_id=uuid.uuid4(), contact_id=row.get("contact_id") or NO_CONTACT,
               to_email=to_email or row.get("email") or "", smtp_message_id=f"<preview-{uuid.uuid4()}@campaigns>",
               track_opens=False, track_clicks=False,
               unsubscribe_url=get_settings().public_url + PREVIEW_UNSUBSCRIBE_PATH)
    return row


def _composer() -> Composer:
    settings = get_settings()
    # The signer signs nothing here (tracking off, unsubscribe stand-in), but the Composer takes one.
    return Composer(settings.public_url, TokenSigner("preview: signs nothing"),
                    default_from=settings.smtp.default_from)


def compose(row: dict[str, Any]) -> Composed:
    """The worker's composition, within the worker's per-message render budget (in a thread)."""
    return _composer().compose(row, Budget(MESSAGE_CPU_SECONDS, wall_seconds=MESSAGE_CPU_SECONDS * 10))


async def compose_checked(row: dict[str, Any]) -> tuple[Composed, list[TemplateWarning]]:
    """Composed and warned about; a render over a limit (the worker would fail the message) is a 422."""
    try:
        composed = await asyncio.to_thread(compose, row)
    except RenderLimitError as exc:
        raise _refuse("TEMPLATE_LIMIT_EXCEEDED", f"render_limit: {exc.limit}: {exc}", "step_id", "path") from None
    from_name = row.get("variant_sender_name") or (row.get("sender_from_name") if row.get("sender_from_email") else None) \
        or row.get("campaign_from_name")
    ctx = build_context(row, sender_name=from_name, sender_email=composed.mail_from, unsubscribe_url=row["unsubscribe_url"])
    found = preview_warnings({"subject_line": row.get("subject_template"), "email_content": row.get("html_template"),
                              "text_content": row.get("text_template")}, ctx)
    return composed, [TemplateWarning(code=w.code, field=w.field, variable=w.variable, message=w.message) for w in found]


def _read(composed: Composed, row: dict[str, Any], warnings: list[TemplateWarning]) -> StepPreview:
    message = email.message_from_bytes(composed.data, policy=email.policy.default)
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    sender = message["From"].addresses[0]
    reply_to = message["Reply-To"]
    return StepPreview(subject=composed.subject, html=parts["text/html"], text=parts["text/plain"],
                       from_email=composed.mail_from, from_name=sender.display_name or None,
                       reply_to=str(reply_to) if reply_to else None, to_email=composed.rcpt or None,
                       variant=row.get("variant_name"), warnings=warnings)


class PreviewController(Controller):
    path = "/campaigns/{campaign_id:uuid}/steps/{step_id:uuid}"
    tags = ["steps"]

    @endpoint("POST", "/preview", operation_id="previewStep", status_code=200, errors=(404,),
              summary="Render an email step for a contact or made-up data (read-only)",
              description="Exactly one of contact_id and sample; variant names an A/B variant of the step. The subject, "
                          "HTML and text are the worker's for that contact, except that tracking is left out (links as "
                          "written, no open pixel) and the unsubscribe link is an inert stand-in. VALIDATION_FAILED for a "
                          "step that is not an email, an unknown variant or both/neither of contact_id and sample; "
                          "REFERENCE_NOT_FOUND for an unknown contact; TEMPLATE_LIMIT_EXCEEDED when the render goes over "
                          "a render limit (the worker would fail that message). Changes nothing.",
              request_example={"contact_id": "c0000000-0000-4000-8000-000000000001", "variant": "B"},
              response_example={"subject": "Hello Ada", "html": "<p>Hi Ada</p>", "text": "Hi Ada\n",
                                "from_email": "sales@example.com", "from_name": "Sales", "reply_to": None,
                                "to_email": "ada@example.com", "variant": "B",
                                "warnings": [{"code": "MISSING_VALUE", "field": "email_content", "variable": "company",
                                              "message": "'company' is empty for this contact"}]})
    async def preview(self, db: DbDep, campaign_id: FromPath[UUID], step_id: FromPath[UUID],
                      data: JSONBody[StepPreviewRequest]) -> StepPreview:
        row = prepare(await message_row(db, campaign_id, step_id, data), None)
        composed, warnings = await compose_checked(row)
        return _read(composed, row, warnings)


    @endpoint("POST", "/test-send", operation_id="testSendStep", status_code=202, errors=(404, 429),
              summary="Send one real test mail of an email step to an address",
              description="Rendered now like the preview (contact_id or sample, else the sample contact of the save-time "
                          "check), queued and sent by the worker to to_email with the subject prefixed \"[Test] \" and the "
                          "header X-Campaigns-Test: 1. Not a send of the campaign: no email_messages row, nothing in "
                          "analytics or step counters, no open or click tracking, an inert unsubscribe link, and no "
                          "suppression applies (neither the contact's nor to_email's). At most 20 per tenant per hour: "
                          "RATE_LIMITED (429) with Retry-After. Refusals as for the preview.",
              request_example={"to_email": "me@example.com", "contact_id": "c0000000-0000-4000-8000-000000000001"},
              response_example={"id": "01900000-0000-7000-8000-000000000001", "to_email": "me@example.com",
                                "status": "queued", "subject": "[Test] Hello Ada", "warnings": []})
    async def test_send(self, db: DbDep, campaign_id: FromPath[UUID], step_id: FromPath[UUID],
                        data: JSONBody[StepTestSendRequest]) -> StepTestSendQueued:
        row = prepare(await message_row(db, campaign_id, step_id, data, sample_by_default=True), data.to_email)
        row["subject_template"] = TEST_SUBJECT_PREFIX + (row.get("subject_template") or "")
        # Rendered now as well: a template over a render limit is refused here, not failed later.
        composed, warnings = await compose_checked(row)
        message = {key: value for key, value in row.items() if key not in _NOT_STORED} | {"is_test": True}
        cur = await db.conn.execute(Q_ENQUEUE, (
            campaign_id, step_id, row["contact_id"] if row["contact_id"] != NO_CONTACT else None,
            row.get("variant_name"), data.to_email, msgspec.json.encode(message).decode(),
            f"<test-{uuid.uuid4()}@campaigns>", TEST_SEND_LIMIT, TEST_SEND_WINDOW))
        queued = await cur.fetchone()
        if queued["test_send_id"] is None:
            seconds = queued["retry_after_seconds"]
            raise ApiError(429, "RATE_LIMITED", "Too many test sends", f"at most {TEST_SEND_LIMIT} test sends per "
                           f"{TEST_SEND_WINDOW}; retry in {seconds} s", headers={"Retry-After": str(seconds)})
        return StepTestSendQueued(id=queued["test_send_id"], to_email=data.to_email, status="queued",
                              subject=composed.subject, warnings=warnings)
