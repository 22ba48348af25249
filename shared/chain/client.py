"""The process's one chain connection: opened in a lifespan, bounded by timeouts, self-healing.

``bittensor.Client`` reconnects to fallback endpoints on its own while a connection is open, but a
connection that failed to open, or whose transport raised, stays broken. ``ChainClient`` drops
such a client and opens a fresh one on the next call, so a chain outage heals without a restart.
Every call runs under ``timeout`` seconds; every failure becomes ``ChainUnavailable``, which the
gateway answers with 503, never with an invented value.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import bittensor

from shared.errors import ChainUnavailable
from shared.logging import get_logger
from shared.metrics import CHAIN_CALL_SECONDS, CHAIN_FAILURES
from shared.settings import Settings

T = TypeVar("T")
ClientFactory = Callable[[], bittensor.Client]

log = get_logger(__name__)

# Raised by the SDK's transport when the node cannot be reached or answered badly.
_TRANSPORT_ERRORS = (
    bittensor.RpcConnectionError,
    bittensor.ConnectionNotReady,
    ConnectionError,
    OSError,
    TimeoutError,
)


class ChainClient:
    """Owns a ``bittensor.Client`` for the lifetime of a process."""

    def __init__(self, factory: ClientFactory, *, timeout: float, retry_after: int) -> None:
        self._factory = factory
        self._timeout = timeout
        self._retry_after = retry_after
        self._client: bittensor.Client | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def for_network(cls, network: str, *, timeout: float, retry_after: int) -> ChainClient:
        """A client for a network name (``finney``, ``test``, ``local``) or a ws(s):// URL."""
        return cls(lambda: bittensor.Client(network), timeout=timeout, retry_after=retry_after)

    @classmethod
    def from_settings(cls, settings: Settings, factory: ClientFactory | None = None) -> ChainClient:
        """The client for BITTENSOR_NETWORK, or on ``factory`` (tests pass a fake chain)."""
        timeout, retry_after = settings.chain_timeout_seconds, settings.chain_retry_after_seconds
        if factory is None:
            return cls.for_network(
                settings.bittensor_network, timeout=timeout, retry_after=retry_after
            )
        return cls(factory, timeout=timeout, retry_after=retry_after)

    async def start(self) -> None:
        """Try to connect now; a chain that is down at start is reported by readiness, not fatal."""
        with contextlib.suppress(ChainUnavailable):
            await self._connected()

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    async def call(self, operation: Callable[[bittensor.Client], Awaitable[T]]) -> T:
        """Run ``operation`` against the connected client, bounded by the timeout."""
        with CHAIN_CALL_SECONDS.time():
            return await self._call(operation)

    async def _call(self, operation: Callable[[bittensor.Client], Awaitable[T]]) -> T:
        client = await self._connected()
        try:
            async with asyncio.timeout(self._timeout):
                return await operation(client)
        except _TRANSPORT_ERRORS as error:
            CHAIN_FAILURES.labels("transport").inc()
            log.warning("chain.transport_failed", error=str(error), kind=type(error).__name__)
            async with self._lock:
                if self._client is client:
                    await self._drop()
            raise self._unavailable("the chain node did not answer") from error
        except bittensor.ChainError as error:
            CHAIN_FAILURES.labels("read").inc()
            log.warning("chain.read_failed", error=str(error), kind=type(error).__name__)
            raise self._unavailable("the chain read failed") from error

    async def _connected(self) -> bittensor.Client:
        async with self._lock:
            if self._client is not None:
                return self._client
            client = self._factory()
            try:
                async with asyncio.timeout(self._timeout):
                    await client.connect()
            except (*_TRANSPORT_ERRORS, bittensor.ChainError) as error:
                CHAIN_FAILURES.labels("connect").inc()
                log.warning("chain.connect_failed", error=str(error), kind=type(error).__name__)
                with contextlib.suppress(Exception):
                    await client.close()
                raise self._unavailable("the chain node cannot be reached") from error
            log.info("chain.connected", network=client.network, endpoint=client.endpoint)
            self._client = client
            return client

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()

    def _unavailable(self, message: str) -> ChainUnavailable:
        return ChainUnavailable(message, retry_after=self._retry_after)
