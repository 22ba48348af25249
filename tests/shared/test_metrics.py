"""shared.metrics: the consumers' metrics server and the stream gauges' refresh."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from shared import metrics
from shared.logging import configure_logging
from shared.settings import Settings
from shared.streams.topology import HopName, topology
from tests.metrics_support import Samples
from tests.servers import disposable_redis, free_port


async def test_the_metrics_server_serves_the_registry_while_the_block_runs() -> None:
    """METRICS_PORT serves /metrics in Prometheus format, and is released afterwards."""
    port = free_port()
    async with metrics.serving(port), httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    assert Samples(response.text).has("taodiv_cache_hits_total")
    with socket.socket() as sock:  # nothing listens there any more
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        sock.bind(("0.0.0.0", port))  # noqa: S104 - the address the server listened on


async def test_a_busy_metrics_port_is_logged_and_the_consumer_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Metrics only observe: a port already taken does not stop the process, it is logged."""
    configure_logging("INFO", "json")
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # noqa: S104 - as the metrics server would
        taken.listen()
        async with metrics.serving(taken.getsockname()[1]):
            pass
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(line["event"] == "metrics.port_unavailable" for line in logged)


async def test_stream_gauges_survive_a_redis_that_is_down(
    settings: Settings, tmp_path: Path
) -> None:
    """A refresh without Redis returns within its bound, keeping the last values."""
    hop = topology(settings)[HopName.SENTIMENT_SCORER]
    with disposable_redis(tmp_path) as server:
        redis = Redis.from_url(server.url)
        await redis.xadd(hop.stream, {"n": 1})
        await metrics.refresh_stream_gauges(redis, [hop], within=2)
        server.stop()
        await metrics.refresh_stream_gauges(redis, [hop], within=2)
        await redis.aclose()
    assert Samples.of_this_process().get("taodiv_stream_length", stream=hop.stream) == 1
