"""Single flight: concurrent callers asking for the same key share one run of the work.

The work runs as its own task, so a caller that goes away (its request cancelled) never cancels
the work the others wait for, and work that must finish once started (a trade being admitted)
does. Every caller gets the run's result, or its exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task[T]] = {}

    async def run(self, key: str, work: Callable[[], Coroutine[Any, Any, T]]) -> tuple[T, bool]:
        """The result of ``work()`` for ``key``, and whether this call started it (else it
        joined the run in progress)."""
        task = self._running.get(key)
        started = task is None
        if task is None:
            task = self._running[key] = asyncio.create_task(work())
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task), started

    def _forget(self, key: str, task: asyncio.Task[T]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved: every caller waiting for it may have gone
