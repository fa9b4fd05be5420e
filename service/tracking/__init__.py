"""Tracking: signed open/click/unsubscribe tokens and the public endpoints that consume them. The
authenticated intake of provider events and replies is part of the API (service/api/intake.py)."""
