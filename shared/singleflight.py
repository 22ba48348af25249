"""Concurrent identical calls share one: the first caller's call, its result or its error.

Why: a consumer works on a batch of entries at once, and entries of one subnet ask Desearch for
the same search (same query, same dates) and Chutes for the same score of the same tweets at the
same moment. One request answers them all, at the cost and rate limit of one. Nothing is kept
once the call ends: this is no cache, only the sharing of a call in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._calls: dict[Hashable, asyncio.Task[T]] = {}

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``'s result, shared with every caller of the same ``key`` while it runs.

        A caller that is cancelled leaves the call running for the others.
        """
        task = self._calls.get(key)
        if task is None:
            task = asyncio.ensure_future(call())
            self._calls[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task)

    def _forget(self, key: Hashable, done: asyncio.Task[T]) -> None:
        if self._calls.get(key) is done:
            del self._calls[key]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter may have been cancelled
