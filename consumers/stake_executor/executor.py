"""Stake intents through the bittensor SDK: checked and planned, then (live) executed.

Add stake is denominated in TAO. Remove stake is denominated in the subnet's alpha, so a TAO
amount is converted with the spot price (rao of TAO per alpha) read just before; on netuid 0
alpha is TAO. Slippage protection is on (fill-or-kill at spot +/- ``rate_tolerance``), and the
SDK's ``Policy`` refuses any spend above the per-trade cap as a last guard rail.

A failed extrinsic still pays its fee, and the SDK's plan does not look at the coldkey's
holdings, so before anything is submitted the chain is read (paper and live alike, so a paper
trade reports what a live one would have done):

- remove_stake: the coldkey's alpha on (hotkey, netuid). None: skipped, ``no_position``. Less
  than the amount: the whole position is unstaked instead, and the outcome says so.
- add_stake: the coldkey's free balance. Less than the amount plus the plan's fee estimate:
  skipped, ``insufficient_balance``.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, replace
from decimal import Decimal

import bittensor
from bittensor.sp_core import Keypair

from shared.chain import ChainClient
from shared.events import SkipReason, StakeAction
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
    """What became of a stake: planned, skipped before submission, or submitted.

    ``success`` is None for a skipped stake (nothing was tried); ``note`` says in words what
    the chain check found (a skip, or an amount capped to the position), for the trade's reason.
    """

    submitted: bool
    success: bool | None
    amount_alpha_rao: int | None = None
    block_hash: str | None = None
    extrinsic_id: str | None = None
    fee_rao: int | None = None
    error: str | None = None
    skip_reason: SkipReason | None = None
    note: str | None = None
    capped_from_alpha_rao: int | None = None
    position_alpha_rao: int | None = None
    free_rao: int | None = None


@dataclass(frozen=True, slots=True)
class Planned:
    """A stake checked against the chain and dry-run: ``outcome`` is what the plan says (the
    fee and policy verdict, or the skip); ``intent`` what live trading would submit."""

    outcome: StakeOutcome
    intent: bittensor.Intent | None = None

    @property
    def submittable(self) -> bool:
        return self.intent is not None and self.outcome.success is True


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

    @property
    def submits(self) -> bool:
        """Whether ``submit`` sends extrinsics: live trading, with a key to sign them."""
        return self._mode is TradingMode.LIVE and self._keypair is not None

    async def plan(
        self, action: StakeAction, amount_tao: Decimal, *, netuid: int, hotkey: str
    ) -> Planned:
        """Read what the trade depends on, build the intent and dry-run it; submit nothing."""
        tao_rao = int(amount_tao * RAO_PER_TAO)
        signer = Keypair(ss58_address=self.address)

        async def run(client: bittensor.Client) -> Planned:
            if action is StakeAction.ADD:
                return await self._plan_add(client, signer, tao_rao, netuid=netuid, hotkey=hotkey)
            return await self._plan_remove(client, signer, tao_rao, netuid=netuid, hotkey=hotkey)

        return await self._chain.call(run)

    async def submit(self, planned: Planned) -> StakeOutcome:
        """Execute a submittable plan (live only); anything else is returned as planned."""
        keypair, intent = self._keypair, planned.intent
        if not self.submits or keypair is None or intent is None or not planned.submittable:
            return planned.outcome

        async def run(client: bittensor.Client) -> StakeOutcome:
            result = await self._execute(client, intent, keypair)
            error = None
            if not result.success:
                error = (result.error.name if result.error else None) or result.message
            return replace(
                planned.outcome,
                submitted=True,
                success=result.success,
                block_hash=result.block_hash,
                extrinsic_id=result.extrinsic_id,
                fee_rao=result.fee.rao if result.fee is not None else None,
                error=error,
            )

        return await self._chain.call(run)

    async def _plan_add(
        self, client: bittensor.Client, signer: Keypair, tao_rao: int, *, netuid: int, hotkey: str
    ) -> Planned:
        intent = bittensor.AddStake(
            hotkey_ss58=hotkey,
            netuid=netuid,
            amount_tao=bittensor.Balance.from_rao(tao_rao),
            rate_tolerance=self._tolerance,
        )
        plan = await client.plan(intent, signer, policy=self._guard)
        free = (await client.balances.get(self.address)).rao
        planned = _planned(plan, free_rao=free)
        # A fee the SDK could not estimate counts as 0 here (the plan warns about it).
        fee = planned.fee_rao or 0
        if free < tao_rao + fee:
            note = (
                f"skipped: the free balance of {_whole(free)} TAO does not cover "
                f"{_whole(tao_rao)} TAO plus the fee of {_whole(fee)} TAO"
            )
            return Planned(_skipped(planned, SkipReason.INSUFFICIENT_BALANCE, note))
        return Planned(planned, intent)

    async def _plan_remove(
        self, client: bittensor.Client, signer: Keypair, tao_rao: int, *, netuid: int, hotkey: str
    ) -> Planned:
        wanted = await _alpha_for(client, netuid, tao_rao)
        held = (await client.staking.get(self.address, hotkey, netuid)).rao
        if held <= 0:
            note = f"skipped: the coldkey holds no alpha on {hotkey} at netuid {netuid}"
            read = StakeOutcome(submitted=False, success=None, position_alpha_rao=0)
            return Planned(_skipped(read, SkipReason.NO_POSITION, note))
        alpha = min(wanted, held)
        intent = bittensor.RemoveStake(
            hotkey_ss58=hotkey,
            netuid=netuid,
            amount_alpha=bittensor.Balance.from_rao(alpha, netuid),
            rate_tolerance=self._tolerance,
        )
        plan = await client.plan(intent, signer, policy=self._guard)
        planned = _planned(plan, amount_alpha_rao=alpha, position_alpha_rao=held)
        if alpha < wanted:
            note = (
                f"capped to the position: {_whole(held)} alpha held, "
                f"less than the {_whole(wanted)} alpha the amount converts to"
            )
            planned = replace(planned, capped_from_alpha_rao=wanted, note=note)
        return Planned(planned, intent)

    async def _execute(
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


def _planned(
    plan: bittensor.Plan,
    *,
    amount_alpha_rao: int | None = None,
    position_alpha_rao: int | None = None,
    free_rao: int | None = None,
) -> StakeOutcome:
    """The dry run as an outcome: the fee, and the policy's violations as the error."""
    problems = [*plan.violations]
    return StakeOutcome(
        submitted=False,
        success=not problems,
        amount_alpha_rao=amount_alpha_rao,
        fee_rao=plan.fee.rao if plan.fee is not None else None,
        error="; ".join(problems) or None,
        position_alpha_rao=position_alpha_rao,
        free_rao=free_rao,
    )


def _skipped(read: StakeOutcome, reason: SkipReason, note: str) -> StakeOutcome:
    """``read`` (what was read from the chain) as a skip: nothing submitted, nothing tried."""
    return replace(read, submitted=False, success=None, error=None, skip_reason=reason, note=note)


def _whole(rao: int) -> str:
    """Rao as whole units (TAO or alpha), exactly: 125000 -> "0.000125"."""
    return str(Decimal(rao) / RAO_PER_TAO)


async def _alpha_for(client: bittensor.Client, netuid: int, tao_rao: int) -> int:
    """The alpha (rao) worth ``tao_rao`` at the current spot price."""
    if netuid == 0:
        return tao_rao
    price = await client.runtime(_ALPHA_PRICE, [netuid])
    if not price:
        raise bittensor.ChainError(f"no alpha price for netuid {netuid}")
    return tao_rao * RAO_PER_TAO // int(price)
