"""Liquid, in one place: the filters beyond standard Liquid, the shorthand fallbacks of older
templates, the variables a template sees, the render limits, and the save-time check. The API checks
steps, A/B variants and templates with `check_template` / `check_fields`; the outbox worker renders
with `render_template` on `TEXT_ENV` / `HTML_ENV` after `translate_shorthand`. Both read the same
filters, tags, shorthand rule and limits, so what validates renders as validated.

- Filters: Liquid's standard ones plus titlecase, currency, percentage, number_with_delimiter and
  phone_format (phoneFormat).
- Tags: Liquid's standard ones except `include` and `render` (there are no partials to load; a
  template that names one is refused, TEMPLATE_TAG_NOT_ALLOWED).
- Shorthand: `{{firstName|there}}` and `{{company|"Your company"}}` mean `| default: "…"`. A quoted
  fallback may have any spacing; a bare word is a fallback only when written against the pipe with no
  spaces and is not a filter name. `{{ name | word }}` with spaces is Liquid filter syntax, so an
  unknown `word` there is refused at save time.
- Limits (one tenant's template must not stall everyone's sending; docs/worker.md): per rendered part
  LOOP_ITERATIONS loop iterations in all, OUTPUT_BYTES of output (captures included), CONTEXT_DEPTH
  nested scopes, LOCAL_NAMESPACE_BYTES of assigned variables; every filter result at most OUTPUT_BYTES
  of text, SEQUENCE_ITEMS items or INTEGER_BITS bits, checked before the filters that could allocate
  more (append, prepend, replace, join, split); and per message a time `Budget` that the render loop
  itself checks (each loop iteration, filter call and assignment), since a thread cannot be killed.
  Going over any of them raises RenderLimitError.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from io import StringIO
from typing import Any, Iterator, Mapping

from liquid import BoundTemplate, Environment, RenderContext
from liquid.builtin.expressions import LoopExpression
from liquid.builtin.expressions.primitive import IntegerLiteral, RangeLiteral
from liquid.builtin.illegal import Illegal
from liquid.builtin.tags.for_tag import ForNode, ForTag
from liquid.builtin.tags.tablerow_tag import TablerowNode, TablerowTag
from liquid.exceptions import (
    ContextDepthError,
    LiquidError,
    LiquidSyntaxError,
    LocalNamespaceLimitError,
    LoopIterationLimitError,
    OutputStreamLimitError,
    ResourceLimitError,
)
from liquid.stream import TokenStream

# -- limits -------------------------------------------------------------------------------------------

LOOP_ITERATIONS = 10_000            # all loops of one part together
OUTPUT_BYTES = 1_000_000            # one part's output (UTF-8), and any one string a filter makes
CONTEXT_DEPTH = 16                  # nested scopes (loops, blocks)
LOCAL_NAMESPACE_BYTES = 1_000_000   # what {% assign %} / {% capture %} hold (sys.getsizeof)
SEQUENCE_ITEMS = 100_000            # items of a list a filter makes or takes; ranges: LOOP_ITERATIONS
INTEGER_BITS = 4096                 # an integer a filter makes (times / plus on huge numbers)
MESSAGE_CPU_SECONDS = 1.0           # one message's render time, all parts (the worker's budget)
INLINE_OUTPUT_BYTES = 200_000       # more rendered text than this is finished (MIME, links) off the event loop
CHECK_CPU_SECONDS = 0.25            # the trial render at save time


class RenderLimitError(Exception):
    """A render went over a limit: the message fails with reason `render_limit` (str: which limit)."""

    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(detail)
        self.limit = limit


class SliceExceeded(Exception):
    """An inline render (on the event loop) used up its slice: finish it in a thread instead."""


class Budget:
    """A render's time budget, checked from inside rendering (`check`). `inline`: wall time of a short
    slice on the event loop, whose end raises SliceExceeded; otherwise CPU time of the rendering
    thread (plus, with `wall_seconds`, a cap on wall time for a machine too busy to give it that CPU),
    whose end raises RenderLimitError. Create it in the thread that renders."""

    __slots__ = ("seconds", "inline", "clock", "deadline", "wall_deadline")

    def __init__(self, seconds: float, *, inline: bool = False, wall_seconds: float | None = None) -> None:
        self.seconds = seconds
        self.inline = inline
        self.clock = time.perf_counter if inline else time.thread_time
        self.deadline = self.clock() + seconds
        self.wall_deadline = time.perf_counter() + wall_seconds if wall_seconds is not None else None

    def check(self) -> None:
        if self.clock() > self.deadline:
            if self.inline:
                raise SliceExceeded()
            raise RenderLimitError("render_time", f"render time over {self.seconds:g} s of CPU")
        if self.wall_deadline is not None and time.perf_counter() > self.wall_deadline:
            raise RenderLimitError("render_time", f"render time over {self.seconds:g} s of CPU "
                                                  "(the wall-clock cap ran out first)")

    def check_output(self, size: int) -> None:
        """After rendering: what is left to do (link rewriting, encoding) grows with the output, so
        an inline slice hands a big message over to a thread."""
        self.check()
        if self.inline and size > INLINE_OUTPUT_BYTES:
            raise SliceExceeded()


class _Unlimited(Budget):
    __slots__ = ()

    def __init__(self) -> None:
        self.seconds, self.inline, self.clock = float("inf"), False, time.perf_counter
        self.deadline, self.wall_deadline = float("inf"), None

    def check(self) -> None:
        return None


UNLIMITED = _Unlimited()


def _refuse(limit: str, detail: str) -> RenderLimitError:
    return RenderLimitError(limit, detail)


def _size(value: Any) -> int:
    """Items of a range (never materialised) or a list."""
    if isinstance(value, range):
        try:
            return len(value)
        except OverflowError:
            return 1 << 63
    return len(value)


def _check_input(value: Any) -> None:
    if isinstance(value, range):
        if _size(value) > LOOP_ITERATIONS:
            raise _refuse("sequence_size", f"a range of more than {LOOP_ITERATIONS} numbers")
    elif isinstance(value, (list, tuple)) and len(value) > SEQUENCE_ITEMS:
        raise _refuse("sequence_size", f"a list of more than {SEQUENCE_ITEMS} items")


def _check_result(name: str, value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > OUTPUT_BYTES:
            raise _refuse("string_size", f"filter {name} made a string over {OUTPUT_BYTES} characters")
    elif isinstance(value, (list, tuple)):
        if len(value) > SEQUENCE_ITEMS:
            raise _refuse("sequence_size", f"filter {name} made a list of more than {SEQUENCE_ITEMS} items")
        if sum(len(item) for item in value if isinstance(item, str)) > OUTPUT_BYTES:
            raise _refuse("string_size", f"filter {name} made a list of over {OUTPUT_BYTES} characters")
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > INTEGER_BITS:
        raise _refuse("number_size", f"filter {name} made an integer over {INTEGER_BITS} bits")
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _precheck(name: str, left: Any, args: tuple) -> None:
    """Before the filters whose result could be far bigger than their inputs (a string doubled by
    append, a replace or join that multiplies): refuse what would go over a limit, unallocated."""
    size = 0
    if name in ("append", "prepend") and args:
        size = len(_text(left)) + len(_text(args[0]))
    elif name == "replace" and args:
        text, old = _text(left), _text(args[0])
        new = _text(args[1]) if len(args) > 1 else ""
        size = len(text) + text.count(old) * (len(new) - len(old))
    elif name == "join" and isinstance(left, (list, tuple)):
        separator = _text(args[0]) if args else " "
        size = sum(len(item) if isinstance(item, str) else 24 for item in left) + len(separator) * max(len(left) - 1, 0)
    elif name == "split" and args:
        text, separator = _text(left), _text(args[0])
        if (len(text) if not separator else text.count(separator) + 1) > SEQUENCE_ITEMS:
            raise _refuse("sequence_size", f"filter split would make a list of more than {SEQUENCE_ITEMS} items")
    if size > OUTPUT_BYTES:
        raise _refuse("string_size", f"filter {name} would make a string over {OUTPUT_BYTES} characters")


class _Output(StringIO):
    """An output buffer that refuses more than `limit` UTF-8 bytes. (No time check here: whatever
    writes many times runs in a loop or through filters, which check it.)"""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit, self.size = limit, 0

    def write(self, text: str) -> int:
        size = self.size + (len(text) if text.isascii() else len(text.encode("utf-8")))
        if size > self.limit:
            raise _refuse("output_size", f"output over {OUTPUT_BYTES} bytes")
        self.size = size
        return _string_write(self, text)


_string_write = StringIO.write


def _ticking(items: Iterator[Any], budget: Budget) -> Iterator[Any]:
    for item in items:
        budget.check()
        yield item


class LimitedContext(RenderContext):
    """A render context that counts every loop iteration of the render, bounds filters and checks
    the time budget; python-liquid's own limits (depth, namespace, nested loops) apply as well."""

    __slots__ = ("budget", "iterations")

    def __init__(self, *args: Any, budget: Budget | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget or UNLIMITED
        self.iterations = 0

    def copy(self, *args: Any, **kwargs: Any) -> RenderContext:
        ctx = super().copy(*args, **kwargs)
        ctx.budget = self.budget  # type: ignore[attr-defined]
        return ctx

    @contextmanager
    def loop(self, namespace: Mapping[str, object], forloop: Any) -> Iterator[RenderContext]:
        self.iterations += forloop.length
        if self.iterations > LOOP_ITERATIONS:
            raise _refuse("loop_iterations", f"loops over {LOOP_ITERATIONS} iterations")
        self.budget.check()
        forloop.it = _ticking(forloop.it, self.budget)
        with super().loop(namespace, forloop) as ctx:
            yield ctx

    def assign(self, key: str, val: Any) -> None:
        self.budget.check()
        super().assign(key, val)

    def get_buffer(self, buf: Any = None) -> StringIO:
        carry = buf.size if isinstance(buf, _Output) else 0
        return _Output(OUTPUT_BYTES - carry)

    def filter(self, name: str, token: Any) -> Any:  # noqa: A003
        func = super().filter(name, token)
        budget = self.budget

        def bounded(left: Any, *args: Any, **kwargs: Any) -> Any:
            budget.check()
            _check_input(left)
            for arg in args:
                _check_input(arg)
            _precheck(name, left, args)
            return _check_result(name, func(left, *args, **kwargs))
        return bounded


class _LimitedTemplate(BoundTemplate):
    context_class = LimitedContext


def _refuse_reversed_huge(node: Any, context: RenderContext) -> None:
    """`reversed` lists the whole iterable before the loop starts (and before any loop limit)."""
    expression: LoopExpression = node.expression
    if expression.reversed:
        iterable = expression.iterable.evaluate(context)
        if isinstance(iterable, range) and _size(iterable) > LOOP_ITERATIONS:
            raise _refuse("loop_iterations", f"loops over {LOOP_ITERATIONS} iterations")


class _ForNode(ForNode):
    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: Any) -> int:
        _refuse_reversed_huge(self, context)
        return super().render_to_output(context, buffer)


