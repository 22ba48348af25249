"""The whole service as processes, as production runs it, for tests that use it from outside.

The devnode (the chain), the Desearch and Chutes stand-ins, the gateway (``python -m gateway``)
and the three consumers (``python -m consumers <name>``, each serving its metrics on a port of
its own), on a private redis-server and a MongoDB database of their own: nothing else in the
test run shares their streams, so the stack may live for the whole session.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient
from redis import Redis

from bench.processes import Processes, polling_consumers, processes, start_fakes
from shared.documents import TERMINAL_STATES
from shared.streams.topology import HopName
from tests.servers import disposable_redis, free_port

READ_TOKEN = "console-reader-token-0001"
TRADE_TOKEN = "console-trader-token-0001"
ADMIN_TOKEN = "console-admin-token-0001"
API_TOKENS = (
    f"reader:{READ_TOKEN}:read,trader:{TRADE_TOKEN}:read+trade,admin:{ADMIN_TOKEN}:read+admin"
)
# A loaded 2-core machine starts six Python processes in about half a minute.
START_SECONDS = 120
# A trade takes well under a second here; this is how long a loaded machine may take.
TRADE_SECONDS = 60


@dataclass(frozen=True)
class Stack:
    url: str  # the gateway
    redis_url: str
    mongodb_url: str
    database: str
    metrics: dict[str, str]  # process name -> its /metrics URL
    procs: Processes

    def redis(self) -> Redis:
        return Redis.from_url(self.redis_url)

    def mongo(self) -> MongoClient[dict[str, object]]:
        return MongoClient(self.mongodb_url, tz_aware=True)


@contextlib.contextmanager
def running_stack(directory: Path, mongodb_url: str) -> Iterator[Stack]:
    """The service on ``mongodb_url`` (database dropped afterwards); logs in ``directory``."""
    database = f"test_stack_{uuid.uuid4().hex[:8]}"
    with disposable_redis(directory) as redis_server, processes(directory / "logs") as procs:
        devnode, fakes, gateway = free_port(), _free_port_pair(), free_port()
        ports = {hop.value: free_port() for hop in HopName}
        env = {
            **os.environ,
            "REDIS_URL": redis_server.url,
            "MONGODB_URL": mongodb_url,
            "MONGODB_DATABASE": database,
            "API_TOKENS": API_TOKENS,
            "BITTENSOR_NETWORK": f"ws://127.0.0.1:{devnode}",
            "DESEARCH_BASE_URL": f"http://127.0.0.1:{fakes}",
            "DESEARCH_API_KEY": "offline-stand-in",
            "CHUTES_BASE_URL": f"http://127.0.0.1:{fakes + 1}/v1",
            "CHUTES_API_KEY": "offline-stand-in",
            # Tests request several trades for one target in a row.
            "TRADE_COOLDOWN_SECONDS": "1",
            "LOG_LEVEL": "WARNING",
            # The SDK's caches, out of the home directory.
            "BITTENSOR_RUNTIME_CACHE_DIR": str(directory / "runtime-cache"),
            "BTCLI_TOKEN_SYMBOLS_CACHE": str(directory / "token_symbols.json"),
        }
        python = sys.executable
        procs.start("devnode", [python, "-m", "offline.devnode", "--port", str(devnode)], env)
        start_fakes(procs, fakes)
        gateway_command = ["-m", "gateway", "--host", "127.0.0.1", "--port", str(gateway)]
        procs.start("gateway", [python, *gateway_command, "--workers", "1"], env)
        for name, port in ports.items():
            consumer_env = {**env, "METRICS_PORT": str(port)}
            procs.start(name, [python, "-m", "consumers", name], consumer_env)
        stack = Stack(
            url=f"http://127.0.0.1:{gateway}",
            redis_url=redis_server.url,
            mongodb_url=mongodb_url,
            database=database,
            metrics={
                "gateway": f"http://127.0.0.1:{gateway}/metrics",
                **{name: f"http://127.0.0.1:{port}/metrics" for name, port in ports.items()},
            },
            procs=procs,
        )
        try:
            _wait_until_ready(stack)
            yield stack
        finally:
            procs.stop()
            with stack.mongo() as client:
                client.drop_database(database)


def request_trade(stack: Stack, hotkey: str, trace_id: str | None = None) -> str:
    """``trade=true`` at the API, as a client would, on subnet 18; the trade's id."""
    headers = {
        "Authorization": f"Bearer {TRADE_TOKEN}",
        "X-Request-ID": trace_id or uuid.uuid4().hex,
    }
    params = {"netuid": "18", "hotkey": hotkey, "trade": "true"}
    url = f"{stack.url}/api/v1/tao_dividends"
    response = httpx.get(url, params=params, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    trade_id: str = response.json()["trade_id"]
    return trade_id


def wait_for_end(stack: Stack, trade_id: str) -> dict[str, Any]:
    """The trade, from the API, once it reached a terminal state."""
    auth = {"Authorization": f"Bearer {READ_TOKEN}"}
    deadline = time.monotonic() + TRADE_SECONDS
    while True:
        response = httpx.get(f"{stack.url}/api/v1/trades/{trade_id}", headers=auth, timeout=10)
        trade: dict[str, Any] = response.json()
        if response.status_code == 200 and trade["state"] in TERMINAL_STATES:
            return trade
        if time.monotonic() > deadline:
            raise AssertionError(f"trade {trade_id} did not end: {trade}")
        time.sleep(0.2)


def _wait_until_ready(stack: Stack) -> None:
    """The gateway ready (Redis, MongoDB and the chain), each consumer serving metrics and
    reading its stream."""
    deadline = time.monotonic() + START_SECONDS
    redis = stack.redis()
    try:
        while not (
            _answers(f"{stack.url}/ready")
            and all(_answers(url) for url in stack.metrics.values())
            and polling_consumers(redis) >= len(HopName)
        ):
            stack.procs.require_running()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the stack did not start within {START_SECONDS} s")
            time.sleep(0.3)
    finally:
        redis.close()


def _answers(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=2).status_code == 200
    return False


def _free_port_pair() -> int:
    """A port whose next one is free too (the stand-ins listen on port and port + 1)."""
    while True:
        port = free_port()
        with contextlib.suppress(OSError), socket.socket() as probe:
            probe.bind(("127.0.0.1", port + 1))
            return port
