"""``DirectRoute``: a documented FastAPI route served without FastAPI's per-request machinery.

FastAPI's documented extension point for custom request handling is an ``APIRoute`` subclass
overriding ``get_route_handler``. A route of this class is registered, validated at import and
described in the OpenAPI document like any other; on each request it only calls its endpoint.
That is for endpoints that take the ``Request`` and return a ``Response`` themselves (parsing
their own query, as ``gateway.query`` does): FastAPI would otherwise solve an empty dependency
graph, and re-read the query string, on every request, which costs the cached dividends path
more than everything it does itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

from fastapi import Request, Response
from fastapi.routing import APIRoute

Endpoint = Callable[[Request], Awaitable[Response]]


class DirectRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = cast(Endpoint, self.endpoint)

        async def handle(request: Request) -> Response:
            return await endpoint(request)

        return handle
