"""FastAPI dependencies as ``Annotated`` aliases: what a route needs, named once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from gateway.state import Services
from shared.settings import ApiToken

# Declared for the OpenAPI document (both schemes show under "Authorize" at /docs);
# auto_error=False so that a missing token is our 401 with our error body.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <token>")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <token>")


def _services(request: Request) -> Services:
    services: Services = request.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


def _request_id(request: Request) -> str:
    request_id: str = request.state.request_id
    return request_id


RequestIdDep = Annotated[str, Depends(_request_id)]


async def _authenticated(
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> ApiToken:
    token = services.tokens.verify((bearer.credentials if bearer else None) or api_key)
    await services.rate_limiter.hit(token.name)
    return token


TokenDep = Annotated[ApiToken, Depends(_authenticated)]
