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
from gateway.openapi import REQUIRES_TOKEN
from gateway.query import parse_query, query_parameters
from gateway.routing import DirectRoute
from gateway.schemas import DividendsParams, DividendsResponse, ErrorResponse
from shared.errors import InvalidInput
from shared.settings import Scope

router = APIRouter(prefix="/api/v1", tags=["dividends"], route_class=DirectRoute)

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "`not_authenticated`: missing or unknown token."},
    403: {
        "model": ErrorResponse,
        "description": "`insufficient_scope`: `trade=true` needs the trade scope.",
    },
    404: {"model": ErrorResponse, "description": "`not_found`: the subnet does not exist."},
    422: {
        "model": ErrorResponse,
        "description": "`invalid_parameter`: `field` names the parameter.",
    },
    429: {"model": ErrorResponse, "description": "`rate_limited`: see `Retry-After`."},
    503: {
        "model": ErrorResponse,
        "description": "`chain_unavailable`, `dividend_item_unavailable` or `trade_unavailable`; "
        "see `Retry-After`.",
    },
}


@router.get(
    "/tao_dividends",
    response_model=DividendsResponse,
    responses=_ERRORS,
    summary="Root dividends per hotkey and subnet",
    openapi_extra={"security": REQUIRES_TOKEN, "parameters": query_parameters(DividendsParams)},
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
    netuid, hotkey, trade = params.netuid, params.hotkey, params.trade
    if trade:
        require_scope(caller.token, Scope.TRADE, field="trade")
    if hotkey is not None and netuid is None:
        raise InvalidInput("hotkey needs a netuid", field="netuid")
    target = _trade_target(netuid, hotkey) if trade else None

    result = await services.dividends.get(DividendQuery(netuid, hotkey, params.cursor))
    admission = None
    if target is not None:
        admission = await services.admission.admit(
            netuid=target[0],
            hotkey=target[1],
            requested_by=caller.token.name,
            trace_id=caller.request_id,
        )
    return Response(_render(result, admission), media_type="application/json")


def _trade_target(netuid: int | None, hotkey: str | None) -> tuple[int, str]:
    """A trade has exactly one target: both parameters are required."""
    if netuid is None:
        raise InvalidInput("trade=true needs a netuid", field="netuid")
    if hotkey is None:
        raise InvalidInput("trade=true needs a hotkey", field="hotkey")
    return netuid, hotkey


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
