"""The trade ledger: one record per trade and per hop, states that only move forward."""

from __future__ import annotations

from shared.documents import HopRecord, Trade, TradeState
from shared.records import finish_trade, hop_started, trade_in_progress
from tests.pipeline_support import trade_requested, tweets_fetched


async def test_an_event_written_to_a_stream_gets_a_trade_record(documents: None) -> None:
    """No gateway admitted it: the first hop creates the record, already in progress."""
    event = tweets_fetched("external-1")
    await trade_in_progress(event, requested_at=None)
    trade = await Trade.get("external-1")
    assert trade is not None
    assert (trade.state, trade.requested_by) == (TradeState.IN_PROGRESS, "stream")
    assert (trade.netuid, trade.hotkey, trade.trace_id) == (18, event.hotkey, event.trace_id)


async def test_a_requested_trade_is_in_progress_once_a_hop_starts(documents: None) -> None:
    event = trade_requested("gw-1")
    await Trade(id="gw-1", trace_id="t", netuid=18, hotkey=event.hotkey, requested_by="ci").insert()
    await trade_in_progress(event, requested_at=event.requested_at)
    trade = await Trade.get("gw-1")
    assert trade is not None
    assert (trade.state, trade.requested_by) == (TradeState.IN_PROGRESS, "ci")


async def test_a_hop_delivered_again_after_the_trade_ended_does_not_reopen_it(
    documents: None,
) -> None:
    event = trade_requested("ended-1")
    await trade_in_progress(event, requested_at=event.requested_at)
    await finish_trade("ended-1", TradeState.EXECUTED, outcome={"action": "add_stake"})
    await trade_in_progress(event, requested_at=event.requested_at)
    trade = await Trade.get("ended-1")
    assert trade is not None
    assert trade.state is TradeState.EXECUTED
    assert trade.outcome == {"action": "add_stake"}


async def test_every_delivery_of_a_hop_counts_on_one_record(documents: None) -> None:
    first = await hop_started("t-1", "tweet-fetcher", entry_id="1-0", consumer="a")
    again = await hop_started("t-1", "tweet-fetcher", entry_id="1-0", consumer="b")
    other = await hop_started("t-1", "sentiment-scorer", entry_id="2-0", consumer="a")
    assert (first.attempts, again.attempts, other.attempts) == (1, 2, 1)
    assert again.id == first.id == HopRecord.key("t-1", "tweet-fetcher")
    assert again.consumer == "b"
    assert await HopRecord.find(HopRecord.trade_id == "t-1").count() == 2