class _TablerowNode(TablerowNode):
    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: Any) -> int:
        _refuse_reversed_huge(self, context)
        return super().render_to_output(context, buffer)


class _ForTag(ForTag):
    node_class = _ForNode


class _TablerowTag(TablerowTag):
    node_class = _TablerowNode


class TagNotAllowedError(LiquidSyntaxError):
    """include / render: there are no partials, and a partial could recurse."""


class _Refused(Illegal):
    def __init__(self, env: Environment, name: str) -> None:
        super().__init__(env)
        self.name = name

    def parse(self, stream: TokenStream) -> Any:
        token = stream.current
        raise TagNotAllowedError(f"the {self.name} tag is not allowed (templates cannot load other templates)",
                                 token=token)


class LimitedEnvironment(Environment):
    context_depth_limit = CONTEXT_DEPTH
    loop_iteration_limit = LOOP_ITERATIONS
    local_namespace_limit = LOCAL_NAMESPACE_BYTES
    output_stream_limit = OUTPUT_BYTES
    template_class = _LimitedTemplate


# What python-liquid's own limit errors mean, for RenderLimitError.
_LIQUID_LIMITS: tuple[tuple[type[ResourceLimitError], str, str], ...] = (
    (LoopIterationLimitError, "loop_iterations", f"loops over {LOOP_ITERATIONS} iterations"),
    (OutputStreamLimitError, "output_size", f"output over {OUTPUT_BYTES} bytes"),
    (ContextDepthError, "context_depth", f"more than {CONTEXT_DEPTH} nested scopes"),
    (LocalNamespaceLimitError, "local_namespace", f"assigned variables over {LOCAL_NAMESPACE_BYTES} bytes"),
)


