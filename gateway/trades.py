"""Reading trades back: one trade's timeline, hop by hop, and filtered pages of recent trades.

MongoDB failing (down, or slower than MONGODB_TIMEOUT_SECONDS) is ``503 trade_unavailable``
with Retry-After, never a 500: the trades are there, they just cannot be read now.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from beanie import SortDirection
from pymongo.errors import PyMongoError

from shared.documents import HopRecord, Trade, TradeState
from shared.errors import NotFound, TradeUnavailable
from shared.events import StakeAction
from shared.logging import get_logger

log = get_logger(__name__)

# The hops in pipeline order, so a timeline reads top to bottom.
_HOP_ORDER = {"tweet-fetcher": 0, "sentiment-scorer": 1, "stake-executor": 2}


@contextlib.contextmanager
def _reading() -> Iterator[None]:
    try:
        yield
    except PyMongoError as error:
        log.warning("trade.read_failed", error=str(error), kind=type(error).__name__)
        raise TradeUnavailable("trades cannot be read right now", retry_after=5) from error


async def timeline(trade_id: str) -> tuple[Trade, list[HopRecord]]:
    with _reading():
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
    newest_first = ("requested_at", SortDirection.DESCENDING)
    with _reading():
        total = await Trade.find(query).count()
        page = await Trade.find(query).sort(newest_first).skip(offset).limit(limit).to_list()
    return page, total
