"""Opt-in: the chain code against a real subtensor localnet container (Docker).

Run with ``RUN_LOCALNET=1 pytest -m localnet`` where a Docker daemon answers. The image is a
fast-blocks localnet (250 ms blocks, Alice pre-funded and sudo) published by the subtensor
project; ``LOCALNET_IMAGE`` picks the tag. Everywhere else these tests are skipped, saying why.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest
from bittensor.sp_core import Keypair

from consumers.stake_executor.executor import StakeExecutor
from shared.chain import ChainClient, DividendReader, Unit
from shared.events import StakeAction
from shared.settings import Settings
from tests.servers import docker_answers

pytestmark = pytest.mark.localnet

IMAGE = os.environ.get("LOCALNET_IMAGE", "ghcr.io/opentensor/subtensor-localnet:devnet-ready")
ALICE = Keypair.create_from_uri("//Alice")


@pytest.fixture(scope="module")
def localnet_url() -> Iterator[str]:
    if os.environ.get("RUN_LOCALNET") != "1":
        pytest.skip("opt-in: set RUN_LOCALNET=1 (needs Docker) to run against a localnet")
    if not docker_answers():
        pytest.skip("RUN_LOCALNET=1 but no Docker daemon answers")
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    with DockerContainer(IMAGE).with_exposed_ports(9944) as container:
        wait_for_logs(container, "Imported #1", timeout=180)
        host, port = container.get_container_host_ip(), container.get_exposed_port(9944)
        yield f"ws://{host}:{port}"


@pytest.fixture
async def chain(localnet_url: str) -> AsyncIterator[ChainClient]:
    client = ChainClient.for_network(localnet_url, timeout=30, retry_after=5)
    yield client
    await client.close()


async def test_root_dividends_are_read_from_the_item_the_runtime_has(chain: ChainClient) -> None:
    """On a current runtime the reader picks RootAlphaDividendsPerSubnet, in alpha rao."""
    reading = await DividendReader(chain).one(0, ALICE.ss58_address)
    assert reading.item.name == "RootAlphaDividendsPerSubnet"
    assert reading.item.unit is Unit.ALPHA_RAO
    assert reading.entries[0].dividend >= 0
    assert reading.block > 0


async def test_a_paper_stake_is_planned_for_alice_without_submitting(chain: ChainClient) -> None:
    """Paper mode runs the SDK's dry run against the real runtime: a fee, nothing submitted."""
    settings = Settings(_env_file=None, wallet_address=ALICE.ss58_address)
    planned = await StakeExecutor(chain, settings).plan(
        StakeAction.ADD, Decimal("1"), netuid=0, hotkey=ALICE.ss58_address
    )
    outcome = planned.outcome
    assert outcome.submitted is False
    assert outcome.skip_reason is None  # Alice is pre-funded
    assert outcome.free_rao is not None
    assert outcome.fee_rao is not None