def limit_error(exc: ResourceLimitError) -> RenderLimitError:
    for kind, limit, detail in _LIQUID_LIMITS:
        if isinstance(exc, kind):
            return RenderLimitError(limit, detail)
    return RenderLimitError("resource", str(exc).splitlines()[0])


def render_template(template: BoundTemplate, ctx: Mapping[str, Any], budget: Budget | None = None) -> str:
    """One part, within the limits: RenderLimitError past one, SliceExceeded past an inline slice;
    any other error of the template propagates as python-liquid raised it."""
    context = LimitedContext(template, globals=template.make_globals(ctx), budget=budget)
    buffer = _Output(OUTPUT_BYTES)
    try:
        template.render_with_context(context, buffer)
    except ResourceLimitError as exc:
        raise limit_error(exc) from None
    return buffer.getvalue()


# -- filters beyond standard Liquid ------------------------------------------------------------------


def _titlecase(value: Any) -> str:
    return " ".join(w[:1].upper() + w[1:].lower() for w in str(value if value is not None else "").split(" "))


def _number(value: Any) -> Decimal | None:
    """A number of a sane size (an exponent like 1e999999999 would format as a billion digits)."""
    try:
        number = Decimal(str(value))
    except Exception:  # noqa: BLE001 - not a number
        return None
    if not number.is_finite() or abs(number.adjusted()) > 100:
        return None
    return number


