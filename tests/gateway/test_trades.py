"""trade=true: admission, one event on the trade.requested stream, and its record."""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.redis.parser import BinaryMessageFormatV1
from redis.asyncio import Redis

from offline.substrate import FakeSubstrate
from shared.documents import Trade, TradeState
from shared.events import TradeRequested
from shared.settings import Settings
from tests.conftest import HOTKEY, OTHER_HOTKEY, TRADE_TOKEN
from tests.gateway_client import running_gateway
from tests.waiting import entries

URL = "/api/v1/tao_dividends"
AUTH = {"Authorization": f"Bearer {TRADE_TOKEN}"}


async def stream_events(redis: Redis, stream: str) -> list[TradeRequested]:
    found = await entries(redis, stream)
    events = []
    for _entry_id, fields in found:
        body, _headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
        events.append(TradeRequested.model_validate_json(body))
    return events


async def test_trade_true_queues_one_well_formed_event_and_records_it(
    settings: Settings, substrate: FakeSubstrate, redis: Redis
) -> None:
    """The answer carries the trade id; the stream holds exactly that event; MongoDB the record."""
    async with running_gateway(settings, substrate) as client:
        response = await client.get(
            URL,
            params={"netuid": 18, "hotkey": HOTKEY, "trade": "true"},
            headers={**AUTH, "X-Request-ID": "req-123"},
        )
        body = response.json()
        record = await Trade.get(body["trade_id"])
    assert response.status_code == 200
    assert body["trade_enqueued"] is True
    assert body["dividend"] == 1_000_000_000
    [event] = await stream_events(redis, settings.stream_trade_requested)
    assert event.trade_id == body["trade_id"]
    assert (event.netuid, event.hotkey, event.trace_id) == (18, HOTKEY, "req-123")
    assert record is not None
    assert (record.netuid, record.hotkey, record.state) == (18, HOTKEY, TradeState.REQUESTED)
    assert record.requested_by == "trader"
    assert record.trace_id == "req-123"


async def test_a_repeat_within_the_cooldown_returns_the_same_trade_id(
    settings: Settings, substrate: FakeSubstrate, redis: Redis
) -> None:
    """Concurrent and later repeats for one target share one trade; another target gets its own."""
    params: dict[str, Any] = {"netuid": 18, "hotkey": HOTKEY, "trade": "true"}
    async with (
        running_gateway(settings, substrate) as one,
        running_gateway(settings, substrate) as two,
    ):
        burst = await asyncio.gather(
            *(client.get(URL, params=params, headers=AUTH) for client in [one, two] * 5)
        )
        later = await one.get(URL, params=params, headers=AUTH)
        other = await one.get(URL, params={**params, "hotkey": OTHER_HOTKEY}, headers=AUTH)
        records = await Trade.find_all().to_list()
    trade_ids = {r.json()["trade_id"] for r in burst}
    assert len(trade_ids) == 1
    assert later.json()["trade_id"] in trade_ids
    assert other.json()["trade_id"] not in trade_ids
    assert len(await stream_events(redis, settings.stream_trade_requested)) == 2
    assert len(records) == 2


async def test_trade_needs_both_netuid_and_hotkey(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """A trade has one target: without a hotkey it is refused, naming the missing field."""
    async with running_gateway(settings, substrate) as client:
        response = await client.get(URL, params={"netuid": 18, "trade": "true"}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "hotkey"


async def test_recent_trades_are_filtered_by_their_outcome(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """`action=` keeps the trades whose stake-executor did that; trades it has not reached have
    no outcome and match no action."""
    async with running_gateway(settings, substrate) as client:
        for trade_id, action in [("a", "add_stake"), ("b", "skip"), ("c", None)]:
            outcome = {"action": action, "reason": "r"} if action else None
            await Trade(
                id=trade_id,
                trace_id=trade_id,
                netuid=18,
                hotkey=HOTKEY,
                requested_by="r",
                outcome=outcome,
            ).insert()
        skipped = await client.get("/api/v1/trades", params={"action": "skip"}, headers=AUTH)
        everything = await client.get("/api/v1/trades", headers=AUTH)
        unknown = await client.get("/api/v1/trades", params={"action": "hold"}, headers=AUTH)
    assert [t["trade_id"] for t in skipped.json()["items"]] == ["b"]
    assert skipped.json()["total"] == 1
    assert everything.json()["total"] == 3
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "action"
