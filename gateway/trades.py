"""Reading trades back: one trade's timeline, hop by hop, and filtered pages of recent trades."""

from __future__ import annotations

from typing import Any

from beanie import SortDirection

from shared.documents import HopRecord, Trade, TradeState
from shared.errors import NotFound
from shared.events import StakeAction

# The hops in pipeline order, so a timeline reads top to bottom.
_HOP_ORDER = {"tweet-fetcher": 0, "sentiment-scorer": 1, "stake-executor": 2}


async def timeline(trade_id: str) -> tuple[Trade, list[HopRecord]]:
    trade = await Trade.get(trade_id)
    if trade is None:
        raise NotFound(f"no trade {trade_id}", field="trade_id")
    hops = await HopRecord.find(HopRecord.trade_id == trade_id).to_list()
    hops.sort(key=lambda hop: (_HOP_ORDER.get(hop.hop, len(_HOP_ORDER)), hop.started_at))
    return trade, hops


async def recent(
    *,
    netuid: int | None,
    hotkey: str | None,
    state: TradeState | None,
    action: StakeAction | None,
    offset: int,
    limit: int,
) -> tuple[list[Trade], int]:
    """A page of trades, newest first, and how many match in all. ``action`` is the outcome:
    what the stake-executor did (trades that have not reached it have none)."""
    query: dict[str, Any] = {}
    if netuid is not None:
        query["netuid"] = netuid
    if hotkey is not None:
        query["hotkey"] = hotkey
    if state is not None:
        query["state"] = state.value
    if action is not None:
        query["outcome.action"] = action.value
    found = Trade.find(query)
    total = await found.count()
    newest_first = ("requested_at", SortDirection.DESCENDING)
    page = await Trade.find(query).sort(newest_first).skip(offset).limit(limit).to_list()
    return page, total
