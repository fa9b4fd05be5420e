"""Tracking and intake: signed open/click/unsubscribe tokens, the public endpoints that consume them,
and the authenticated endpoints through which providers and inbound mail report events."""
