"""The stake-executor ``make chaos`` runs: the production app and entry point on a fake chain
whose submissions outlive the process.

Why not ``bench.apps:stake_executor``: its chain lives in the consumer's memory, so a kill -9
erases the very evidence the chaos run must check (did any trade reach the chain twice?). And why
not ``python -m consumers stake-executor``: that one talks to a real network (none here). So this
module runs exactly what that entry point runs, ``shared.streams.run.serve`` around the
production ``create_app`` (which also recreates a group lost with a Redis restart), with one
change: the chain is ``LedgerSubstrate``.

The double-submission detector. A submitted call does not carry the trade id, and every trade of
the run stakes the same amount on the same hotkey, so the chain's view alone cannot tell two
submissions of one trade from two trades. The trade id is taken instead from where the consumer
itself keeps it while handling an entry: ``shared.streams.hop`` binds ``trade_id`` into
structlog's context variables around the whole hop, and context variables follow the awaits (and
any task the SDK spawns) down to ``Substrate.submit``. So ``LedgerSubstrate.submit`` counts every
submission per trade in Redis (``HINCRBY chaos:submissions <trade id> 1``) before the extrinsic
"is on chain", i.e. before the result is returned. The count outlives any consumer, and it is
kept on a Redis the run never restarts (``CHAOS_LEDGER_URL``), so it outlives the Redis restarts
too. ``bench.chaos`` then reads: a count above 1 is a double submission; a submission without a
trade id (``?``) means the detector is blind and fails the run; and a trade whose recorded outcome
says ``submitted`` without a count means the same.

The chain takes ``CHAOS_INCLUSION_SECONDS`` between accepting an extrinsic and answering, as a
real one waits for inclusion, so a kill -9 can land between the two: that is the window where a
claim is left ``submitting`` and the trade must fail for a human rather than be submitted again.

Run: ``python -m bench.chaos_chain`` (settings from the environment, as any consumer).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import structlog
from bittensor import ExtrinsicResult
from bittensor.sp_core import Keypair
from redis.asyncio import Redis

from bench.apps import HOTKEY
from consumers.stake_executor.app import create_app
from offline.substrate import (
    TRADER_FREE_RAO,
    TRADER_STAKE_RAO,
    FakeCall,
    FakeSubstrate,
    client_factory,
)
from shared.settings import Settings
from shared.streams.run import serve
from shared.streams.topology import HopName, topology

LEDGER_URL_ENV = "CHAOS_LEDGER_URL"
INCLUSION_ENV = "CHAOS_INCLUSION_SECONDS"
# Hash: trade id -> submissions the chain accepted for it.
LEDGER_KEY = "chaos:submissions"
# The field counting submissions made outside any hop's context (the detector is then blind).
UNATTRIBUTED = "?"
NETUID = 18
PRICE_RAO = 2_000_000_000


class LedgerSubstrate(FakeSubstrate):
    """``FakeSubstrate`` whose every accepted submission is counted per trade in Redis."""

    def __init__(self, ledger_url: str, *, inclusion_seconds: float, trader: str) -> None:
        super().__init__()
        self._ledger_url = ledger_url
        self._ledger: Redis | None = None
        self._inclusion_seconds = inclusion_seconds
        # As ``offline.substrate.seeded``: subnet 18 at a price, a dividend for the hotkey, and
        # the trading coldkey funded and staked, so the executor's checks pass and it submits.
        self.add_subnet(0)
        self.add_subnet(NETUID, price_rao=PRICE_RAO)
        self.set_dividend(NETUID, HOTKEY, 1_000_000_000)
        self.fund(trader, TRADER_FREE_RAO)
        self.set_stake(HOTKEY, trader, NETUID, TRADER_STAKE_RAO)

    async def submit(
        self,
        call: FakeCall,
        keypair: Any,
        *,
        nonce: int | None = None,
        period: int | None = None,
        wait_for_inclusion: bool = True,
        wait_for_finalization: bool = True,
    ) -> ExtrinsicResult:
        trade_id = structlog.contextvars.get_contextvars().get("trade_id")
        if self._ledger is None:  # created here: it needs the consumer's event loop
            self._ledger = Redis.from_url(self._ledger_url)
        # Accepted by the chain from here on, whatever happens to this process next.
        await self._ledger.hincrby(LEDGER_KEY, str(trade_id or UNATTRIBUTED), 1)
        if self._inclusion_seconds:
            await asyncio.sleep(self._inclusion_seconds)
        return await super().submit(
            call,
            keypair,
            nonce=nonce,
            period=period,
            wait_for_inclusion=wait_for_inclusion,
            wait_for_finalization=wait_for_finalization,
        )


def main() -> None:
    settings = Settings()
    if settings.wallet_mnemonic is None:
        raise SystemExit("bench.chaos_chain trades live: WALLET_MNEMONIC is needed")
    trader = Keypair.create_from_mnemonic(settings.wallet_mnemonic.get_secret_value())
    substrate = LedgerSubstrate(
        os.environ[LEDGER_URL_ENV],
        inclusion_seconds=float(os.environ.get(INCLUSION_ENV, "0")),
        trader=trader.ss58_address,
    )
    chain = client_factory(substrate)
    hop = topology(settings)[HopName.STAKE_EXECUTOR]
    asyncio.run(serve(lambda: create_app(settings, chain_factory=chain), settings.redis_url, hop))


if __name__ == "__main__":
    main()
