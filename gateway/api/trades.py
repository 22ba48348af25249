"""``GET /api/v1/trades/{trade_id}`` and ``GET /api/v1/trades``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from gateway import trades
from gateway.deps import authenticate
from gateway.openapi import REQUIRES_TOKEN
from gateway.schemas import ErrorResponse, HopOut, TradeOut, TradePage, TradeSummary
from shared.documents import TradeState
from shared.events import Hotkey

router = APIRouter(prefix="/api/v1/trades", tags=["trades"])

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "`not_authenticated`"},
    404: {"model": ErrorResponse, "description": "`not_found`: no such trade"},
    422: {"model": ErrorResponse, "description": "`invalid_parameter`"},
    429: {"model": ErrorResponse, "description": "`rate_limited`"},
    503: {
        "model": ErrorResponse,
        "description": "`trade_unavailable`: MongoDB cannot be read now; see `Retry-After`.",
    },
}


@router.get(
    "/{trade_id}",
    response_model=TradeOut,
    responses=_ERRORS,
    summary="One trade's timeline, hop by hop",
    openapi_extra={"security": REQUIRES_TOKEN},
)
async def get_trade(request: Request, trade_id: Annotated[str, Path(max_length=64)]) -> TradeOut:
    await authenticate(request)
    trade, hops = await trades.timeline(trade_id)
    return TradeOut(
        **TradeSummary.from_document(trade).model_dump(),
        hops=[HopOut.model_validate(hop, from_attributes=True) for hop in hops],
    )


@router.get(
    "",
    response_model=TradePage,
    responses=_ERRORS,
    summary="Recent trades, newest first, filtered",
    openapi_extra={"security": REQUIRES_TOKEN},
)
async def list_trades(
    request: Request,
    netuid: Annotated[int | None, Query(ge=0, le=65535)] = None,
    hotkey: Annotated[Hotkey | None, Query()] = None,
    state: Annotated[TradeState | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> TradePage:
    await authenticate(request)
    page, total = await trades.recent(
        netuid=netuid, hotkey=hotkey, state=state, offset=offset, limit=limit
    )
    return TradePage(
        items=[TradeSummary.from_document(trade) for trade in page],
        total=total,
        offset=offset,
        limit=limit,
    )
