"""Structured logs: JSON lines carrying the request or message id; every response names its request id."""

from __future__ import annotations

import json
import logging

from service.logs import JsonFormatter, message_id_var, request_id_var
from tests.support.api import in_process


def _line(**extra) -> dict:
    record = logging.LogRecord("campaigns.test", logging.WARNING, __file__, 1, "sent %s", ("x",), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return json.loads(JsonFormatter().format(record))


def test_json_line_carries_context_ids():
    token = request_id_var.set("req-1")
    try:
        doc = _line(message_id="m-1")
    finally:
        request_id_var.reset(token)
    assert doc["level"] == "warning" and doc["logger"] == "campaigns.test" and doc["message"] == "sent x"
    assert (doc["request_id"], doc["message_id"]) == ("req-1", "m-1")
    token = message_id_var.set("m-2")
    try:
        assert _line()["message_id"] == "m-2" and "request_id" not in _line()
    finally:
        message_id_var.reset(token)


def test_every_response_carries_a_request_id(shared_db_url):
    # Reads only, so the session's shared database will do.
    with in_process(shared_db_url) as app, app.client() as anonymous:
        given = anonymous.get("/health", headers={"X-Request-ID": "trace-42"})
        fresh = anonymous.get("/api/campaigns")                 # a 401 has one too
        other = anonymous.get("/health")
    assert given.headers["x-request-id"] == "trace-42"
    assert fresh.status_code == 401 and len(fresh.headers["x-request-id"]) == 32
    assert other.headers["x-request-id"] != fresh.headers["x-request-id"]
