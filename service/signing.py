"""What the tracking tokens (service/tracking/tokens.py) and the report links (service/report/links.py)
share: keys derived from the application's secrets under a label of their own, and tokens of the form

    b64url(payload) "." b64url(HMAC-SHA256(key, payload))

opened only when the tag matches (compared in constant time); anything malformed opens to None, so a
caller cannot tell a forged token from a garbled one.

A KeyRing holds every secret still trusted, newest first (CAMPAIGNS_SECRET_KEY, then
CAMPAIGNS_PREVIOUS_SECRET_KEYS): the newest signs, each one verifies. A rotation therefore keeps the
links in mail already sent working for as long as their key stays in the list, and a key removed from
it opens nothing it signed."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Sequence

Secrets = str | bytes | Sequence[str | bytes]


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


def _split(token: str | None, max_length: int) -> tuple[bytes, bytes] | None:
    if not token or len(token) > max_length or token.count(".") != 1:
        return None
    body, _, tag = token.partition(".")
    try:
        return _unb64(body), _unb64(tag)
    except (ValueError, TypeError):
        return None


def unseal(keys: bytes | Sequence[bytes], token: str | None, max_length: int) -> bytes | None:
    """The payload of a token sealed with `keys` (one, or any of several), or None when it is missing,
    longer than max_length, malformed or its tag matches none of them."""
    parts = _split(token, max_length)
    if parts is None:
        return None
    payload, given = parts
    for key in (keys,) if isinstance(keys, bytes) else keys:
        if hmac.compare_digest(given, hmac.digest(key, payload, "sha256")):
            return payload
    return None


class KeyRing:
    """The keys of one label derived from every trusted secret, newest first."""

    def __init__(self, secrets: Secrets, label: bytes) -> None:
        listed = [secrets] if isinstance(secrets, str | bytes) else list(secrets)
        if not listed:
            raise ValueError("CAMPAIGNS_SECRET_KEY is empty")
        # A secret listed twice is tried once.
        self.keys: tuple[bytes, ...] = tuple(dict.fromkeys(derive_key(s, label) for s in listed))

    @property
    def signing_key(self) -> bytes:
        return self.keys[0]

    def seal(self, payload: bytes) -> str:
        return seal(self.keys[0], payload)

    def unseal(self, token: str | None, max_length: int) -> bytes | None:
        return unseal(self.keys, token, max_length)