def _currency(value: Any, code: str = "USD") -> str:
    amount = _number(value)
    if amount is None:  # a non-number renders as given
        return "" if value is None else str(value)
    symbol = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}.get(str(code).upper())
    text = f"{amount:,.2f}"
    return f"{symbol}{text}" if symbol else f"{text} {code}"


def _phone_format(value: Any) -> str:
    digits = re.sub(r"\D", "", str(value if value is not None else ""))
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return "" if value is None else str(value)


def _percentage(value: Any, decimals: Any = 0) -> str:
    number = _number(value)
    if number is None:
        return "" if value is None else str(value)
    try:
        places = max(0, min(int(decimals or 0), 6))
    except (TypeError, ValueError):
        places = 0
    return f"{number:.{places}f}%"


def _number_with_delimiter(value: Any, delimiter: str = ",") -> str:
    number = _number(value)
    if number is None:
        return "" if value is None else str(value)
    text = f"{number:,}"
    return text.replace(",", str(delimiter)) if delimiter != "," else text


def _make_env(autoescape: bool) -> Environment:
    env = LimitedEnvironment(autoescape=autoescape)
    env.filters["titlecase"] = _titlecase
    env.filters["currency"] = _currency
    env.filters["percentage"] = _percentage
    env.filters["number_with_delimiter"] = _number_with_delimiter
    env.filters["phone_format"] = _phone_format
    env.filters["phoneFormat"] = _phone_format
    env.tags["for"] = _ForTag(env)
    env.tags["tablerow"] = _TablerowTag(env)
    for name in REFUSED_TAGS:
        env.tags[name] = _Refused(env, name)
    return env


