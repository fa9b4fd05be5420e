"""What the tracking tokens (service/tracking/tokens.py) and the report links (service/report/links.py)
share: a key derived from the application secret under a label of its own, and tokens of the form

    b64url(payload) "." b64url(HMAC-SHA256(key, payload))

opened only when the tag matches (compared in constant time); anything malformed opens to None, so a
caller cannot tell a forged token from a garbled one."""

from __future__ import annotations

import base64
import hmac


def derive_key(secret: str | bytes, label: bytes) -> bytes:
    """HMAC-SHA256(secret, label): a distinct label keeps one kind of token from being accepted as another."""
    if not secret:
        raise ValueError("CAMPAIGNS_SECRET_KEY is empty")
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.digest(raw, label, "sha256")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(key: bytes, payload: bytes) -> str:
    return b64(payload) + "." + b64(hmac.digest(key, payload, "sha256"))


def unseal(key: bytes, token: str | None, max_length: int) -> bytes | None:
    """The payload of a token sealed with `key`, or None when it is missing, longer than max_length,
    malformed or its tag does not match."""
    if not token or len(token) > max_length or token.count(".") != 1:
        return None
    body, _, tag = token.partition(".")
    try:
        payload, given = _unb64(body), _unb64(tag)
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(given, hmac.digest(key, payload, "sha256")):
        return None
    return payload
