"""FastAPI dependencies as ``Annotated`` aliases: what a route needs, named once.

The authenticated path is one ``async def`` dependency reading the request directly. FastAPI
resolves every sub-dependency (and runs plain ``def`` ones in a thread pool) on each request;
on the cached path that machinery cost more than the Redis round trip. The security schemes
are documented in ``gateway.openapi`` instead of through ``Security(...)`` objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from gateway.state import Services
from shared.settings import ApiToken


async def _services(request: Request) -> Services:
    services: Services = request.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated, rate-limited request: who asked, and with what at hand."""

    token: ApiToken
    services: Services
    request_id: str


def _presented_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <t>``, else of ``X-API-Key: <t>``."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("x-api-key") or None


async def authenticate(request: Request) -> Caller:
    """The caller behind a request with a valid token within its rate limit, or an error."""
    services: Services = request.state.services
    token = services.tokens.verify(_presented_token(request))
    await services.rate_limiter.hit(token.name)
    return Caller(token=token, services=services, request_id=request.state.request_id)
