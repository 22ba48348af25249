"""The request's context, in one plain ASGI middleware (not ``BaseHTTPMiddleware``, which costs
a task per request), wrapping ``send`` once:

- its id: taken from ``X-Request-ID`` or made up, bound to every log line, echoed back. The id
  is also the trace id a trade carries through every hop;
- its metrics: latency by route template and status.

Both run on every request, the cached path's included, so they take the cheap way: a made-up
id is 128 random bits from ``random`` (an id needs uniqueness, not secrecy; ``uuid4`` costs a
system call), and the id is bound by resetting its context variable (``bound_contextvars``
copies the whole logging context to restore it).
"""

from __future__ import annotations

import random
import re
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import REQUEST_SECONDS, UNMATCHED

HEADER = b"x-request-id"
# Ids from clients are echoed into logs and headers: accept only short, plain ones.
_ACCEPTABLE = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception escaping the app is answered 500 further out
        incoming = dict(scope["headers"]).get(HEADER, b"")
        request_id = incoming.decode() if _ACCEPTABLE.match(incoming) else _new_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_context(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((HEADER, request_id.encode()))
            await send(message)

        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_context)
        finally:
            structlog.contextvars.reset_contextvars(**bound)
            # Under its route template (``/api/v1/trades/{trade_id}``), never the raw path, whose
            # values are unbounded. The router put the matched route into this same scope dict.
            route = getattr(scope.get("route"), "path", UNMATCHED)
            REQUEST_SECONDS.labels(route, str(status)).observe(time.perf_counter() - started)


def _new_id() -> str:
    return f"{random.getrandbits(128):032x}"
