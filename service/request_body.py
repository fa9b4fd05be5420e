"""How a JSON request body becomes a handler's `data`: nesting depth checked on the raw bytes first, then
one strict msgspec decode straight into the handler's declared type.

Litestar's own path decodes the body into plain Python values and converts them afterwards with
msgspec's lax rules (`strict=False`), under which `1` is taken as `true` and `0` as a timestamp, and a
body of a thousand nested arrays exhausts the decoder's recursion. Here the body is decoded once, in
strict mode: a value of the wrong JSON type is refused, never coerced. Query and path parameters are
unaffected: they are text and keep Litestar's parsing of it.
"""

from __future__ import annotations

import re
from functools import partial
from itertools import accumulate, repeat
from operator import sub
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException
from litestar.serialization.msgspec_hooks import default_deserializer
from litestar.types import Empty

from service.errors import ApiError

# Deepest nesting of arrays and objects a body may have. Every document the API takes is at most a
# handful of levels deep (segment rules nest groups of conditions a few levels); 64 leaves room for any
# legitimate use, far below where a recursive decoder runs out of stack.
MAX_JSON_DEPTH = 64

# Opening brackets become 2 and closing ones 0, everything else is dropped: depth is then the running
# sum of (byte - 1). Every step below is a C-level bytes operation or iterator (about 30 ms per MB).
_BRACKETS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings ignored)."""
    # Escaped backslashes first, then escaped quotes: what remains of `"` delimits strings, whose
    # contents are every other piece between them.
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(unescaped.split(b'"')[::2])
    return max(accumulate(map(sub, outside.translate(_BRACKETS, _NOT_BRACKETS), repeat(1))), default=0)


def check_depth(body: bytes) -> None:
    """Refuse a body nested deeper than MAX_JSON_DEPTH before any decoder recurses into it."""
    # Fewer opening brackets than the limit cannot nest past it: most bodies skip the scan.
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and json_depth(body) > MAX_JSON_DEPTH:
        raise ApiError(400, "INVALID_JSON", "The body is not valid JSON",
                       f"arrays and objects nest deeper than {MAX_JSON_DEPTH} levels")


# A number JSON writes with a fraction or an exponent (3.0, 1e2): JSON has one number type, and JSON
# Schema counts 3.0 as an integer, so a whole one is taken where an integer is expected. Bodies
# without such a number (most) skip the extra pass.
_NOT_PLAIN_INT = re.compile(rb"[0-9](\.[0-9]|[eE])")


def _whole_numbers_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, list):
        return [_whole_numbers_as_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _whole_numbers_as_ints(v) for k, v in value.items()}
    return value


def decode_strict(body: bytes, target: Any, dec_hook: Any = None) -> Any:
    """The body decoded strictly into `target`; a whole number written as 3.0 or 1e2 counts as an integer."""
    if not _NOT_PLAIN_INT.search(body):
        return msgspec.json.decode(body, type=target, strict=True, dec_hook=dec_hook)
    plain = _whole_numbers_as_ints(msgspec.json.decode(body))
    return msgspec.convert(plain, type=target, strict=True, dec_hook=dec_hook)


_LOCATION = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<field>[^`]*)`")


def body_error(exc: msgspec.ValidationError) -> dict[str, str]:
    """msgspec's refusal as one validation error naming the body field (`tags[0]`, `rules.conditions`;
    an unknown field is named itself, not the object holding it)."""
    text = str(exc)
    match = _LOCATION.search(text)
    path = match["path"].lstrip(".") if match else ""
    message = text[: match.start()] if match else text
    unknown = _UNKNOWN_FIELD.match(message)
    if unknown:
        path = f"{path}.{unknown['field']}" if path else unknown["field"]
    error = {"message": message, "source": "body"}
    if path:
        error["key"] = path
    return error


class StrictRequest(Request):
    """The app's request class: `await request.json()` is depth-checked and decoded strictly into the
    route handler's `data` type (plain JSON values when the handler declares none)."""

    async def json(self) -> Any:
        if self._json is Empty:
            if (cached := self._connection_state.json) is not Empty:
                self._json = cached
            else:
                body = await self.body() or b"null"
                check_depth(body)
                self._json = self._connection_state.json = self._decode(body)
        return self._json

    def _decode(self, body: bytes) -> Any:
        field = self.route_handler.parsed_fn_signature.parameters.get("data")
        target = field.annotation if field is not None else Any
        hook = partial(default_deserializer, type_decoders=self.route_handler.resolve_type_decoders())
        try:
            return decode_strict(body, target, hook)
        except msgspec.ValidationError as exc:
            raise ValidationException(detail=f"Validation failed for {self.method} {self.url.path}",
                                      extra=[body_error(exc)]) from exc
        except msgspec.DecodeError as exc:
            raise ApiError(400, "INVALID_JSON", "The body is not valid JSON", str(exc)) from exc
