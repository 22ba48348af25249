"""The processes the chart runs work on a read-only root filesystem, with only the chart's
emptyDirs writable.

Each process runs here in a mount namespace of its own (`unshare --mount`, as root, which CI
is) where `/` is remounted read-only and a fresh tmpfs stands at each emptyDir's mount path of
the rendered Deployment (the images' home, /home/app, is this machine's home). Nothing changes
outside that namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from redis.asyncio import Redis

from offline.desearch import tweets_answer
from shared.settings import Settings
from tests.deploy.chart import containers, of_kind, render
from tests.pipeline_support import (
    DESEARCH_KEY,
    entry,
    process_env,
    trade_requested,
    wait_for_hop,
)
from tests.servers import free_port

IMAGE_HOME = "/home/app"
STARTUP_SECONDS = 120


def writable_paths(component: str) -> list[Path]:
    """Where the chart mounts an emptyDir in `component`'s container, on this machine."""
    (deployment,) = [
        d
        for d in of_kind(render(), "Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    pod = deployment["spec"]["template"]["spec"]
    empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    (container,) = containers(deployment)
    paths = [m["mountPath"] for m in container["volumeMounts"] if m["name"] in empty]
    return [Path(p.replace(IMAGE_HOME, str(Path.home()), 1)) for p in paths]


def read_only(command: list[str], writable: list[Path]) -> list[str]:
    """`command` on a read-only `/` with an empty tmpfs at each of `writable`."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.fail("a mount namespace needs root and unshare (util-linux); CI runs as root")
    root = Path(__file__).resolve().parents[2]
    hidden = [path for path in writable if root.is_relative_to(path)]
    if hidden:
        pytest.fail(f"the checkout lies under {hidden[0]}, which a fresh tmpfs would hide here")
    for path in writable:
        path.mkdir(parents=True, exist_ok=True)  # a mount point, made before / is read-only
    steps = [
        "mount --make-rprivate /",
        "mount -o remount,bind,ro /",
        *(f"mount -t tmpfs -o size=64m tmpfs {shlex.quote(str(p))}" for p in writable),
        'exec "$@"',
    ]
    return ["unshare", "--mount", "sh", "-c", " && ".join(steps), "sh", *command]


@contextlib.asynccontextmanager
async def started(
    command: list[str], env: dict[str, str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(*command, env=env)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def gateway_env(settings: Settings) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k not in {"PROMETHEUS_MULTIPROC_DIR", "TMPDIR"}},
        "REDIS_URL": settings.redis_url,
        "MONGODB_URL": settings.mongodb_url,
        "MONGODB_DATABASE": settings.mongodb_database,
        "BITTENSOR_NETWORK": "ws://127.0.0.1:9",  # nothing listens: /health needs no chain
        "CHAIN_TIMEOUT_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }


def gateway_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gateway",
        "--workers",
        "2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


async def test_the_gateway_serves_on_a_read_only_root_with_the_charts_emptydirs(
    settings: Settings,
) -> None:
    """Two workers start, answer /health, and share their metrics through /tmp; SIGTERM
    stops them."""
    port = free_port()
    command = read_only(gateway_command(port), writable_paths("gateway"))
    async with started(command, gateway_env(settings)) as process:
        base = f"http://127.0.0.1:{port}"
        async with asyncio.timeout(STARTUP_SECONDS), httpx.AsyncClient(base_url=base) as client:
            while process.returncode is None:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/health")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
            metrics = (await client.get("/metrics")).text
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    assert 'taodiv_http_request_duration_seconds_count{route="/health",status="200"}' in metrics
    assert code == 0


async def test_without_a_writable_tmp_the_gateway_does_not_start(settings: Settings) -> None:
    """The same gateway with no emptyDir at all exits with an error: the checks above see a
    read-only root indeed, and /tmp is needed."""
    command = read_only(gateway_command(free_port()), [])
    async with started(command, gateway_env(settings)) as process:
        code = await asyncio.wait_for(process.wait(), STARTUP_SECONDS)
    assert code != 0


async def test_a_consumer_works_on_a_read_only_root_with_the_charts_emptydirs(
    settings: Settings, redis: Redis, httpserver: HTTPServer, documents: None
) -> None:
    """The tweet-fetcher handles a trade and stops cleanly on SIGTERM."""
    httpserver.expect_request("/twitter").respond_with_json(tweets_answer("SN18"))
    env = process_env(
        settings,
        DESEARCH_BASE_URL=httpserver.url_for("").rstrip("/"),
        DESEARCH_API_KEY=DESEARCH_KEY,
    )
    env.pop("BTCLI_TOKEN_SYMBOLS_CACHE", None)  # the SDK's own default: the emptyDir
    command = read_only(
        [sys.executable, "-m", "consumers", "tweet-fetcher"], writable_paths("tweet-fetcher")
    )
    async with started(command, env) as process:
        await redis.xadd(settings.stream_trade_requested, entry(trade_requested("ro-1")))
        record = await wait_for_hop("ro-1", within=STARTUP_SECONDS)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    assert record.attempts == 1
    assert code == 0
