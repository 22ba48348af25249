"""``GET /api/v1/trades/{trade_id}`` and ``GET /api/v1/trades``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from gateway import trades
from gateway.deps import authenticate
from gateway.openapi import REQUIRES_TOKEN, error_responses, trade_link
from gateway.query import parse_query, query_parameters
from gateway.schemas import HopOut, TradeOut, TradePage, TradesParams, TradeSummary
from shared.errors import (
    InvalidInput,
    NotAuthenticated,
    NotFound,
    RateLimited,
    TradeUnavailable,
)
from shared.events import TradeId

router = APIRouter(prefix="/api/v1/trades", tags=["trades"])


@router.get(
    "/{trade_id}",
    response_model=TradeOut,
    responses=error_responses(
        NotAuthenticated, NotFound, InvalidInput, RateLimited, TradeUnavailable
    ),
    summary="One trade's timeline, hop by hop",
    operation_id="get_trade",
    openapi_extra={"security": REQUIRES_TOKEN},
)
async def get_trade(request: Request, trade_id: Annotated[TradeId, Path()]) -> TradeOut:
    await authenticate(request)
    trade, hops = await trades.timeline(trade_id)
    return TradeOut(
        **TradeSummary.from_document(trade).model_dump(),
        hops=[HopOut.model_validate(hop, from_attributes=True) for hop in hops],
    )


@router.get(
    "",
    response_model=TradePage,
    responses=error_responses(NotAuthenticated, InvalidInput, RateLimited, TradeUnavailable),
    summary="Recent trades, newest first, filtered",
    operation_id="list_trades",
    openapi_extra={
        "security": REQUIRES_TOKEN,
        "parameters": query_parameters(TradesParams),
        "responses": {"200": {"links": {"FirstTradeTimeline": trade_link("/items/0/trade_id")}}},
    },
)
async def list_trades(request: Request) -> TradePage:
    await authenticate(request)
    params = parse_query(request, TradesParams)
    page, total = await trades.recent(
        netuid=params.netuid,
        hotkey=params.hotkey,
        state=params.state,
        action=params.action,
        offset=params.offset,
        limit=params.limit,
    )
    return TradePage(
        items=[TradeSummary.from_document(trade) for trade in page],
        total=total,
        offset=params.offset,
        limit=params.limit,
    )
