"""Rendering subject, HTML and text with python-liquid (filters and shorthand: service/liquid.py).

- Context: service.liquid.build_context (re-exported here): the contact's standard fields under snake_case and the camelCase names older templates use
  (`first_name` / `firstName` …), custom fields as `custom.x` and `customField.x`, the sender, the
  campaign and `unsubscribe_url`.
- Shorthand fallbacks `{{firstName|there}}` and `{{company|"Your company"}}` are rewritten to
  `| default: "…"` before parsing (service.liquid.translate_shorthand).
- HTML parts are rendered with autoescape: values are HTML-escaped, the template's own markup is not.
- Compiled templates are cached (LRU) by source text. A template that does not parse, or fails while
  rendering, falls back to its text with every merge tag stripped; the error is logged once per
  template source and the send goes on (new content is checked at save time, service/liquid.py).
- Except a render limit (service/liquid.py): RenderLimitError propagates, and the message fails with
  reason render_limit. A Budget bounds the render's time: SliceExceeded when an inline slice runs
  out (service/worker/render_budget.py then renders in a thread).
"""

from __future__ import annotations

import html as html_lib
import logging
import re
import threading
from collections import OrderedDict
from typing import Any

from liquid.exceptions import LiquidError

from service.liquid import (
    HTML_ENV,
    TEXT_ENV,
    Budget,
    RenderLimitError,
    SliceExceeded,
    build_context,
    render_template,
    translate_shorthand,
)

__all__ = ["Renderer", "build_context", "html_to_text", "looks_like_html", "strip_merge_tags",
           "text_template_from_html", "translate_shorthand"]

log = logging.getLogger("campaigns.worker.render")

_MERGE_TAG = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.S)


def strip_merge_tags(source: str) -> str:
    """The render-error fallback: the template's own text with every {{ }} and {% %} removed."""
    return _MERGE_TAG.sub("", source)


# -- compiling and rendering -------------------------------------------------------------------------


class _Compiled:
    __slots__ = ("template", "fallback", "error")

    def __init__(self, template: Any, fallback: str, error: str | None) -> None:
        self.template, self.fallback, self.error = template, fallback, error


class Renderer:
    """Renders with compiled templates cached by (mode, source); one per worker. The event loop and
    the render threads share it: the cache is guarded by a lock."""

    def __init__(self, cache_size: int = 1024) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[bool, str], _Compiled] = OrderedDict()
        self._lock = threading.Lock()
        self._logged: set[int] = set()
        self.errors = 0

    def _compile(self, source: str, html: bool) -> _Compiled:
        key = (html, source)
        with self._lock:
            compiled = self._cache.get(key)
            if compiled is not None:
                self._cache.move_to_end(key)
                return compiled
        try:
            template = (HTML_ENV if html else TEXT_ENV).from_string(translate_shorthand(source))
            compiled = _Compiled(template, "", None)
        except LiquidError as exc:
            compiled = _Compiled(None, strip_merge_tags(source), f"{type(exc).__name__}: {exc.message if hasattr(exc, 'message') else exc}")
            self._log_once(source, compiled.error)
        with self._lock:
            self._cache[key] = compiled
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return compiled

    def _log_once(self, source: str, error: str | None) -> None:
        self.errors += 1
        digest = hash(source)
        if digest not in self._logged:
            self._logged.add(digest)
            # The template's error, never the contact's data.
            log.warning("template error, sending with merge tags stripped: %s", (error or "").splitlines()[0][:300])

    def render(self, source: str | None, ctx: dict[str, Any], *, html: bool = False,
               budget: Budget | None = None) -> str:
        """One part. RenderLimitError past a render limit, SliceExceeded past `budget`'s inline slice."""
        if not source:
            return ""
        compiled = self._compile(source, html)
        if compiled.template is None:
            return compiled.fallback
        try:
            # Variables a template assigns go to the render context's locals, never into ctx.
            return render_template(compiled.template, ctx, budget)
        except (RenderLimitError, SliceExceeded):
            raise
        except Exception as exc:  # noqa: BLE001 - a render error must never fail the send
            self._log_once(source, f"{type(exc).__name__}: {exc}")
            return strip_merge_tags(source)


# -- HTML ⇄ text -------------------------------------------------------------------------------------

_HTML_LIKE = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*[\s/>]|!--|!doctype)", re.I)
_DROP_BLOCKS = re.compile(r"<(head|style|script|title)\b.*?</\1\s*>", re.I | re.S)
_ANCHOR = re.compile(r"<a\b[^>]*?\bhref\s*=\s*([\"'])(.*?)\1[^>]*>(.*?)</a\s*>", re.I | re.S)
_BREAK = re.compile(r"<br\s*/?>", re.I)
_BLOCK_END = re.compile(r"</(p|div|h[1-6]|li|tr|table|ul|ol|blockquote)\s*>", re.I)
_LIST_ITEM = re.compile(r"<li\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_LINE_EDGES = re.compile(r" ?\n ?")
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")


def looks_like_html(text: str) -> bool:
    return bool(_HTML_LIKE.search(text))


def _anchor_text(match: re.Match[str]) -> str:
    url = html_lib.unescape(match.group(2)).strip()
    label = _TAG.sub("", match.group(3)).strip()
    if not label or html_lib.unescape(label) == url:
        return url
    return f"{label} ({url})" if url and not url.startswith(("#", "javascript:")) else label


_LIQUID_BLOCK = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.S)


def text_template_from_html(source: str) -> str:
    """A text/plain Liquid template derived from an HTML Liquid template, once per template (the
    worker caches it): the merge tags survive, so the text part is rendered like the HTML part
    instead of re-deriving text from every rendered HTML body."""
    blocks: list[str] = []

    def park(match: re.Match[str]) -> str:
        blocks.append(match.group(0))
        return f"\x00{len(blocks) - 1}\x00"

    text = html_to_text(_LIQUID_BLOCK.sub(park, source))
    return re.sub("\x00(\\d+)\x00", lambda m: blocks[int(m.group(1))], text)


def html_to_text(markup: str) -> str:
    """A readable text/plain alternative of an HTML body (links kept as `label (url)`)."""
    text = _DROP_BLOCKS.sub("", markup)
    text = _ANCHOR.sub(_anchor_text, text)
    text = _BREAK.sub("\n", text)
    text = _LIST_ITEM.sub("\n- ", text)
    text = _BLOCK_END.sub("\n\n", text)
    text = html_lib.unescape(_TAG.sub("", text))
    text = _LINE_EDGES.sub("\n", _SPACES.sub(" ", text))
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"
