"""Malformed entries are dead-lettered with the reason, and the consumer keeps going."""

from __future__ import annotations

import asyncio
import json

import pytest
from pytest_httpserver import HTTPServer
from redis.asyncio import Redis

from consumers.tweet_fetcher.app import create_app
from shared.documents import HopRecord, HopState
from shared.settings import Settings
from tests.conftest import HOTKEY
from tests.pipeline_support import pipeline_settings, running, tweets_json

VALID = {"schema_version": 1, "trade_id": "ok-1", "trace_id": "t", "netuid": 18, "hotkey": HOTKEY}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not json at all", "invalid TradeRequested"),
        (json.dumps({**VALID, "schema_version": 2}).encode(), "schema_version"),
        (json.dumps({k: v for k, v in VALID.items() if k != "hotkey"}).encode(), "hotkey"),
        (json.dumps({**VALID, "netuid": "eighteen"}).encode(), "netuid"),
        (json.dumps({**VALID, "hotkey": HOTKEY[:-1] + "w"}).encode(), "SS58"),
        (json.dumps({**VALID, "surprise": 1}).encode(), "surprise"),
        (b"x" * 1_000_001, "exceeds"),
    ],
    ids=[
        "not-json",
        "wrong-version",
        "missing-field",
        "mistyped",
        "bad-checksum",
        "unknown-field",
        "oversized",
    ],
)
async def test_a_malformed_entry_goes_to_the_dead_letter_stream_on_first_delivery(
    settings: Settings, redis: Redis, httpserver: HTTPServer, data: bytes, reason: str
) -> None:
    """The entry lands in <stream>.dlq with its id and the error; the next valid one still runs."""
    httpserver.expect_request("/twitter").respond_with_json(tweets_json("SN18"))
    settings = pipeline_settings(settings, httpserver)
    async with running(create_app(settings)):
        bad_id = await redis.xadd(settings.stream_trade_requested, {"__data__": data})
        await redis.xadd(settings.stream_trade_requested, {"__data__": json.dumps(VALID)})
        await wait_for_hop("ok-1")
        dead: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(  # type: ignore[assignment]  # redis-py types replies loosely
            f"{settings.stream_trade_requested}.dlq"
        )
        pending = await redis.xpending(
            settings.stream_trade_requested, settings.group_tweet_fetcher
        )
    [(_, fields)] = dead
    assert fields[b"entry_id"] == bad_id
    assert fields[b"attempts"] == b"1"
    assert reason.encode() in fields[b"error"]
    assert fields[b"data"] == data[:1_000_000]
    assert pending["pending"] == 0


async def wait_for_hop(trade_id: str) -> None:
    """The tweet-fetcher alone cannot end a trade; wait for its hop record to finish instead."""
    async with asyncio.timeout(10):
        while True:
            record = await HopRecord.find_one(HopRecord.trade_id == trade_id)
            if record is not None and record.state is HopState.FINISHED:
                return
            await asyncio.sleep(0.05)
