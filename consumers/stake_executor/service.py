"""The stake-executor hop: sentiment.scored -> decision -> plan or extrinsic -> stake.executed.

Order of operations, each step recorded before the next:
claim the trade (unique) -> decide (policy) -> check the chain and plan (paper and live) ->
reserve the daily budget (once per trade) -> mark the claim as submitting (live) -> execute
(live) -> record the outcome. A trade the chain check skips (no position to unstake, a balance
short of amount + fee) reserves no budget and submits nothing.
See ``claims`` for what a second delivery of the same trade does at each of these points.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

from redis.asyncio import Redis

from consumers.stake_executor import claims
from consumers.stake_executor.budget import DailyBudget
from consumers.stake_executor.executor import StakeExecutor, StakeOutcome
from consumers.stake_executor.policy import Decision, decide
from shared.chain import ChainClient
from shared.chain.client import ClientFactory
from shared.documents import ClaimState, TradeState
from shared.events import SentimentScored, SkipReason, StakeAction, StakeExecuted, utc_now
from shared.killswitch import KillSwitch
from shared.logging import get_logger
from shared.metrics import STAKE_TAO, TRADES
from shared.settings import Settings
from shared.streams.hop import HopFailed, HopResult

log = get_logger(__name__)


class StakeService:
    def __init__(
        self,
        executor: StakeExecutor,
        budget: DailyBudget,
        kill_switch: KillSwitch,
        settings: Settings,
        *,
        consumer: str,
    ) -> None:
        self._executor = executor
        self._budget = budget
        self._kill_switch = kill_switch
        self._settings = settings
        self._consumer = consumer

    async def run(self, event: SentimentScored) -> HopResult[StakeExecuted]:
        try:
            done = await claims.acquire(
                event.trade_id,
                self._consumer,
                stale_after=self._settings.stream_reclaim_idle_seconds,
            )
        except claims.OutcomeUnknown as error:
            raise HopFailed(str(error)) from error
        if done is not None and done.outcome is not None:
            return _result(StakeExecuted.model_validate(done.outcome))
        # The runtime kill switch, read for every trade: a flip applies from the next one on.
        decision = decide(self._settings, event.score, await self._kill_switch.state())
        executed = await self._carry_out(event, decision)
        TRADES.labels(executed.action.value, executed.mode, _state(executed).value).inc()
        if executed.success and executed.amount_tao is not None:
            STAKE_TAO.labels(executed.mode, executed.action.value).observe(
                float(executed.amount_tao)
            )
        log.info(
            "stake.executed",
            action=executed.action,
            mode=executed.mode,
            amount_tao=str(executed.amount_tao),
            success=executed.success,
            skip_reason=executed.skip_reason,
            extrinsic_id=executed.extrinsic_id,
        )
        return _result(executed)

    async def _carry_out(self, event: SentimentScored, decision: Decision) -> StakeExecuted:
        if decision.action is StakeAction.SKIP or decision.amount_tao is None:
            return self._executed(event, decision)
        planned = await self._executor.plan(
            decision.action, decision.amount_tao, netuid=event.netuid, hotkey=event.hotkey
        )
        if planned.outcome.skip_reason is not None:
            return self._executed(event, decision, planned.outcome)
        if not await self._budget.reserve(event.trade_id, decision.amount_tao, utc_now().date()):
            cap = self._settings.stake_daily_cap_tao
            skip = Decision(
                StakeAction.SKIP, None, f"daily cap of {cap} TAO reached", SkipReason.DAILY_CAP
            )
            return self._executed(event, skip)
        if not (self._executor.submits and planned.submittable):
            # Nothing is sent: the claim stays claimed, and the hop's record holds the outcome.
            return self._executed(event, decision, await self._executor.submit(planned))
        await claims.mark(event.trade_id, ClaimState.SUBMITTING)
        executed = self._executed(event, decision, await self._executor.submit(planned))
        # The submitting claim resolved: a redelivery reads this outcome instead of resubmitting.
        await claims.mark(event.trade_id, ClaimState.DONE, executed.model_dump(mode="json"))
        return executed

    def _executed(
        self, event: SentimentScored, decision: Decision, outcome: StakeOutcome | None = None
    ) -> StakeExecuted:
        fields = {
            **event.lineage(),
            "action": decision.action,
            "mode": self._executor.mode.value,
            "reason": decision.reason,
            "skip_reason": decision.skip,
            "score": event.score,
            "amount_tao": decision.amount_tao,
        }
        if outcome is None:
            return StakeExecuted(**fields)
        reason = f"{decision.reason}; {outcome.note}" if outcome.note else decision.reason
        return StakeExecuted(
            **{**fields, "reason": reason, "skip_reason": outcome.skip_reason},
            amount_alpha_rao=outcome.amount_alpha_rao,
            capped_from_alpha_rao=outcome.capped_from_alpha_rao,
            position_alpha_rao=outcome.position_alpha_rao,
            free_rao=outcome.free_rao,
            submitted=outcome.submitted,
            success=outcome.success,
            block_hash=outcome.block_hash,
            extrinsic_id=outcome.extrinsic_id,
            fee_rao=outcome.fee_rao,
            error=outcome.error,
        )


def _state(executed: StakeExecuted) -> TradeState:
    if executed.action is StakeAction.SKIP or executed.skip_reason is not None:
        return TradeState.SKIPPED
    return TradeState.EXECUTED if executed.success else TradeState.FAILED


def _result(executed: StakeExecuted) -> HopResult[StakeExecuted]:
    summary = {
        "action": executed.action.value,
        "mode": executed.mode,
        "reason": executed.reason,
        "skip_reason": executed.skip_reason.value if executed.skip_reason else None,
        "amount_tao": str(executed.amount_tao) if executed.amount_tao is not None else None,
        "amount_alpha_rao": executed.amount_alpha_rao,
        "capped_from_alpha_rao": executed.capped_from_alpha_rao,
        "position_alpha_rao": executed.position_alpha_rao,
        "free_rao": executed.free_rao,
        "submitted": executed.submitted,
        "success": executed.success,
        "block_hash": executed.block_hash,
        "extrinsic_id": executed.extrinsic_id,
        "fee_rao": executed.fee_rao,
        "error": executed.error,
    }
    return HopResult(executed, summary, trade_state=_state(executed))


@contextlib.asynccontextmanager
async def stake_service(
    settings: Settings, *, consumer: str, chain_factory: ClientFactory | None = None
) -> AsyncIterator[StakeService]:
    chain = ChainClient.from_settings(settings, chain_factory)
    redis = Redis.from_url(settings.redis_url)
    try:
        await chain.start()
        budget = DailyBudget(
            redis, cap_tao=Decimal(settings.stake_daily_cap_tao), mode=settings.trading_mode.value
        )
        kill_switch = KillSwitch(redis, default=settings.trading_kill_switch)
        yield StakeService(
            StakeExecutor(chain, settings), budget, kill_switch, settings, consumer=consumer
        )
    finally:
        await chain.close()
        await redis.aclose()
