"""Fixtures for tests that run the real SDK against the devnode over a websocket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import bittensor
import pytest

from offline.devnode.node import DevNode


@pytest.fixture(autouse=True)
def _sdk_metadata_cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the SDK's metadata cache per test.

    An empty cache makes every client download the metadata from the devnode, so that path
    (``state_call Metadata_metadata_at_version``) is exercised, and nothing lands in ``~``.
    """
    monkeypatch.setenv("BITTENSOR_RUNTIME_CACHE_DIR", str(tmp_path / "runtime-cache"))


@pytest.fixture
async def node() -> AsyncIterator[DevNode]:
    """A devnode on a free port, seeded from ``fixture.json``, sealing a block every 250 ms."""
    devnode = DevNode()
    async with devnode:
        yield devnode


@pytest.fixture
async def client(node: DevNode) -> AsyncIterator[bittensor.Client]:
    """The SDK's client on the devnode, pinned to it (no fallback or archive endpoints)."""
    sdk = bittensor.Client(node.url, fallback_endpoints=[], archive_endpoints=[])
    await sdk.connect()
    yield sdk
    await sdk.close()
