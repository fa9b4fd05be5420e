"""Liquid, in one place: the filters beyond standard Liquid, the shorthand fallbacks of older
templates, and the save-time check. The API validates templates with `check_template`; the outbox
worker renders with `TEXT_ENV` / `HTML_ENV` after `translate_shorthand`. Both read the same filter
set and the same shorthand rule, so what validates renders as validated.

- Filters: Liquid's standard ones plus titlecase, currency, percentage, number_with_delimiter and
  phone_format (phoneFormat).
- Shorthand: `{{firstName|there}}` and `{{company|"Your company"}}` mean `| default: "…"`. A quoted
  fallback may have any spacing; a bare word is a fallback only when written against the pipe with no
  spaces and is not a filter name. `{{ name | word }}` with spaces is Liquid filter syntax, so an
  unknown `word` there is refused at save time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from liquid import Environment
from liquid.exceptions import LiquidError

# -- filters beyond standard Liquid ------------------------------------------------------------------


def _titlecase(value: Any) -> str:
    return " ".join(w[:1].upper() + w[1:].lower() for w in str(value if value is not None else "").split(" "))


def _currency(value: Any, code: str = "USD") -> str:
    try:
        amount = Decimal(str(value))
    except Exception:  # noqa: BLE001 - a non-number renders as given
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


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except Exception:  # noqa: BLE001
        return None


def _percentage(value: Any, decimals: Any = 0) -> str:
    number = _number(value)
    if number is None:
        return "" if value is None else str(value)
    places = max(0, min(int(decimals or 0), 6))
    return f"{number:.{places}f}%"


def _number_with_delimiter(value: Any, delimiter: str = ",") -> str:
    number = _number(value)
    if number is None:
        return "" if value is None else str(value)
    text = f"{number:,}"
    return text.replace(",", str(delimiter)) if delimiter != "," else text


def _make_env(autoescape: bool) -> Environment:
    env = Environment(autoescape=autoescape)
    env.filters["titlecase"] = _titlecase
    env.filters["currency"] = _currency
    env.filters["percentage"] = _percentage
    env.filters["number_with_delimiter"] = _number_with_delimiter
    env.filters["phone_format"] = _phone_format
    env.filters["phoneFormat"] = _phone_format
    return env


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


# -- save-time validation --------------------------------------------------------------------------


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
        analysis = TEXT_ENV.parse(translate_shorthand(source)).analyze()
    except LiquidError as exc:
        return TemplateProblem("TEMPLATE_SYNTAX_ERROR", field, str(exc).splitlines()[0])
    except Exception as exc:  # noqa: BLE001 - anything the parser chokes on is a bad template, not a 500
        return TemplateProblem("TEMPLATE_SYNTAX_ERROR", field, f"{type(exc).__name__}: {exc}")
    unknown = sorted(name for name in analysis.filters if name not in KNOWN_FILTERS)
    if unknown:
        return TemplateProblem("TEMPLATE_UNKNOWN_FILTER", field, "unknown filter(s): " + ", ".join(unknown))
    return None