REFUSED_TAGS = ("include", "render")
TEXT_ENV = _make_env(autoescape=False)
HTML_ENV = _make_env(autoescape=True)
KNOWN_FILTERS = frozenset(TEXT_ENV.filters)

# -- shorthand fallbacks --------------------------------------------------------------------------

_LEGACY_QUOTED = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\|\s*(\"[^\"{}]*\"|'[^'{}]*')\s*\}\}")
_LEGACY_BARE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\|([A-Za-z_][\w ]*?)\s*\}\}")


def translate_shorthand(source: str) -> str:
    """`{{firstName|there}}` → `{{ firstName | default: "there" }}`; real filters are kept."""
    if "|" not in source:
        return source

    def quoted(m: re.Match[str]) -> str:
        return '{{ %s | default: "%s" }}' % (m.group(1), m.group(2)[1:-1].replace('"', ""))

    def bare(m: re.Match[str]) -> str:
        word = m.group(2).strip()
        if word in KNOWN_FILTERS:
            return m.group(0)
        return '{{ %s | default: "%s" }}' % (m.group(1), word)

    return _LEGACY_BARE.sub(bare, _LEGACY_QUOTED.sub(quoted, source))


# -- the variables a template sees --------------------------------------------------------------------

_STANDARD = ("email", "first_name", "last_name", "company", "job_title", "city", "state", "country")
_CAMEL = {"first_name": "firstName", "last_name": "lastName", "job_title": "jobTitle"}


def build_context(row: Mapping[str, Any], *, sender_name: str | None, sender_email: str | None,
                  unsubscribe_url: str | None) -> dict[str, Any]:
    """The variables a template sees, from one claimed outbox row.

    The contact's standard fields under snake_case and the camelCase names older templates use
    (`first_name` / `firstName` …), custom fields as `custom.x` and `customField.x`, the sender, the
    campaign and `unsubscribe_url`."""
    contact: dict[str, Any] = {}
    for name in _STANDARD:
        value = row.get(name)
        contact[name] = value
        if name in _CAMEL:
            contact[_CAMEL[name]] = value
    first, last = row.get("first_name"), row.get("last_name")
    full = " ".join(p for p in (first, last) if p) or None
    custom = row.get("custom_fields") or {}
    score = row.get("score") or 0
    tz = row.get("contact_timezone") or row.get("campaign_timezone")
    contact.update(full_name=full, fullName=full, score=score, lead_score=score, leadScore=score,
                   tags=list(row.get("tags") or ()), timezone=tz)
    sender = {"name": sender_name, "email": sender_email}
    campaign = {"name": row.get("campaign_name")}
    ctx = dict(contact)
    ctx.update(
        contact=contact,
        custom=custom, customField=custom, custom_fields=custom, customFields=custom,
        sender=sender, sender_name=sender_name, senderName=sender_name,
        sender_email=sender_email, senderEmail=sender_email,
        campaign=campaign, campaign_name=campaign["name"], campaignName=campaign["name"],
        unsubscribe_url=unsubscribe_url, unsubscribeUrl=unsubscribe_url,
        unsubscribe_link=unsubscribe_url, unsubscribeLink=unsubscribe_url,
        current_year=time.gmtime().tm_year,
        # The properties of the event that started the enrollment (a triggered campaign), else empty.
        event=row.get("event_properties") or {},
    )
    return ctx


# A plausible contact for the save-time trial render, and the names a template may use.
SAMPLE_CONTEXT = build_context(
    {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines",
     "job_title": "Engineer", "city": "London", "state": "", "country": "GB", "custom_fields": {},
     "score": 10, "tags": ["customer"], "campaign_name": "Campaign"},
    sender_name="Sender", sender_email="sender@example.com", unsubscribe_url="https://example.com/unsubscribe/x")
CONTEXT_VARIABLES = frozenset(SAMPLE_CONTEXT)
# Variables whose members are fixed (custom fields are free-form, so custom.* is never a warning).
_MEMBERS = {name: frozenset(SAMPLE_CONTEXT[name]) for name in ("contact", "sender", "campaign")}

