"""Signed tracking tokens: HMAC-SHA256 over a compact binary payload, URL-safe base64.

A token says which message (and its tenant, contact, campaign and step) an open, a click or an
unsubscribe belongs to; a click token also carries the target URL, so the click endpoint only ever
redirects to a URL we signed (no open redirect). The kind is part of the signed payload: an open
token cannot be replayed as an unsubscribe.

    token   = b64url(payload) "." b64url(tag)
    payload = version(1) kind(1) message(16) tenant(16) contact(16) campaign(16) step(16) [url utf-8]
    tag     = HMAC-SHA256(key, payload)            key = HMAC-SHA256(secret, "campaigns tracking v1")

The newest secret (CAMPAIGNS_SECRET_KEY) signs; it and every CAMPAIGNS_PREVIOUS_SECRET_KEYS entry
verify (service.signing.KeyRing), so a rotation does not break the links in mail already sent.

Verification compares tags in constant time and returns None for anything malformed, so a caller
cannot tell a forged token from a garbled one.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from uuid import UUID

from service.signing import KeyRing, Secrets, b64

VERSION = 1
OPEN, CLICK, UNSUBSCRIBE = b"o", b"c", b"u"
KINDS = {OPEN: "open", CLICK: "click", UNSUBSCRIBE: "unsubscribe"}
_HEADER = 2 + 16 * 5
# A click URL longer than this is not signed (the link is left untracked): keeps tokens, and the
# links that carry them, within what mail clients handle.
MAX_URL_BYTES = 2000


@dataclass(frozen=True, slots=True)
class TrackingToken:
    kind: str
    message_id: UUID
    tenant_id: UUID
    contact_id: UUID
    campaign_id: UUID
    step_id: UUID
    url: str | None = None


class TokenSigner:
    """Signs with the newest secret and verifies with any trusted one (a secret, or several newest first)."""

    def __init__(self, secrets: Secrets) -> None:
        self._ring = KeyRing(secrets, b"campaigns tracking v1")
        # Keyed once: copying it skips the key schedule each token would otherwise redo (half the
        # cost of a signature; a message carries six or more).
        self._keyed = hmac.new(self._ring.signing_key, digestmod=hashlib.sha256)

    # -- signing -----------------------------------------------------------------------------------

    @staticmethod
    def ids(message_id: UUID, tenant_id: UUID, contact_id: UUID, campaign_id: UUID, step_id: UUID) -> bytes:
        """The id part of a payload; computed once per message and reused for each of its tokens."""
        return message_id.bytes + tenant_id.bytes + contact_id.bytes + campaign_id.bytes + step_id.bytes

    def sign(self, kind: bytes, ids: bytes, url: str | None = None) -> str:
        payload = bytes((VERSION,)) + kind + ids
        if url is not None:
            payload += url.encode("utf-8")
        mac = self._keyed.copy()
        mac.update(payload)
        return b64(payload) + "." + b64(mac.digest())

    # -- verifying ---------------------------------------------------------------------------------

    def verify(self, token: str | None, expected_kind: bytes) -> TrackingToken | None:
        payload = self._ring.unseal(token, 4 * MAX_URL_BYTES)
        if payload is None or len(payload) < _HEADER or payload[0] != VERSION or payload[1:2] != expected_kind:
            return None
        ids = [UUID(bytes=payload[2 + 16 * i: 18 + 16 * i]) for i in range(5)]
        url = None
        if expected_kind == CLICK:
            try:
                url = payload[_HEADER:].decode("utf-8")
            except UnicodeDecodeError:
                return None
            if not url:
                return None
        elif len(payload) != _HEADER:
            return None
        return TrackingToken(KINDS[expected_kind], *ids, url=url)
