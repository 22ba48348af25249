"""Every process of the service writes one log format: a JSON object per line, libraries included.

The whole offline stack runs as real processes, each with stdout and stderr to its own file (not
a terminal, so ``LOG_FORMAT=auto`` means JSON): the devnode, the Desearch and Chutes stand-ins,
the gateway under uvicorn with two workers and its access log, and the three consumers under
FastStream. A trade goes through all of them, then each is stopped with SIGTERM, and every line
each one wrote must parse as a JSON object with an event, a level and a timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.documents import TERMINAL_STATES
from shared.settings import Settings
from tests.conftest import HOTKEY, TRADE_TOKEN
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
# Starting a bittensor-importing process takes seconds on a busy 2-core machine.
STARTUP_SECONDS = 120


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def lines(self) -> list[str]:
        return [line for line in self.log.read_text(encoding="utf-8").splitlines() if line]


@contextlib.contextmanager
def started(name: str, command: list[str], env: dict[str, str], logs: Path) -> Iterator[Process]:
    """``command`` with stdout and stderr to ``logs/<name>.log``; SIGTERM, then waited for."""
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(  # noqa: S603 - our own entry points
            [sys.executable, *command], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    process = Process(name, popen, log)
    try:
        yield process
    finally:
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()


async def answering(url: str, headers: dict[str, str] | None = None) -> None:
    async with httpx.AsyncClient(timeout=2) as client, asyncio.timeout(STARTUP_SECONDS):
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url, headers=headers)).status_code == 200:
                    return
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def offline_stack(settings: Settings, logs: Path) -> AsyncIterator[tuple[str, list[Process]]]:
    """Every kind of process, wired together on free ports; the gateway's URL and the processes."""
    ports = {name: free_port() for name in ("devnode", "desearch", "chutes", "gateway")}
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"LOG_FORMAT", "LOG_LEVEL", "PYTHONUNBUFFERED"}
    }
    env.update(
        REDIS_URL=settings.redis_url,
        MONGODB_URL=settings.mongodb_url,
        MONGODB_DATABASE=settings.mongodb_database,
        API_TOKENS=f"trader:{TRADE_TOKEN}:read+trade",
        BITTENSOR_NETWORK=f"ws://127.0.0.1:{ports['devnode']}",
        DESEARCH_BASE_URL=f"http://127.0.0.1:{ports['desearch']}",
        DESEARCH_API_KEY="offline-stand-in",
        CHUTES_BASE_URL=f"http://127.0.0.1:{ports['chutes']}/v1",
        CHUTES_API_KEY="offline-stand-in",
        METRICS_PORT="0",
        BITTENSOR_RUNTIME_CACHE_DIR=str(logs / "runtime-cache"),
    )
    commands = {
        "devnode": ["-m", "offline.devnode", "--port", str(ports["devnode"])],
        "desearch": ["-m", "offline.desearch", "--port", str(ports["desearch"])],
        "chutes": ["-m", "offline.chutes", "--port", str(ports["chutes"])],
        "gateway": ["-m", "gateway", "--host", "127.0.0.1", "--port", str(ports["gateway"])],
        "tweet-fetcher": ["-m", "consumers", "tweet-fetcher"],
        "sentiment-scorer": ["-m", "consumers", "sentiment-scorer"],
        "stake-executor": ["-m", "consumers", "stake-executor"],
    }
    with contextlib.ExitStack() as stack:
        processes = [
            stack.enter_context(started(name, command, {**env, "GATEWAY_WORKERS": "2"}, logs))
            for name, command in commands.items()
        ]
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        await answering(f"{gateway}/ready")
        yield gateway, processes


async def trade_through(gateway: str) -> dict[str, Any]:
    """Request a trade and wait for its recorded end; its timeline."""
    auth = {"Authorization": f"Bearer {TRADE_TOKEN}"}
    query = {"netuid": "18", "hotkey": HOTKEY, "trade": "true"}
    async with httpx.AsyncClient(base_url=gateway, headers=auth, timeout=10) as client:
        answer = (await client.get("/api/v1/tao_dividends", params=query)).json()
        async with asyncio.timeout(STARTUP_SECONDS):
            while True:
                timeline: dict[str, Any] = (
                    await client.get(f"/api/v1/trades/{answer['trade_id']}")
                ).json()
                if timeline["state"] in TERMINAL_STATES:
                    return timeline
                await asyncio.sleep(0.2)


def parsed(process: Process) -> list[dict[str, Any]]:
    """Every line the process wrote, as JSON; a line that is not names the process."""
    events = []
    for line in process.lines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"{process.name} wrote a line that is not JSON: {line!r}")
        assert isinstance(event, dict), f"{process.name}: {line!r}"
        assert {"event", "level", "timestamp"} <= event.keys(), f"{process.name}: {line!r}"
        events.append(event)
    return events


async def test_every_line_of_every_process_is_a_json_object(
    settings: Settings, tmp_path: Path
) -> None:
    """Devnode, stand-ins, gateway (uvicorn, access log) and consumers (FastStream): all JSON."""
    async with offline_stack(settings, tmp_path) as (gateway, processes):
        timeline = await trade_through(gateway)
    assert timeline["state"] == "executed"
    by_name = {process.name: parsed(process) for process in processes}
    for name, events in by_name.items():
        assert events, f"{name} wrote nothing"
    # A clean stop: exit 0, or (uvicorn run alone re-raises the signal it shut down on) SIGTERM.
    stopped = {process.name: process.popen.returncode for process in processes}
    assert all(code in (0, -signal.SIGTERM) for code in stopped.values()), stopped

    # The libraries' own lines are among them, as JSON.
    loggers = {name: {event.get("logger") for event in events} for name, events in by_name.items()}
    assert "uvicorn.error" in loggers["gateway"]
    assert "uvicorn.error" in loggers["desearch"]
    assert any(str(logger).startswith("faststream") for logger in loggers["tweet-fetcher"])

    # The access log is structured, and carries the request id that became the trace id.
    requests = [event for event in by_name["gateway"] if event["event"] == "http.request"]
    assert {"method", "path", "status", "request_id"} <= requests[0].keys()
    assert timeline["trace_id"] in {event["request_id"] for event in requests}
    # Every hop's lines carry the trade's trace id.
    for hop in ("tweet-fetcher", "sentiment-scorer", "stake-executor"):
        assert timeline["trace_id"] in {event.get("trace_id") for event in by_name[hop]}, hop
