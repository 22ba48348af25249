"""The dividends cache: hits, a TTL that never slides, one chain read for a stampede, outages."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import bittensor
import httpx
from redis.asyncio import Redis

from gateway.dividends import DividendQuery
from offline.substrate import ROOT_DIVIDENDS, FakeSubstrate
from shared.settings import Settings
from tests.conftest import HOTKEY, READ_TOKEN
from tests.gateway_client import running_gateway
from tests.metrics_support import Samples
from tests.servers import disposable_redis
from tests.waiting import eventually

AUTH = {"X-API-Key": READ_TOKEN}
QUERY: dict[str, Any] = {"netuid": 18, "hotkey": HOTKEY}


async def get(client: httpx.AsyncClient, **params: Any) -> httpx.Response:
    return await client.get("/api/v1/tao_dividends", params=params or QUERY, headers=AUTH)


async def command_calls(redis: Redis) -> dict[str, int]:
    """Calls per command since the Redis server started (INFO commandstats)."""
    stats = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}


async def test_a_second_request_within_the_ttl_is_cached_and_reads_nothing(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """The second identical request is served from the cache with its age, and no chain read."""
    async with running_gateway(settings, substrate) as client:
        first = (await get(client)).json()
        second = (await get(client)).json()
    assert first["cached"] is False
    assert second["cached"] is True
    assert second["cache_age_seconds"] >= 0
    assert second["dividend"] == first["dividend"]
    assert substrate.reads[ROOT_DIVIDENDS] == 1


async def test_the_cache_is_shared_by_gateway_processes(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """A value read by one gateway instance is a hit in another that shares Redis."""
    async with (
        running_gateway(settings, substrate) as one,
        running_gateway(settings, substrate) as two,
    ):
        await get(one)
        second = (await get(two)).json()
    assert second["cached"] is True
    assert substrate.reads[ROOT_DIVIDENDS] == 1


async def test_the_ttl_does_not_slide_under_constant_requests(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """Requests that keep coming never extend the TTL: the value is re-read once it expires."""
    settings = settings.model_copy(update={"cache_ttl_seconds": 1})
    async with running_gateway(settings, substrate) as client:
        await get(client)
        substrate.set_dividend(18, HOTKEY, 7)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.6
        answers = []
        while loop.time() < deadline:
            answers.append((await get(client)).json())
            await asyncio.sleep(0.05)
    assert answers[0]["dividend"] == 1_000_000_000
    assert answers[0]["cached"] is True
    assert answers[-1]["dividend"] == 7
    assert substrate.reads[ROOT_DIVIDENDS] == 2


async def test_a_thousand_concurrent_cold_requests_to_two_instances_read_the_chain_once(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """Single-flight in each process plus a Redis lock across them: exactly one chain read."""
    settings = settings.model_copy(update={"rate_limit_requests": 10_000})
    substrate.latency = 0.05  # a slow chain widens the window in which requests pile up
    async with (
        running_gateway(settings, substrate) as one,
        running_gateway(settings, substrate) as two,
    ):
        responses = await asyncio.gather(*(get(one if i % 2 else two) for i in range(1000)))
    assert [r.status_code for r in responses] == [200] * 1000
    assert {r.json()["dividend"] for r in responses} == {1_000_000_000}
    assert substrate.reads[ROOT_DIVIDENDS] == 1
    assert sum(not r.json()["cached"] for r in responses) == 1


async def test_a_burst_to_a_process_that_has_not_seen_the_key_makes_one_redis_lookup(
    settings: Settings, substrate: FakeSubstrate, tmp_path: Path
) -> None:
    """500 concurrent requests to a process with an empty mirror share one lookup (GET and PTTL
    in one round trip): none fails for want of a connection, even from a pool of two.

    Counted in the command statistics of a Redis of the test's own, which nothing else uses.
    """
    with disposable_redis(tmp_path) as server:
        settings = settings.model_copy(
            update={
                "redis_url": server.url,
                "rate_limit_requests": 10_000,
                "redis_max_connections": 2,
            }
        )
        redis = Redis.from_url(server.url)
        async with running_gateway(settings, substrate) as filler:
            await get(filler)
            async with running_gateway(settings, substrate) as cold:
                before, calls_before = Samples.of_this_process(), await command_calls(redis)
                responses = await asyncio.gather(*(get(cold) for _ in range(500)))
                after, calls_after = Samples.of_this_process(), await command_calls(redis)
        await redis.aclose()
    assert [r.status_code for r in responses] == [200] * 500
    assert all(r.json()["cached"] for r in responses)
    assert calls_after["get"] - calls_before.get("get", 0) == 1
    assert calls_after["pttl"] - calls_before.get("pttl", 0) == 1
    assert after.increase(before, "taodiv_redis_failures_total", op="cache_read") == 0
    assert substrate.reads[ROOT_DIVIDENDS] == 1


async def test_a_value_is_mirrored_no_longer_than_its_redis_entry_lives(
    settings: Settings, substrate: FakeSubstrate, redis: Redis
) -> None:
    """A process that reads a value near the end of its TTL keeps it for what is left of that
    TTL (read from Redis with the value), not for a TTL of its own: then it reads the chain."""
    key = DividendQuery(18, HOTKEY).cache_key
    async with running_gateway(settings, substrate) as filler:
        await get(filler)
    await redis.pexpire(key, 300)  # as if filled 119.7 s ago
    async with running_gateway(settings, substrate) as late:
        first = (await get(late)).json()
        substrate.set_dividend(18, HOTKEY, 7)

        async def new_value() -> bool:
            return bool((await get(late)).json()["dividend"] == 7)

        await eventually(new_value, within=10)
    assert first["cached"] is True
    assert first["dividend"] == 1_000_000_000
    assert substrate.reads[ROOT_DIVIDENDS] == 2


async def test_requests_are_answered_from_the_chain_when_redis_is_stopped(
    settings: Settings, substrate: FakeSubstrate, tmp_path: Path
) -> None:
    """A dead Redis is logged and bypassed: reads still succeed, straight from the chain."""
    with disposable_redis(tmp_path) as redis_server:
        settings = settings.model_copy(update={"redis_url": redis_server.url})
        async with running_gateway(settings, substrate) as client:
            assert (await get(client)).status_code == 200
            redis_server.stop()
            subnet = await get(client, netuid=18)
            again = await get(client, netuid=18)
    assert subnet.status_code == 200
    assert again.status_code == 200
    assert subnet.json()["dividend"] == 3_000_000_000


async def test_a_failing_chain_is_503_with_a_code_and_retry_after_never_zero(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """When the chain read fails the answer is 503 chain_unavailable, not an invented 0."""
    async with running_gateway(settings, substrate) as client:
        substrate.failure = bittensor.ChainError("state read failed")
        response = await get(client)
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(settings.chain_retry_after_seconds)
    assert response.json()["error"]["code"] == "chain_unavailable"


async def test_an_unreachable_chain_is_503_and_the_gateway_reconnects_once_it_is_back(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """Transport failures drop the client; the next request opens a fresh connection."""
    async with running_gateway(settings, substrate) as client:
        substrate.failure = bittensor.RpcConnectionError("connection dropped")
        down = await get(client)
        substrate.failure = None
        back = await get(client)
    assert down.status_code == 503
    assert back.status_code == 200
    assert substrate.connects == 2


async def test_a_chain_slower_than_the_timeout_is_503(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """Every chain call is bounded by CHAIN_TIMEOUT_SECONDS."""
    settings = settings.model_copy(update={"chain_timeout_seconds": 0.2})
    async with running_gateway(settings, substrate) as client:
        substrate.latency = 0.5
        response = await get(client)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "chain_unavailable"
