"""``/health`` (liveness) and ``/ready`` (each dependency checked), both without a token."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway.deps import ServicesDep
from gateway.schemas import ReadinessResponse

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers", operation_id="health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=ReadinessResponse,
    responses={503: {"model": ReadinessResponse, "description": "A dependency is not ready."}},
    summary="Readiness: Redis, MongoDB and the chain each checked",
    operation_id="ready",
)
async def ready(services: ServicesDep) -> JSONResponse:
    timeout = services.settings.redis_timeout_seconds * 4
    redis, mongo, chain = await asyncio.gather(
        _check(services.redis.ping(), timeout),
        _check(services.mongo.admin.command("ping"), timeout),
        _check(services.chain.call(lambda client: client.block()), None),
    )
    checks = {"redis": redis, "mongodb": mongo, "chain": chain}
    is_ready = all(value == "ok" for value in checks.values())
    body = ReadinessResponse(ready=is_ready, checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if is_ready else 503)


async def _check(probe: Awaitable[object], seconds: float | None) -> str:
    try:
        async with asyncio.timeout(seconds):
            await probe
    except Exception as error:  # readiness reports any failure; it never raises
        return f"unavailable: {type(error).__name__}"
    return "ok"
