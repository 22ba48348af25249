"""Fixtures for tests that run the real SDK against the devnode over a websocket.

Every test here needs the recorded runtime metadata, a data file kept outside the repository
and named by ``DEVNODE_METADATA``; without it they are skipped, saying why.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import bittensor
import pytest

from tests.devnode.metadata import METADATA_ENV
from tests.devnode.node import DevNode

SKIP_REASON = (
    f"{METADATA_ENV} is not set: the devnode tests need the recorded runtime metadata, e.g. "
    f"{METADATA_ENV}=/work/shared/chain/metadata/localnet-v15.hex"
)


@pytest.fixture(autouse=True)
def _needs_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip without metadata; with it, keep the SDK's metadata cache per test.

    An empty cache makes every client download the metadata from the devnode, so that path
    (``state_call Metadata_metadata_at_version``) is exercised, and nothing lands in ``~``.
    """
    if not os.environ.get(METADATA_ENV):
        pytest.skip(SKIP_REASON)
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
