"""`OPTIONS` answers with every method its path serves.

Litestar builds one route per path from the handlers of each controller and router in turn, and the
OPTIONS handler it adds keeps the methods of the first of those builds: a path served by two handlers
(GET and POST on /api/contacts) would answer `Allow: OPTIONS, POST`. This hook answers OPTIONS from
the app's finished route table instead. (A 405 already names the methods of the whole path; the
exception handler only sorts them the same way.)
"""

from __future__ import annotations

from litestar import Litestar, Request, Response
from litestar.routes import HTTPRoute


def allow_value(methods: object) -> str:
    """An Allow header's value: the methods, sorted, comma-separated."""
    return ", ".join(sorted({str(m).strip().upper() for m in methods if str(m).strip()}))  # type: ignore[attr-defined]


class OptionsAnswer:
    """A before-request hook of the app; `bind` it to the app once the app is built."""

    def __init__(self) -> None:
        self._allow: dict[str, str] = {}

    def bind(self, app: Litestar) -> None:
        self._allow = {route.path_format: allow_value(route.methods)
                       for route in app.routes if isinstance(route, HTTPRoute)}

    async def __call__(self, request: Request) -> Response | None:
        if request.method != "OPTIONS":
            return None
        allow = self._allow.get(request.scope.get("path_template", ""))
        if allow is None:
            return None
        return Response(content=None, status_code=204, headers={"Allow": allow})
