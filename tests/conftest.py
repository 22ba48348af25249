"""Fixtures shared by every test: real Redis and MongoDB, settings, the fake chain."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from bittensor.sp_core import Keypair
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from consumers.stake_executor.executor import PAPER_DEFAULT_ADDRESS
from offline.substrate import FakeSubstrate, seeded
from shared.documents import init_documents, mongo_client
from shared.settings import Settings
from tests import servers
from tests.stack_support import Stack, running_stack

HOTKEY = "5FFApaS75bv5pJHfAp2FVLBj9ZaXuFDjEypsaBNc1wCfe52v"
OTHER_HOTKEY = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
READ_TOKEN = "reader-token-0123456789"
TRADE_TOKEN = "trader-token-0123456789"
OLD_READ_TOKEN = "rotated-out-token-0123456789"
# The coldkey live trades sign with on the fake chain: a throwaway key, funded there only.
TRADER_MNEMONIC = Keypair.generate_mnemonic()
TRADER = Keypair.create_from_mnemonic(TRADER_MNEMONIC).ss58_address


@pytest.fixture(autouse=True)
def _sdk_cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK caches token symbols on disk; keep that out of the home directory and per test."""
    monkeypatch.setenv("BTCLI_TOKEN_SYMBOLS_CACHE", str(tmp_path / "token_symbols.json"))


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """HTTP fakes listen on 127.0.0.1 (pytest-httpserver's default, localhost, may be IPv6)."""
    return "127.0.0.1", 0


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with servers.redis_url() as url:
        yield url


@pytest.fixture(scope="session")
def mongodb_url() -> Iterator[str]:
    with servers.mongodb_url() as url:
        yield url


@pytest.fixture(scope="session")
def stack(mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole service as processes on a Redis of its own (``tests/stack_support.py``), started
    once for the tests that use it from outside: a browser, a scraper."""
    with running_stack(tmp_path_factory.mktemp("stack"), mongodb_url) as running:
        yield running


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client on the test Redis, emptied before the test."""
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def mongodb_database(mongodb_url: str) -> AsyncIterator[str]:
    """A fresh database name, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongodb_url)
    await client.drop_database(name)
    await client.close()


@pytest.fixture
async def documents(mongodb_url: str, mongodb_database: str) -> AsyncIterator[None]:
    """The documents bound to the test database, for tests whose services run in other processes."""
    client: AsyncMongoClient[dict[str, object]] = mongo_client(mongodb_url, 5)
    await init_documents(client, mongodb_database)
    yield
    await client.close()


@pytest.fixture
def settings(redis: Redis, redis_url: str, mongodb_url: str, mongodb_database: str) -> Settings:
    return Settings(
        _env_file=None,
        redis_url=redis_url,
        mongodb_url=mongodb_url,
        mongodb_database=mongodb_database,
        api_tokens=(
            f"reader:{READ_TOKEN}:read,trader:{TRADE_TOKEN}:read+trade,"
            f"old-reader:{OLD_READ_TOKEN}:read"
        ),
        chain_timeout_seconds=2,
        metrics_port=0,  # consumers started in tests bind no port
        log_level="WARNING",
    )


@pytest.fixture
def substrate() -> FakeSubstrate:
    """A chain with subnets 0 and 18; on 18, HOTKEY earned 1 alpha and OTHER_HOTKEY 2. TRADER
    (live trades) and the paper default account are funded and staked on both hotkeys."""
    return seeded([HOTKEY, OTHER_HOTKEY], traders=[TRADER, PAPER_DEFAULT_ADDRESS])
