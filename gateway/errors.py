"""One error shape for every failure: ``{"error": {"code", "message", "field"}}``.

Domain errors carry their code and status (``shared.errors``); this module is the only place
that turns them, request validation errors and unexpected exceptions into HTTP responses.
Internals (exception text, stack traces) are logged, never sent.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import NotAuthenticated, ServiceError
from shared.logging import get_logger

log = get_logger(__name__)

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "field": field}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _service_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServiceError)
    headers: dict[str, str] = {}
    if isinstance(error, NotAuthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="tao-dividends"'
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if error.status >= 500:
        log.warning("http.unavailable", code=error.code, message=error.message)
    return error_response(
        error.status, error.code, error.message, field=error.field, headers=headers
    )


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body")]
    field = ".".join(location) or None
    message = str(first.get("msg", "invalid value"))
    return error_response(422, "invalid_parameter", message, field=field)


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = _HTTP_CODES.get(error.status_code, "http_error")
    return error_response(
        error.status_code, code, str(error.detail), headers=dict(error.headers or {})
    )


async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    log.exception("http.unhandled_error", kind=type(error).__name__)
    return error_response(500, "internal_error", "an unexpected error occurred")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
