"""The trade ledger: one record per trade and per hop, states that only move forward."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from shared.documents import HopRecord, HopState, StakeClaim, Trade, TradeState
from shared.records import (
    Inserts,
    finish_trade,
    hop_started,
    hops_finished,
    trade_in_progress,
    trades_in_progress,
)
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


def inserts_sent() -> float:
    """Insert commands sent so far by this process (PyMongo command monitoring)."""
    sent = REGISTRY.get_sample_value("taodiv_mongodb_commands_total", {"command": "insert"})
    return sent or 0.0


async def test_a_batch_creates_the_missing_trade_records_in_one_insert(documents: None) -> None:
    """Trades written straight to a stream get their records in progress, in one command."""
    events = [trade_requested(f"bulk-{n}") for n in range(5)]
    before = inserts_sent()
    await trades_in_progress(events)
    assert inserts_sent() - before == 1
    trades = [await Trade.get(f"bulk-{n}") for n in range(5)]
    assert [t.state if t else None for t in trades] == [TradeState.IN_PROGRESS] * 5


async def test_a_batch_moves_the_trades_the_gateway_admitted_and_leaves_the_others(
    documents: None,
) -> None:
    """The first hop moves a requested trade to in progress; an ended one stays ended."""
    admitted, ended, new = (
        trade_requested("gw-2"),
        trade_requested("ended-2"),
        trade_requested("new-2"),
    )
    await Trade(
        id="gw-2", trace_id="t", netuid=18, hotkey=admitted.hotkey, requested_by="ci"
    ).insert()
    await trades_in_progress([ended])
    await finish_trade("ended-2", TradeState.EXECUTED)
    await trades_in_progress([admitted, ended, new])
    states = {t: (await Trade.get(t)) for t in ("gw-2", "ended-2", "new-2")}
    assert {t: r.state for t, r in states.items() if r} == {
        "gw-2": TradeState.IN_PROGRESS,
        "ended-2": TradeState.EXECUTED,
        "new-2": TradeState.IN_PROGRESS,
    }
    assert states["gw-2"] is not None
    assert states["gw-2"].requested_by == "ci"


async def test_finished_hops_of_a_batch_are_inserted_and_existing_ones_are_named(
    documents: None,
) -> None:
    """An existing record is left as it was, and its index returned for the runner to resolve."""
    await hop_started("t-2", "tweet-fetcher", entry_id="1-0", consumer="a")
    records = [
        HopRecord(id=HopRecord.key(t, "tweet-fetcher"), trade_id=t, hop="tweet-fetcher",
                  state=HopState.FINISHED, attempts=1, entry_id="2-0", consumer="b")
        for t in ("t-1", "t-2", "t-3")
    ]  # fmt: skip
    assert await hops_finished(records) == [1]
    kept = await HopRecord.get(HopRecord.key("t-2", "tweet-fetcher"))
    assert kept is not None
    assert (kept.state, kept.consumer) == (HopState.STARTED, "a")


async def test_inserts_made_at_the_same_moment_go_out_together(documents: None) -> None:
    """Each caller learns whether its own document was new, from one bulk insert."""
    await StakeClaim(id="held-1", consumer="a").insert()
    claims = Inserts(StakeClaim)
    before = inserts_sent()
    inserted = await asyncio.gather(
        *(claims.insert(StakeClaim(id=t, consumer="b")) for t in ("new-1", "held-1", "new-2"))
    )
    assert inserted == [True, False, True]
    assert inserts_sent() - before == 1
