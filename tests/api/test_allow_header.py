"""`OPTIONS` and every 405 list all the methods a path serves, on every path of the app, whatever
number of handlers (controllers, routers) serve that path: a method is in `Allow` exactly when calling
it is not a 405, and the OpenAPI document's methods of the path are all in it."""

from __future__ import annotations

import re
import uuid

import pytest

from service.app import create_app
from tests.support.api import assert_problem

APP = create_app("postgresql://unused")
PATHS = sorted(route.path for route in APP.routes if hasattr(route, "route_handler_map"))
CANDIDATES = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def url_of(path: str) -> str:
    return re.sub(r"\{(\w+):(\w+)\}", lambda m: str(uuid.uuid4()) if m[2] == "uuid" else "x", path)


def allow(response) -> set[str]:
    return {m.strip() for m in response.headers["allow"].split(",")}


@pytest.fixture(scope="module")
def documented(module_api_app) -> dict[str, set[str]]:
    """The OpenAPI document's methods per path (in Litestar's `{name:type}` form)."""
    with module_api_app.client() as anonymous:
        document = anonymous.get("/docs/openapi.json").json()
    by_template = {re.sub(r"\{(\w+):\w+\}", r"{\1}", path): path for path in PATHS}
    return {by_template[path]: {m.upper() for m in item if m in ("get", "post", "put", "patch", "delete")}
            for path, item in document["paths"].items()}


def test_every_documented_path_is_checked(documented):
    assert len(documented) >= 40 and set(documented) <= set(PATHS)


@pytest.mark.parametrize("path", PATHS)
def test_options_and_405_list_every_method_of_the_path(api, anonymous, documented, path):
    url = url_of(path)
    response = api.options(url)
    assert response.status_code == 204, response.text
    allowed = allow(response)
    assert "OPTIONS" in allowed
    assert documented.get(path, set()) <= allowed
    for method in CANDIDATES:
        # Without a key: a served /api method is a 401, an unserved one a 405 (decided first).
        answer = anonymous.request(method, url)
        if method in allowed:
            assert answer.status_code != 405, (method, answer.text)
        else:
            if method == "HEAD":  # no body to look at
                assert answer.status_code == 405
            else:
                assert_problem(answer, 405, "METHOD_NOT_ALLOWED")
            assert allow(answer) == allowed
            assert answer.headers["allow"] == response.headers["allow"]


def test_a_path_with_two_handlers_lists_both(api):
    """GET and POST on /api/contacts come from two handlers of one controller."""
    assert allow(api.options("/api/contacts")) == {"GET", "OPTIONS", "POST"}
