"""The consumers' metrics after real trades: trades by outcome, stake amounts, hops, streams.

The consumers run in-process with METRICS_PORT=0 (no port bound); their metrics are read from
the process's registry through ``shared.metrics.render``, which is what a scrape answers.
"""

from __future__ import annotations

import json

from pytest_httpserver import HTTPServer
from redis.asyncio import Redis

from offline.chutes import completion
from offline.desearch import tweets_answer
from offline.substrate import FakeSubstrate
from shared.settings import Settings
from shared.streams.topology import HopName, topology
from tests.conftest import HOTKEY, TRADER_MNEMONIC
from tests.metrics_support import Samples
from tests.pipeline_support import (
    pipeline_settings,
    running_pipeline,
    wait_for_terminal,
)
from tests.waiting import eventually

TRADES = "taodiv_trades_total"
HOPS = "taodiv_hop_duration_seconds_count"


def serve(httpserver: HTTPServer, reply: str) -> None:
    httpserver.expect_request("/twitter", method="GET").respond_with_json(tweets_answer("SN18"))
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        completion(reply)
    )


async def trade(redis: Redis, settings: Settings, trade_id: str) -> None:
    """Request a trade on the stream, as any producer may, and wait for it to end."""
    event = {"schema_version": 1, "trade_id": trade_id, "trace_id": trade_id, "netuid": 18}
    data = json.dumps({**event, "hotkey": HOTKEY})
    await redis.xadd(settings.stream_trade_requested, {"__data__": data})
    await wait_for_terminal(trade_id)


async def test_an_executed_and_a_skipped_trade_are_counted_with_the_amount_staked(
    settings: Settings, substrate: FakeSubstrate, httpserver: HTTPServer, redis: Redis
) -> None:
    """Score 90 then 3 in paper mode: one executed add_stake of 1 TAO and one skip are counted."""
    settings = pipeline_settings(settings, httpserver, metrics_port=0)
    before = Samples.of_this_process()
    async with running_pipeline(settings, substrate):
        serve(httpserver, '{"score": 90}')
        await trade(redis, settings, "metrics-executed")
        httpserver.clear()
        serve(httpserver, '{"score": 3}')
        await trade(redis, settings, "metrics-skipped")
    after = Samples.of_this_process()

    executed = {"action": "add_stake", "mode": "paper", "result": "executed"}
    skipped = {"action": "skip", "mode": "paper", "result": "skipped"}
    assert after.increase(before, TRADES, **executed) == 1
    assert after.increase(before, TRADES, **skipped) == 1
    stake = {"mode": "paper", "action": "add_stake"}
    assert after.increase(before, "taodiv_stake_amount_tao_count", **stake) == 1
    assert after.increase(before, "taodiv_stake_amount_tao_sum", **stake) == 1.0
    assert after.increase(before, "taodiv_stake_amount_tao_count", mode="paper", action="skip") == 0
    for hop in HopName:
        assert after.increase(before, HOPS, hop=hop.value, outcome="finished") == 2


async def test_a_live_trade_counts_its_amount_under_the_live_mode(
    settings: Settings, substrate: FakeSubstrate, httpserver: HTTPServer, redis: Redis
) -> None:
    """Score -60 in live mode: one executed remove_stake of 1 TAO, under mode="live"."""
    serve(httpserver, '{"score": -60}')
    settings = pipeline_settings(
        settings,
        httpserver,
        metrics_port=0,
        trading_mode="live",
        wallet_mnemonic=TRADER_MNEMONIC,
    )
    before = Samples.of_this_process()
    async with running_pipeline(settings, substrate):
        await trade(redis, settings, "metrics-live")
    after = Samples.of_this_process()

    stake = {"mode": "live", "action": "remove_stake"}
    assert after.increase(before, TRADES, **stake, result="executed") == 1
    assert after.increase(before, "taodiv_stake_amount_tao_sum", **stake) == 1.0


async def test_each_consumer_reports_its_stream_and_its_messages(
    settings: Settings, substrate: FakeSubstrate, httpserver: HTTPServer, redis: Redis
) -> None:
    """A consumer refreshes its stream's gauges while it runs, and FastStream counts messages."""
    serve(httpserver, '{"score": 90}')
    settings = pipeline_settings(settings, httpserver, metrics_port=0)
    hop = topology(settings)[HopName.STAKE_EXECUTOR]
    await redis.xadd(hop.dead_letter_stream, {"data": "an earlier malformed entry"})
    received = "faststream_received_messages_total"
    labels = {"app_name": hop.name.value, "broker": "redis", "handler": hop.stream}
    before = Samples.of_this_process()
    async with running_pipeline(settings, substrate):
        await trade(redis, settings, "metrics-streams")

        async def dead_letters_seen() -> bool:
            now = Samples.of_this_process()
            return now.get("taodiv_stream_dead_letters", stream=hop.stream) == 1

        await eventually(dead_letters_seen, within=5)
        after = Samples.of_this_process()

    assert after.has("taodiv_stream_length", stream=hop.stream)
    assert after.has("taodiv_stream_pending", stream=hop.stream, group=hop.group)
    assert after.increase(before, received, **labels) == 1
