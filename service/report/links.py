"""Signed report links: anyone holding the link may view that one campaign's report until it expires.

    token = b64url(tenant(16) campaign(16) expires(8, unix seconds)) "." b64url(HMAC-SHA256(key, payload))
    key   = HMAC-SHA256(secret, "campaigns report v1")

A distinct key label keeps report links and tracking tokens from being accepted for each other. The
newest secret signs; every trusted one verifies (service.signing.KeyRing).
"""

from __future__ import annotations

import struct
import time
from uuid import UUID

from service.signing import KeyRing, Secrets

_PAYLOAD = struct.Struct(">16s16sQ")


class ReportLinkSigner:
    def __init__(self, secrets: Secrets) -> None:
        self._ring = KeyRing(secrets, b"campaigns report v1")

    def sign(self, tenant_id: UUID, campaign_id: UUID, expires_at: int) -> str:
        payload = _PAYLOAD.pack(tenant_id.bytes, campaign_id.bytes, expires_at)
        return self._ring.seal(payload)

    def verify(self, token: str | None, campaign_id: UUID, now: float | None = None) -> UUID | None:
        """The tenant the link is for, or None when it is forged, altered, expired or for another campaign."""
        payload = self._ring.unseal(token, 200)
        if payload is None or len(payload) != _PAYLOAD.size:
            return None
        tenant, campaign, expires = _PAYLOAD.unpack(payload)
        if UUID(bytes=campaign) != campaign_id or expires < (now if now is not None else time.time()):
            return None
        return UUID(bytes=tenant)
