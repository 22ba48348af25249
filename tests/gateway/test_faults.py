"""Faults around the gateway under concurrent requests: Redis killed and restarted, Redis that
stops answering, MongoDB away. Answers are counted by phase, kind and status: never a 500,
never a request held past its deadline, and everything works again without a restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from offline.substrate import FakeSubstrate
from shared.documents import Trade
from shared.settings import Settings
from tests.conftest import HOTKEY, OTHER_HOTKEY, READ_TOKEN, TRADE_TOKEN
from tests.gateway.test_trades import stream_events
from tests.gateway_client import running_gateway
from tests.servers import disposable_mongo, disposable_redis
from tests.waiting import eventually

URL = "/api/v1/tao_dividends"
READER = {"X-API-Key": READ_TOKEN}
TRADER = {"Authorization": f"Bearer {TRADE_TOKEN}"}
# What the clients ask for, in turn: three query shapes, and a trade.
CALLS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("dividends", {"netuid": 18, "hotkey": HOTKEY}, READER),
    ("dividends", {"netuid": 18}, READER),
    ("dividends", {}, READER),
    ("trade", {"netuid": 18, "trade": "true"}, TRADER),
]
# Trades target OTHER_HOTKEY before the fault, then a target nobody has claimed yet, so the
# trades asked during the fault need a new admission (not a repeat within the cooldown).
FIRST_TARGET, NEXT_TARGET = OTHER_HOTKEY, HOTKEY
HANG = "past the deadline"


def deadline(settings: Settings) -> float:
    """The longest a request may take while Redis or MongoDB fails (README, Cache and Trades):
    each of its Redis calls (rate-limit sync, cache lookup, trade claim, publish) gives up within
    twice REDIS_TIMEOUT_SECONDS (a free connection, then the answer), it reads the chain once,
    waits out at most one provisional claim and makes at most one MongoDB write; doubled, for a
    loaded test machine."""
    redis_calls = 4 * 2 * settings.redis_timeout_seconds
    provisional = 2 * (settings.mongodb_timeout_seconds + settings.redis_timeout_seconds)
    return 2 * (
        redis_calls
        + settings.chain_timeout_seconds
        + provisional
        + settings.mongodb_timeout_seconds
    )


@dataclass
class Traffic:
    """Clients that keep asking while the test breaks things; answers counted by the phase the
    request ran in, its kind and its status."""

    client: httpx.AsyncClient
    deadline: float
    phase: str = "before"
    stopped: bool = False
    answers: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    trade_ids: dict[str, set[str]] = field(default_factory=dict)
    unexplained: list[str] = field(default_factory=list)

    async def ask(self, turn: int) -> None:
        kind, params, headers = CALLS[turn % len(CALLS)]
        started = self.phase
        if kind == "trade":
            params = {**params, "hotkey": FIRST_TARGET if started == "before" else NEXT_TARGET}
        try:
            async with asyncio.timeout(self.deadline):
                response = await self.client.get(URL, params=params, headers=headers)
        except TimeoutError:
            response = None
        # A request the fault began or ended under counts apart ("before>down").
        phase = started if self.phase == started else f"{started}>{self.phase}"
        if response is None:
            self.answers[phase, kind, HANG] += 1
            return
        self.answers[phase, kind, str(response.status_code)] += 1
        if response.status_code == 200 and kind == "trade":
            self.trade_ids.setdefault(phase, set()).add(response.json()["trade_id"])
        if response.status_code == 503:
            code = response.json()["error"]["code"]
            expected = "trade_unavailable" if kind == "trade" else "chain_unavailable"
            if code != expected or "retry-after" not in response.headers:
                self.unexplained.append(f"{phase} {kind}: 503 {code} {dict(response.headers)}")

    def count(self, phase: str, kind: str, status: str) -> int:
        return self.answers[phase, kind, status]

    def statuses(self) -> set[str]:
        return {status for _phase, _kind, status in self.answers}

    def report(self) -> str:
        return ", ".join(f"{p}/{k}/{s}: {n}" for (p, k, s), n in sorted(self.answers.items()))


@contextlib.asynccontextmanager
async def traffic(client: httpx.AsyncClient, settings: Settings) -> AsyncIterator[Traffic]:
    """16 clients asking in turn until the block ends, then finishing the request in hand."""
    load = Traffic(client, deadline(settings))

    async def keep_asking(turn: int) -> None:
        while not load.stopped:  # a flag, not cancel(): 3.11's wait_for can swallow a cancel
            await load.ask(turn)
            turn += 1
            await asyncio.sleep(0)  # an answer from the mirror never yields to the event loop

    clients = [asyncio.create_task(keep_asking(n)) for n in range(16)]
    try:
        yield load
    finally:
        load.stopped = True
        await asyncio.gather(*clients)
        print(f"\nanswers by phase/kind/status: {load.report()}")  # the figures, with pytest -s


async def until_both_work(load: Traffic, phase: str) -> None:
    """Wait (bounded) until, in ``phase``, dividends and a trade have both been answered 200."""

    async def both() -> bool:
        return bool(load.count(phase, "dividends", "200") and load.count(phase, "trade", "200"))

    await eventually(both, within=30)


def given(load: Traffic, phase: str) -> set[str]:
    """The trade ids answered 200 to requests started in ``phase``."""
    return load.trade_ids.get(phase, set())


def fault_settings(settings: Settings, **changes: Any) -> Settings:
    """A 1 s TTL, so requests keep reaching Redis instead of each process's mirror, and a 1 s
    MongoDB timeout, so a failed trade admission is not long in coming."""
    return settings.model_copy(
        update={
            "cache_ttl_seconds": 1,
            "mongodb_timeout_seconds": 1,
            "rate_limit_requests": 1_000_000,
            **changes,
        }
    )


async def test_redis_killed_and_restarted_under_load_is_never_a_500_and_recovers(
    settings: Settings, substrate: FakeSubstrate, tmp_path: Path
) -> None:
    """Redis killed: dividends come from the chain, trades are 503 with Retry-After; after a
    restart (empty) both work again, with no gateway restart, and nothing waited past its
    deadline."""
    with disposable_redis(tmp_path) as redis_server:
        settings = fault_settings(settings, redis_url=redis_server.url)
        async with (
            running_gateway(settings, substrate) as client,
            traffic(client, settings) as load,
        ):
            await until_both_work(load, "before")
            redis_server.kill()
            load.phase = "down"
            await asyncio.sleep(1.5)
            load.phase = "after"
            await asyncio.to_thread(redis_server.start)
            await until_both_work(load, "after")
            async with Redis.from_url(redis_server.url) as restarted:
                published = await stream_trade_ids(restarted, settings)

    assert load.statuses() <= {"200", "503"}, load.report()
    assert load.unexplained == []
    assert load.count("down", "dividends", "200") > 0
    assert load.count("down", "dividends", "503") == 0
    assert load.count("down", "trade", "503") > 0
    assert load.count("down", "trade", "200") == 0
    # The trade admitted after the restart was published to the restarted Redis.
    assert given(load, "after") <= published


async def test_redis_that_stops_answering_is_waited_on_within_the_timeouts(
    settings: Settings, substrate: FakeSubstrate, tmp_path: Path
) -> None:
    """A paused Redis accepts connections and never answers: requests give up on it within
    REDIS_TIMEOUT_SECONDS per call, dividends from the chain and trades 503. Once it answers
    again both work, and past the provisional claim's life every trade id handed out is a
    recorded trade (a claim the paused Redis carried out late lapses)."""
    with disposable_redis(tmp_path) as redis_server:
        settings = fault_settings(settings, redis_url=redis_server.url)
        provisional = 2 * (settings.mongodb_timeout_seconds + settings.redis_timeout_seconds)
        async with (
            running_gateway(settings, substrate) as client,
            traffic(client, settings) as load,
        ):
            await until_both_work(load, "before")
            redis_server.pause()
            load.phase = "down"
            await asyncio.sleep(3)
            redis_server.resume()
            load.phase = "after"
            await asyncio.sleep(provisional)
            load.phase = "settled"
            await until_both_work(load, "settled")
            recorded = {trade.id for trade in await Trade.find_all().to_list()}

    assert load.statuses() <= {"200", "503"}, load.report()
    assert load.unexplained == []
    assert load.count("down", "dividends", "200") > 0
    assert load.count("down", "dividends", "503") == 0
    assert load.count("down", "trade", "503") > 0
    assert load.count("down", "trade", "200") == 0
    assert given(load, "before") | given(load, "settled") <= recorded


async def test_mongodb_away_refuses_trades_with_503_and_publishes_nothing(
    settings: Settings, substrate: FakeSubstrate, redis: Redis, tmp_path: Path
) -> None:
    """MongoDB stopped: trade admission and trade reads are 503 with Retry-After, no event is
    published, no trade id is handed out, dividends keep being answered; MongoDB back, trades
    are admitted and published again."""
    with disposable_mongo(tmp_path) as mongo:
        settings = fault_settings(settings, mongodb_url=mongo.url)
        async with (
            running_gateway(settings, substrate) as client,
            traffic(client, settings) as load,
        ):
            await until_both_work(load, "before")
            [trade_id] = given(load, "before")
            mongo.stop()
            load.phase = "down"
            await asyncio.sleep(3)
            reads = await read_trades(client, trade_id)
            published_down = await stream_trade_ids(redis, settings)
            load.phase = "after"
            await asyncio.to_thread(mongo.start)
            await until_both_work(load, "after")
            published_after = await stream_trade_ids(redis, settings)

    assert load.statuses() <= {"200", "503"}, load.report()
    assert load.unexplained == []
    assert load.count("down", "dividends", "200") > 0
    assert load.count("down", "dividends", "503") == 0
    assert load.count("down", "trade", "503") > 0
    assert load.count("down", "trade", "200") == 0
    assert published_down == {trade_id}
    assert given(load, "after") <= published_after
    for response in reads:
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "trade_unavailable"
        assert "retry-after" in response.headers


async def stream_trade_ids(redis: Redis, settings: Settings) -> set[str]:
    """The trade ids of the events in ``trade.requested``."""
    return {event.trade_id for event in await stream_events(redis, settings.stream_trade_requested)}


async def read_trades(client: httpx.AsyncClient, trade_id: str) -> list[httpx.Response]:
    """One trade's timeline and a page of trades."""
    return [
        await client.get(f"/api/v1/trades/{trade_id}", headers=READER),
        await client.get("/api/v1/trades", params={"netuid": 18}, headers=READER),
    ]