# -- save-time validation --------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateProblem:
    code: str
    field: str
    message: str


@dataclass(frozen=True)
class TemplateWarning:
    code: str
    field: str
    variable: str
    message: str


class TemplateRefused(ValueError):
    def __init__(self, problem: TemplateProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _literal_int(expression: Any) -> int | None:
    return expression.value if isinstance(expression, IntegerLiteral) else None


def _literal_loop_length(expression: LoopExpression) -> int | None:
    """Iterations of a loop over a range of literal bounds (limit and offset literals applied)."""
    iterable = expression.iterable
    if not isinstance(iterable, RangeLiteral):
        return None
    start, stop = _literal_int(iterable.start), _literal_int(iterable.stop)
    if start is None or stop is None:
        return None
    length = max(stop - start + 1, 0)
    offset = _literal_int(expression.offset) if expression.offset is not None else 0
    if offset:
        length = max(length - max(offset, 0), 0)
    limit = _literal_int(expression.limit) if expression.limit is not None else None
    return min(length, max(limit, 0)) if limit is not None else length


def _literal_loop_iterations(template: BoundTemplate) -> int:
    """Iterations of loops over literal ranges, nested ones multiplied (stops counting past the limit)."""
    static = RenderContext(template)

    def walk(nodes: Any, factor: int) -> int:
        total = 0
        for node in nodes:
            inner = factor
            if isinstance(node, (ForNode, TablerowNode)):
                length = _literal_loop_length(node.expression)
                if length is not None:
                    inner = factor * length
                    total += inner
            if total > LOOP_ITERATIONS:
                return total
            total += walk(node.children(static), inner)
        return total
    return walk(template.nodes, 1)


def _unknown_variables(field: str, analysis: Any) -> list[TemplateWarning]:
    warnings = []
    for root, uses in sorted(analysis.globals.items()):
        if root not in CONTEXT_VARIABLES:
            warnings.append(TemplateWarning("UNKNOWN_VARIABLE", field, root, f"unknown variable '{root}'"))
            continue
        members = _MEMBERS.get(root)
        if members is None:
            continue
        for name in sorted({str(use.segments[1]) for use in uses if len(use.segments) > 1} - members):
            warnings.append(TemplateWarning("UNKNOWN_VARIABLE", field, f"{root}.{name}",
                                            f"unknown variable '{root}.{name}'"))
    return warnings


def inspect_template(field: str, source: str | None) -> list[TemplateWarning]:
    """The save-time check of one Liquid source: TemplateRefused for a syntax error, an unknown tag
    (TEMPLATE_SYNTAX_ERROR), include/render (TEMPLATE_TAG_NOT_ALLOWED), an unknown filter
    (TEMPLATE_UNKNOWN_FILTER) or a render limit that a literal loop or a trial render with a sample
    contact goes over (TEMPLATE_LIMIT_EXCEEDED); else the unknown variables, as warnings."""
    if not source:
        return []
    try:
        template = TEXT_ENV.from_string(translate_shorthand(source))
        analysis = template.analyze()
    except TagNotAllowedError as exc:
        raise TemplateRefused(TemplateProblem("TEMPLATE_TAG_NOT_ALLOWED", field, str(exc).splitlines()[0])) from None
    except ResourceLimitError as exc:  # nesting deeper than python-liquid parses
        raise TemplateRefused(TemplateProblem("TEMPLATE_LIMIT_EXCEEDED", field, str(exc).splitlines()[0])) from None
    except LiquidError as exc:
        raise TemplateRefused(TemplateProblem("TEMPLATE_SYNTAX_ERROR", field, str(exc).splitlines()[0])) from None
    except Exception as exc:  # noqa: BLE001 - anything the parser chokes on is a bad template, not a 500
        raise TemplateRefused(TemplateProblem("TEMPLATE_SYNTAX_ERROR", field, f"{type(exc).__name__}: {exc}")) from None
    unknown = sorted(name for name in analysis.filters if name not in KNOWN_FILTERS)
    if unknown:
        raise TemplateRefused(TemplateProblem("TEMPLATE_UNKNOWN_FILTER", field, "unknown filter(s): " + ", ".join(unknown)))
    if _literal_loop_iterations(template) > LOOP_ITERATIONS:
        raise TemplateRefused(TemplateProblem("TEMPLATE_LIMIT_EXCEEDED", field,
                                              f"render_limit: loops over {LOOP_ITERATIONS} iterations"))
    try:
        render_template(template, SAMPLE_CONTEXT, Budget(CHECK_CPU_SECONDS, wall_seconds=4 * CHECK_CPU_SECONDS))
    except RenderLimitError as exc:
        raise TemplateRefused(TemplateProblem("TEMPLATE_LIMIT_EXCEEDED", field, f"render_limit: {exc}")) from None
    except Exception:  # noqa: BLE001 - other render errors depend on the data; the worker handles them
        pass
    return _unknown_variables(field, analysis)


def check_template(field: str, source: str | None) -> TemplateProblem | None:
    """None when the Liquid source passes the save-time check (warnings aside)."""
    try:
        inspect_template(field, source)
    except TemplateRefused as exc:
        return exc.problem
    return None


def check_fields(fields: Mapping[str, str | None]) -> list[TemplateWarning]:
    """The save-time check of several sources (field name → source): TemplateRefused for the first
    refused one, else every warning."""
    warnings: list[TemplateWarning] = []
    for field, source in fields.items():
        warnings += inspect_template(field, source)
    return warnings

# -- preview: what a render for one contact would lack --------------------------------------------------


def _resolve(ctx: Mapping[str, Any], segments: Any) -> Any:
    """The value a variable path names in ctx (None when any segment is missing); non-string
    segments (indexes, variables) stop the walk with what was found so far."""
    value: Any = ctx
    for segment in segments:
        if not isinstance(segment, str):
            return value
        if not isinstance(value, Mapping) or segment not in value:
            return None
        value = value[segment]
    return value


def preview_warnings(fields: Mapping[str, str | None], ctx: Mapping[str, Any]) -> list[TemplateWarning]:
    """What a preview for one contact should point out, per source (field name → source), without
    refusing anything (stored content may predate today's save-time check): TEMPLATE_SYNTAX_ERROR and
    TEMPLATE_UNKNOWN_FILTER (the worker then sends the source with its merge tags stripped),
    UNKNOWN_VARIABLE, and MISSING_VALUE for a merge tag that is empty or missing for this contact
    (a shorthand or `default` fallback then shows instead, if the tag has one). Render limits are
    not here: the preview renders, and a render over a limit is refused there."""
    warnings: list[TemplateWarning] = []
    for field, source in fields.items():
        if not source:
            continue
        try:
            analysis = TEXT_ENV.from_string(translate_shorthand(source)).analyze()
        except Exception as exc:  # noqa: BLE001 - whatever the parser refuses, the worker strips the tags
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            warnings.append(TemplateWarning("TEMPLATE_SYNTAX_ERROR", field, "",
                                            f"{message}: the mail is sent with its merge tags removed"))
            continue
        unknown = sorted(name for name in analysis.filters if name not in KNOWN_FILTERS)
        for name in unknown:
            warnings.append(TemplateWarning("TEMPLATE_UNKNOWN_FILTER", field, name,
                                            f"unknown filter '{name}': the mail is sent with its merge tags removed"))
        warnings += _unknown_variables(field, analysis)
        for root, uses in sorted(analysis.globals.items()):
            if root not in CONTEXT_VARIABLES:
                continue
            for path in sorted({".".join(str(s) for s in use.segments) for use in uses
                                if _resolve(ctx, use.segments) in (None, "", [], {})}):
                warnings.append(TemplateWarning("MISSING_VALUE", field, path,
                                                f"'{path}' is empty for this contact"))
    return warnings
