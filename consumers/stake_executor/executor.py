"""Stake intents through the bittensor SDK: planned (paper) or executed (live).

Add stake is denominated in TAO. Remove stake is denominated in the subnet's alpha, so a TAO
amount is converted with the spot price (rao of TAO per alpha) read just before; on netuid 0
alpha is TAO. Slippage protection is on (fill-or-kill at spot +/- ``rate_tolerance``), and the
SDK's ``Policy`` refuses any spend above the per-trade cap as a last guard rail.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from decimal import Decimal

import bittensor
from bittensor.sp_core import Keypair

from shared.chain import ChainClient
from shared.events import StakeAction
from shared.settings import Settings, TradingMode

RAO_PER_TAO = 1_000_000_000
_ALPHA_PRICE = bittensor.runtime_api.SwapRuntimeApi.current_alpha_price
# Paper trades without a configured account are planned for this well-known development
# account (Alice); nothing is ever signed with it.
PAPER_DEFAULT_ADDRESS = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
# How the transaction pool refuses an extrinsic that lost a nonce race to another one signed
# by the same coldkey at the same time (another replica, or another entry in this one): its
# nonce is taken in the pool, or already used in a block. The refused extrinsic never entered
# the pool, so a fresh one (fresh nonce) cannot stake twice. (The SDK's own ``retries`` spots
# the first by its message, not the second.)
NONCE_RACES = frozenset({"PriorityTooLow", "Stale"})
# Racing signers are spread out by a random pause of up to this long before resubmitting.
_RACE_JITTER_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class StakeOutcome:
    submitted: bool
    success: bool
    amount_alpha_rao: int | None = None
    block_hash: str | None = None
    extrinsic_id: str | None = None
    fee_rao: int | None = None
    error: str | None = None


class StakeExecutor:
    def __init__(self, chain: ChainClient, settings: Settings) -> None:
        self._chain = chain
        self._mode = settings.trading_mode
        self._tolerance = settings.stake_rate_tolerance
        self._guard = bittensor.Policy(max_spend_tao=float(settings.stake_max_tao_per_trade))
        self._retries = settings.stake_submit_retries
        self._jitter = secrets.SystemRandom()
        mnemonic = settings.wallet_mnemonic
        self._keypair = (
            Keypair.create_from_mnemonic(mnemonic.get_secret_value()) if mnemonic else None
        )
        self.address = (
            self._keypair.ss58_address if self._keypair else settings.wallet_address
        ) or PAPER_DEFAULT_ADDRESS

    @property
    def mode(self) -> TradingMode:
        return self._mode

    async def stake(
        self, action: StakeAction, amount_tao: Decimal, *, netuid: int, hotkey: str
    ) -> StakeOutcome:
        async def run(client: bittensor.Client) -> StakeOutcome:
            tao_rao = int(amount_tao * RAO_PER_TAO)
            alpha_rao: int | None = None
            if action is StakeAction.ADD:
                intent: bittensor.Intent = bittensor.AddStake(
                    hotkey_ss58=hotkey,
                    netuid=netuid,
                    amount_tao=bittensor.Balance.from_rao(tao_rao),
                    rate_tolerance=self._tolerance,
                )
            else:
                alpha_rao = await _alpha_for(client, netuid, tao_rao)
                intent = bittensor.RemoveStake(
                    hotkey_ss58=hotkey,
                    netuid=netuid,
                    amount_alpha=bittensor.Balance.from_rao(alpha_rao, netuid),
                    rate_tolerance=self._tolerance,
                )
            if self._mode is TradingMode.PAPER or self._keypair is None:
                return await self._plan(client, intent, alpha_rao)
            return await self._execute(client, intent, self._keypair, alpha_rao)

        return await self._chain.call(run)

    async def _plan(
        self, client: bittensor.Client, intent: bittensor.Intent, alpha_rao: int | None
    ) -> StakeOutcome:
        plan = await client.plan(intent, Keypair(ss58_address=self.address), policy=self._guard)
        problems = [*plan.violations]
        return StakeOutcome(
            submitted=False,
            success=not problems,
            amount_alpha_rao=alpha_rao,
            fee_rao=plan.fee.rao if plan.fee is not None else None,
            error="; ".join(problems) or None,
        )

    async def _execute(
        self,
        client: bittensor.Client,
        intent: bittensor.Intent,
        keypair: Keypair,
        alpha_rao: int | None,
    ) -> StakeOutcome:
        result = await self._submit(client, intent, keypair)
        error = None
        if not result.success:
            error = (result.error.name if result.error else None) or result.message
        return StakeOutcome(
            submitted=True,
            success=result.success,
            amount_alpha_rao=alpha_rao,
            block_hash=result.block_hash,
            extrinsic_id=result.extrinsic_id,
            fee_rao=result.fee.rao if result.fee is not None else None,
            error=error,
        )

    async def _submit(
        self, client: bittensor.Client, intent: bittensor.Intent, keypair: Keypair
    ) -> bittensor.ExtrinsicResult:
        """Execute ``intent``, resubmitting after a lost nonce race (see ``NONCE_RACES``)."""
        result = await client.execute(intent, keypair, policy=self._guard)
        for _ in range(self._retries):
            if result.success or result.error is None or result.error.name not in NONCE_RACES:
                break
            await asyncio.sleep(self._jitter.uniform(0, _RACE_JITTER_SECONDS))
            result = await client.execute(intent, keypair, policy=self._guard)
        return result


async def _alpha_for(client: bittensor.Client, netuid: int, tao_rao: int) -> int:
    """The alpha (rao) worth ``tao_rao`` at the current spot price."""
    if netuid == 0:
        return tao_rao
    price = await client.runtime(_ALPHA_PRICE, [netuid])
    if not price:
        raise bittensor.ChainError(f"no alpha price for netuid {netuid}")
    return tao_rao * RAO_PER_TAO // int(price)
