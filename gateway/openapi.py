"""The OpenAPI document: FastAPI's, plus the two ways to present a token.

Authentication is checked by ``gateway.deps`` without ``Security(...)`` dependencies (see there
why), so the schemes are declared here and attached to every route that needs a token.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

SECURITY_SCHEMES = {
    "BearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer <token>",
    },
    "ApiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "X-API-Key: <token>",
    },
}
# Either scheme satisfies a route (OpenAPI: alternatives are separate entries).
REQUIRES_TOKEN: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point
