"""``GET /metrics``: Prometheus metrics of every gateway worker, without a token, like /health.

The stream gauges are read from Redis at each scrape, so they are as fresh as the scrape.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.deps import ServicesDep
from shared import metrics
from shared.streams.topology import topology

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/openmetrics-text": {"schema": {"type": "string"}},
            },
            "description": "Prometheus text format; OpenMetrics when `Accept` asks for it.",
        }
    },
    summary="Prometheus metrics: requests, cache, chain, streams",
    operation_id="metrics",
)
async def prometheus_metrics(request: Request, services: ServicesDep) -> Response:
    settings = services.settings
    await metrics.refresh_stream_gauges(
        services.redis,
        topology(settings).values(),
        within=settings.redis_timeout_seconds * 4,  # as /ready: a few Redis calls in sequence
    )
    # OpenMetrics when the scraper asks for it (Prometheus does), else the text format.
    body, content_type = metrics.render(request.headers.get("accept", ""))
    return Response(body, media_type=content_type)
