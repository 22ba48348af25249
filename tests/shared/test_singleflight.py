"""Concurrent identical calls share one; nothing is kept once it ends."""

from __future__ import annotations

import asyncio

import pytest

from shared.singleflight import SingleFlight


class Calls:
    """A call that takes a moment, counting how often it really ran."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, value: str) -> str:
        self.count += 1
        await asyncio.sleep(0.05)
        return value


async def test_identical_calls_at_the_same_time_share_one() -> None:
    flight: SingleFlight[str] = SingleFlight()
    calls = Calls()
    results = await asyncio.gather(*(flight.run("q", lambda: calls("a")) for _ in range(5)))
    assert results == ["a"] * 5
    assert calls.count == 1


async def test_calls_with_different_keys_each_run() -> None:
    flight: SingleFlight[str] = SingleFlight()
    calls = Calls()
    results = await asyncio.gather(
        flight.run("q1", lambda: calls("a")), flight.run("q2", lambda: calls("b"))
    )
    assert list(results) == ["a", "b"]
    assert calls.count == 2


async def test_a_call_that_ended_is_made_again() -> None:
    """No cache: the sharing lasts as long as the call."""
    flight: SingleFlight[str] = SingleFlight()
    calls = Calls()
    await flight.run("q", lambda: calls("a"))
    await flight.run("q", lambda: calls("a"))
    assert calls.count == 2


async def test_an_error_reaches_every_caller() -> None:
    flight: SingleFlight[str] = SingleFlight()

    async def failing() -> str:
        await asyncio.sleep(0.05)
        raise RuntimeError("search failed")

    results = await asyncio.gather(
        flight.run("q", failing), flight.run("q", failing), return_exceptions=True
    )
    assert [str(r) for r in results] == ["search failed", "search failed"]


async def test_a_cancelled_caller_leaves_the_call_running_for_the_others() -> None:
    flight: SingleFlight[str] = SingleFlight()
    calls = Calls()
    first = asyncio.create_task(flight.run("q", lambda: calls("a")))
    second = asyncio.create_task(flight.run("q", lambda: calls("a")))
    await asyncio.sleep(0.01)
    first.cancel()
    assert await second == "a"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert calls.count == 1
