"""Template validation at save time with python-liquid: a syntax error or an unknown filter is refused
(422) instead of failing at send time.

The renderer (the outbox worker) must accept what this accepts. Two things it needs to agree on:

* the legacy fallback shorthand of the older templates, `{{firstName|there}}` and
  `{{company|"Your company"}}`, meaning `| default: "…"`: `normalise_legacy_tags` rewrites it. A bare
  word is a fallback only when written against the pipe with no spaces (`{{name|word}}`) and is not a
  filter name; `{{ name | word }}` is Liquid filter syntax, so an unknown `word` there is an error;
* the filters: Liquid's standard filters plus EXTRA_FILTERS, which the renderer registers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from liquid import Environment
from liquid.exceptions import LiquidError

# Filters the documents promise beyond standard Liquid (seed spec §2.3); the renderer provides them.
EXTRA_FILTERS = ("titlecase", "currency", "percentage", "number_with_delimiter", "phone_format", "phoneFormat")

_ENV = Environment()
for _name in EXTRA_FILTERS:
    _ENV.filters[_name] = lambda value, *args, **kwargs: value
KNOWN_FILTERS = frozenset(_ENV.filters)

_LEGACY_QUOTED = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\|\s*(\"[^\"{}]*\"|'[^'{}]*')\s*\}\}")
_LEGACY_BARE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\|([A-Za-z_][\w ]*?)\s*\}\}")


def normalise_legacy_tags(source: str) -> str:
    """Rewrite `{{name|"fallback"}}` and `{{name|fallback}}` (no space after the pipe, not a filter)
    as `{{ name | default: "fallback" }}`."""

    def quoted(m: re.Match[str]) -> str:
        return '{{ %s | default: "%s" }}' % (m.group(1), m.group(2)[1:-1].replace('"', ""))

    def bare(m: re.Match[str]) -> str:
        word = m.group(2).strip()
        if word in KNOWN_FILTERS:
            return m.group(0)
        return '{{ %s | default: "%s" }}' % (m.group(1), word)

    return _LEGACY_BARE.sub(bare, _LEGACY_QUOTED.sub(quoted, source))


@dataclass(frozen=True)
class TemplateProblem:
    code: str
    field: str
    message: str


def check_template(field: str, source: str | None) -> TemplateProblem | None:
    """None when the Liquid source parses and uses only known filters."""
    if not source:
        return None
    try:
        template = _ENV.parse(normalise_legacy_tags(source))
        analysis = template.analyze()
    except LiquidError as exc:
        return TemplateProblem("TEMPLATE_SYNTAX_ERROR", field, str(exc).splitlines()[0])
    except Exception as exc:  # noqa: BLE001 - anything the parser chokes on is a bad template, not a 500
        return TemplateProblem("TEMPLATE_SYNTAX_ERROR", field, f"{type(exc).__name__}: {exc}")
    unknown = sorted(name for name in analysis.filters if name not in KNOWN_FILTERS)
    if unknown:
        return TemplateProblem("TEMPLATE_UNKNOWN_FILTER", field, "unknown filter(s): " + ", ".join(unknown))
    return None
