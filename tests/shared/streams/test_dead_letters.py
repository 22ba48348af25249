"""Malformed entries are dead-lettered with the reason, and the consumer keeps going."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from redis.asyncio import Redis

from consumers.tweet_fetcher.app import create_app
from offline.desearch import tweets_answer
from shared.settings import Settings
from tests.conftest import HOTKEY
from tests.pipeline_support import pipeline_settings, running, wait_for_hop
from tests.waiting import entries, eventually, pending_count

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
    httpserver.expect_request("/twitter").respond_with_json(tweets_answer("SN18"))
    settings = pipeline_settings(settings, httpserver)
    async with running(create_app(settings)):
        bad_id = await redis.xadd(settings.stream_trade_requested, {"__data__": data})
        await redis.xadd(settings.stream_trade_requested, {"__data__": json.dumps(VALID)})
        await wait_for_hop("ok-1")
        dead = await entries(redis, f"{settings.stream_trade_requested}.dlq")
        # Both entries end acknowledged: the bad one dead-lettered, the good one done.
        await eventually(lambda: no_pending(redis, settings))
    [(_, fields)] = dead
    assert fields[b"entry_id"] == bad_id
    assert fields[b"attempts"] == b"1"
    assert reason.encode() in fields[b"error"]
    assert fields[b"data"] == data[:1_000_000]


async def no_pending(redis: Redis, settings: Settings) -> bool:
    stream, group = settings.stream_trade_requested, settings.group_tweet_fetcher
    return await pending_count(redis, stream, group) == 0
