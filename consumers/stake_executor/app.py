"""The stake-executor app: ``faststream run --factory consumers.stake_executor.app:create_app``."""

from __future__ import annotations

from functools import partial

from faststream import FastStream
from faststream.redis import RedisStreamMessage

from consumers.stake_executor.service import stake_service
from shared.chain.client import ClientFactory
from shared.events import SentimentScored
from shared.settings import Settings
from shared.streams.app import HopApp, consumer_name
from shared.streams.topology import HopName, topology


def create_app(
    settings: Settings | None = None, *, chain_factory: ClientFactory | None = None
) -> FastStream:
    """``chain_factory`` replaces the SDK client (tests pass one on a fake substrate)."""
    settings = settings or Settings()
    hop_spec = topology(settings)[HopName.STAKE_EXECUTOR]
    hop = HopApp(
        settings,
        hop_spec,
        partial(stake_service, consumer=consumer_name(hop_spec), chain_factory=chain_factory),
        description="Adds or removes stake according to a trade's sentiment, paper by default.",
        look_first=True,  # a stake is never decided twice, even for a duplicated entry
    )

    @hop.subscriber
    async def execute_stake(event: SentimentScored, msg: RedisStreamMessage) -> None:
        """Sentiment was scored: decide, plan (paper) or submit (live), emit stake.executed."""
        await hop.handle(event, msg)

    return hop.app
