"""GET /metrics at the gateway: requests, cache, chain and streams, in Prometheus format."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import sys
from pathlib import Path

import bittensor
import httpx
from redis.asyncio import Redis

from offline.substrate import FakeSubstrate
from shared.settings import Settings
from shared.streams.topology import HopName, topology
from tests.conftest import HOTKEY, READ_TOKEN
from tests.gateway_client import running_gateway
from tests.metrics_support import Samples
from tests.servers import disposable_redis, free_port

AUTH = {"Authorization": f"Bearer {READ_TOKEN}"}
DIVIDENDS = "/api/v1/tao_dividends"
REQUESTS = "taodiv_http_request_duration_seconds_count"


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Samples(response.text)


async def test_requests_are_counted_by_route_template_and_status(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """Each request is observed under its route template and status, never its raw path."""
    async with running_gateway(settings, substrate) as client:
        before = await scrape(client)
        for _ in range(3):
            ok = await client.get(DIVIDENDS, params={"netuid": 18, "hotkey": HOTKEY}, headers=AUTH)
            assert ok.status_code == 200
        assert (await client.get(DIVIDENDS, params={"netuid": 18})).status_code == 401
        substrate.failure = bittensor.ChainError("state read failed")
        assert (await client.get(DIVIDENDS, params={"netuid": 0}, headers=AUTH)).status_code == 503
        substrate.failure = None
        assert (await client.get("/api/v1/trades/no-such-trade", headers=AUTH)).status_code == 404
        assert (await client.get("/no/such/path")).status_code == 404
        after = await scrape(client)

    assert after.increase(before, REQUESTS, route=DIVIDENDS, status="200") == 3
    assert after.increase(before, REQUESTS, route=DIVIDENDS, status="401") == 1
    assert after.increase(before, REQUESTS, route=DIVIDENDS, status="503") == 1
    assert after.increase(before, REQUESTS, route="/api/v1/trades/{trade_id}", status="404") == 1
    assert after.increase(before, REQUESTS, route="unmatched", status="404") == 1
    assert after.increase(before, REQUESTS, route="/metrics", status="200") == 1
    routes = after.label_values(REQUESTS, "route")
    assert not any("no-such" in route or "no/such" in route for route in routes)


async def test_a_scraper_asking_for_openmetrics_gets_openmetrics(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """The format follows Accept, as Prometheus negotiates it."""
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    async with running_gateway(settings, substrate) as client:
        response = await client.get("/metrics", headers={"Accept": accept})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


async def test_cache_hits_and_misses_and_chain_calls_are_counted(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """A miss then two hits, and a miss whose chain read fails: both show, with chain latency."""
    async with running_gateway(settings, substrate) as client:
        before = await scrape(client)
        for _ in range(3):
            await client.get(DIVIDENDS, params={"netuid": 18, "hotkey": HOTKEY}, headers=AUTH)
        substrate.failure = bittensor.ChainError("state read failed")
        await client.get(DIVIDENDS, params={"netuid": 0}, headers=AUTH)
        after = await scrape(client)

    assert after.increase(before, "taodiv_cache_hits_total") == 2
    assert after.increase(before, "taodiv_cache_misses_total") == 2
    assert after.increase(before, "taodiv_chain_failures_total", kind="read") == 1
    # The miss's reads and the failed one, each timed.
    assert after.increase(before, "taodiv_chain_call_duration_seconds_count") >= 2
    assert after.increase(before, "taodiv_chain_call_duration_seconds_sum") > 0


async def test_stream_gauges_are_read_from_redis_at_each_scrape(
    settings: Settings, substrate: FakeSubstrate, redis: Redis
) -> None:
    """Length, pending, lag and dead letters of a stream are what Redis says at the scrape."""
    hop = topology(settings)[HopName.TWEET_FETCHER]
    await redis.xgroup_create(hop.stream, hop.group, id="0", mkstream=True)
    for n in range(3):
        await redis.xadd(hop.stream, {"n": n})
    await redis.xreadgroup(hop.group, "someone", {hop.stream: ">"}, count=1)
    await redis.xadd(hop.dead_letter_stream, {"n": 0})

    async with running_gateway(settings, substrate) as client:
        samples = await scrape(client)

    assert samples.get("taodiv_stream_length", stream=hop.stream) == 3
    assert samples.get("taodiv_stream_pending", stream=hop.stream, group=hop.group) == 1
    assert samples.get("taodiv_stream_lag", stream=hop.stream, group=hop.group) == 2
    assert samples.get("taodiv_stream_dead_letters", stream=hop.stream) == 1
    scorer = topology(settings)[HopName.SENTIMENT_SCORER]  # no group yet: lag unknown
    assert math.isnan(samples.get("taodiv_stream_lag", stream=scorer.stream, group=scorer.group))


async def test_a_scrape_is_answered_while_redis_is_down(
    settings: Settings, substrate: FakeSubstrate, tmp_path: Path
) -> None:
    """Without Redis the stream gauges cannot be refreshed, and /metrics still answers."""
    with disposable_redis(tmp_path) as redis_server:
        settings = settings.model_copy(update={"redis_url": redis_server.url})
        async with running_gateway(settings, substrate) as client:
            redis_server.stop()
            samples = await scrape(client)
    assert samples.has(REQUESTS, route="/metrics", status="200")


async def test_one_scrape_reports_every_worker_of_python_m_gateway(
    settings: Settings, tmp_path: Path
) -> None:
    """With two workers, a scrape answered by either counts the requests both served."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        "TMPDIR": str(tmp_path),  # where the metrics directory is made
        "REDIS_URL": settings.redis_url,
        "MONGODB_URL": settings.mongodb_url,
        "MONGODB_DATABASE": settings.mongodb_database,
        "BITTENSOR_NETWORK": "ws://127.0.0.1:9",  # nothing listens: /health needs no chain
        "CHAIN_TIMEOUT_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }
    command = ["-m", "gateway", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)]
    process = await asyncio.create_subprocess_exec(sys.executable, *command, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        await _wait_until_up(base)
        for _ in range(20):  # a connection each, so the workers share them
            async with httpx.AsyncClient(base_url=base) as client:
                assert (await client.get("/health")).status_code == 200
        directory, writers = _metrics_directory(tmp_path)
        counts = set()
        for _ in range(6):
            async with httpx.AsyncClient(base_url=base) as client:
                samples = Samples((await client.get("/metrics")).text)
            counts.add(samples.get(REQUESTS, route="/health", status="200"))
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)

    assert len(writers) == 2  # both workers' pids
    assert counts == {20}
    assert not directory.exists()  # removed when the server stops


def _metrics_directory(parent: Path) -> tuple[Path, set[str]]:
    """The gateway's metrics directory, and the pids of the processes writing there."""
    [directory] = parent.glob("gateway-metrics-*")
    return directory, {path.stem.rpartition("_")[2] for path in directory.glob("*.db")}


async def _wait_until_up(base: str) -> None:
    async with asyncio.timeout(60):
        while True:
            with contextlib.suppress(httpx.HTTPError):
                async with httpx.AsyncClient(base_url=base) as client:
                    if (await client.get("/openapi.json")).status_code == 200:
                        return
            await asyncio.sleep(0.2)
