"""The OpenAPI document: FastAPI's, plus the two ways to present a token and the error answers.

Authentication is checked by ``gateway.deps`` without ``Security(...)`` dependencies (see there
why), so the schemes are declared here and attached to every route that needs a token.

``error_responses`` documents the errors an operation can answer from the error classes it can
raise: per status, the body (``ErrorResponse``, its ``code`` narrowed to those classes' codes),
what each code means, and the headers that come with it (``WWW-Authenticate``, ``Retry-After``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.schemas import ErrorResponse
from shared.errors import (
    ChainUnavailable,
    NotAuthenticated,
    RateLimited,
    ServiceError,
    TradeUnavailable,
)

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

_COMPONENT = "#/components/schemas/{model}"
_ERROR_SCHEMA = _COMPONENT.format(model="ErrorResponse")
_WWW_AUTHENTICATE = {
    "description": "How to authenticate: `Bearer`.",
    "schema": {"type": "string"},
}
_RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer", "minimum": 1},
}
# The headers each error is answered with (gateway.errors sets them).
_HEADERS: dict[type[ServiceError], dict[str, dict[str, Any]]] = {
    NotAuthenticated: {"WWW-Authenticate": _WWW_AUTHENTICATE},
    RateLimited: {"Retry-After": _RETRY_AFTER},
    ChainUnavailable: {"Retry-After": _RETRY_AFTER},
    TradeUnavailable: {"Retry-After": _RETRY_AFTER},
}


def trade_link(pointer: str) -> dict[str, Any]:
    """An OpenAPI link: the trade id at ``pointer`` in a 200 body opens that trade's timeline."""
    return {
        "operationId": "get_trade",
        "parameters": {"trade_id": f"$response.body#{pointer}"},
        "description": "The trade's timeline, hop by hop.",
    }


def error_responses(*errors: type[ServiceError]) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses`` for an operation that may raise ``errors``, grouped by status."""
    by_status: dict[int, list[type[ServiceError]]] = defaultdict(list)
    for error in errors:
        by_status[error.status].append(error)
    return {status: _response(group) for status, group in sorted(by_status.items())}


def _response(errors: list[type[ServiceError]]) -> dict[str, Any]:
    codes = [error.code for error in errors]
    description = "\n".join(f"- `{error.code}`: {_first_line(error)}" for error in errors)
    schema = {
        "allOf": [{"$ref": _ERROR_SCHEMA}],
        "properties": {"error": {"properties": {"code": {"enum": codes}}}},
    }
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    headers: dict[str, dict[str, Any]] = {}
    for error in errors:
        for name, header in _HEADERS.get(error, {}).items():
            # Required only when every error of this status carries the header.
            carried_by_all = all(name in _HEADERS.get(other, {}) for other in errors)
            headers[name] = header | {"required": carried_by_all}
    if headers:
        response["headers"] = headers
    return response


def _first_line(error: type[ServiceError]) -> str:
    return (error.__doc__ or error.code).strip().splitlines()[0]


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = schema.setdefault("components", {})
            components["securitySchemes"] = SECURITY_SCHEMES
            models = components.setdefault("schemas", {})
            error_schema = ErrorResponse.model_json_schema(ref_template=_COMPONENT)
            models.update(error_schema.pop("$defs", {}))
            models["ErrorResponse"] = error_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point
