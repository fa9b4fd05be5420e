"""Signed report links: anyone holding the link may view that one campaign's report until it expires.

    token = b64url(tenant(16) campaign(16) expires(8, unix seconds)) "." b64url(HMAC-SHA256(key, payload))
    key   = HMAC-SHA256(CAMPAIGNS_SECRET_KEY, "campaigns report v1")

A distinct key label keeps report links and tracking tokens from being accepted for each other.
"""

from __future__ import annotations

import base64
import hmac
import struct
import time
from uuid import UUID

_PAYLOAD = struct.Struct(">16s16sQ")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ReportLinkSigner:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("CAMPAIGNS_SECRET_KEY is empty")
        self._key = hmac.digest(secret.encode(), b"campaigns report v1", "sha256")

    def sign(self, tenant_id: UUID, campaign_id: UUID, expires_at: int) -> str:
        payload = _PAYLOAD.pack(tenant_id.bytes, campaign_id.bytes, expires_at)
        return _b64(payload) + "." + _b64(hmac.digest(self._key, payload, "sha256"))

    def verify(self, token: str | None, campaign_id: UUID, now: float | None = None) -> UUID | None:
        """The tenant the link is for, or None when it is forged, altered, expired or for another campaign."""
        if not token or len(token) > 200 or token.count(".") != 1:
            return None
        body, _, tag = token.partition(".")
        try:
            payload, mac = _unb64(body), _unb64(tag)
        except (ValueError, TypeError):
            return None
        if len(payload) != _PAYLOAD.size or not hmac.compare_digest(mac, hmac.digest(self._key, payload, "sha256")):
            return None
        tenant, campaign, expires = _PAYLOAD.unpack(payload)
        if UUID(bytes=campaign) != campaign_id or expires < (now if now is not None else time.time()):
            return None
        return UUID(bytes=tenant)
