"""``GET /api/v1/tao_dividends``."""

from __future__ import annotations

import time

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.admission import Admission
from gateway.auth import require_scope
from gateway.cache import CacheResult
from gateway.deps import authenticate
from gateway.dividends import DividendQuery
from gateway.openapi import REQUIRES_TOKEN, error_responses, trade_link
from gateway.query import parse_query, query_parameters
from gateway.routing import DirectRoute
from gateway.schemas import DividendsParams, DividendsResponse
from shared.errors import (
    ChainUnavailable,
    DividendItemMissing,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    RateLimited,
    TradeUnavailable,
)
from shared.settings import Scope

router = APIRouter(prefix="/api/v1", tags=["dividends"], route_class=DirectRoute)


@router.get(
    "/tao_dividends",
    response_model=DividendsResponse,
    responses=error_responses(
        NotAuthenticated,
        Forbidden,
        NotFound,
        InvalidInput,
        RateLimited,
        ChainUnavailable,
        DividendItemMissing,
        TradeUnavailable,
    ),
    summary="Root dividends per hotkey and subnet",
    operation_id="tao_dividends",
    openapi_extra={
        "security": REQUIRES_TOKEN,
        "parameters": query_parameters(DividendsParams),
        "responses": {"200": {"links": {"TradeTimeline": trade_link("/trade_id")}}},
    },
)
async def tao_dividends(request: Request) -> Response:
    """Root dividends read from the chain, or from the shared cache (fixed TTL).

    - `netuid` and `hotkey`: that one value. `netuid` only: every hotkey of that subnet.
      Neither: all subnets, a page of at most `SUBNETS_PAGE_SIZE` subnets; follow `next_cursor`.
    - `hotkey` without `netuid` is refused (422).
    - `trade=true` (needs `netuid` and `hotkey`, and a token with the trade scope) queues a
      trade and answers at once with its `trade_id`; a repeat within the cooldown returns the
      same `trade_id`.
    """
    caller = await authenticate(request)
    params = parse_query(request, DividendsParams)
    services = caller.services
    target = params.trade_target
    if target is not None:
        require_scope(caller.token, Scope.TRADE, field="trade")

    query = DividendQuery(params.netuid, params.hotkey, params.cursor)
    result = await services.dividends.get(query)
    admission = None
    if target is not None:
        admission = await services.admission.admit(
            netuid=target[0],
            hotkey=target[1],
            requested_by=caller.token.name,
            trace_id=caller.request_id,
        )
    return Response(_render(result, admission), media_type="application/json")


def _render(result: CacheResult, admission: Admission | None) -> bytes:
    """The cached payload with this request's fields spliced in, without re-serializing it.

    The payload is stored as serialized JSON; parsing and re-dumping it on every hit would
    cost more than the rest of the request.
    """
    head = orjson.dumps(
        {
            "cached": result.cached,
            "cache_age_seconds": round(result.age_seconds(time.time()), 3),
            "trade_enqueued": admission is not None,
            "trade_id": admission.trade_id if admission else None,
        }
    )
    return head[:-1] + b"," + result.entry.payload[1:]
