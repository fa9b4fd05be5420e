"""The interactive API docs at /docs, served entirely by the app: Swagger UI's files come from the
swagger-ui-bundle-v2 package and are served under /docs/assets, so the page works without internet
access (no CDN, no remote favicon)."""

from __future__ import annotations

from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

ASSETS_PATH = "/docs/assets"

swagger_assets = create_static_files_router(
    path=ASSETS_PATH, directories=[swagger_ui_path], name="docs-assets", include_in_schema=False,
)


def swagger_ui() -> SwaggerRenderPlugin:
    """Swagger UI at /docs (and /docs/swagger), from the app's own assets."""
    return SwaggerRenderPlugin(
        path=["/", "/swagger"],
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
    )
