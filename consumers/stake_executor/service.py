"""The stake-executor hop: sentiment.scored -> decision -> plan or extrinsic -> stake.executed.

Order of operations, each step recorded before the next:
decide (policy) -> claim the trade (unique) -> reserve the daily budget (once per trade) ->
mark the claim as submitting (live) -> plan (paper) or execute (live) -> record the outcome.
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
from shared.events import SentimentScored, StakeAction, StakeExecuted, utc_now
from shared.logging import get_logger
from shared.metrics import STAKE_TAO, TRADES
from shared.settings import Settings, TradingMode
from shared.streams.hop import HopFailed, HopResult

log = get_logger(__name__)


class StakeService:
    def __init__(
        self, executor: StakeExecutor, budget: DailyBudget, settings: Settings, *, consumer: str
    ) -> None:
        self._executor = executor
        self._budget = budget
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
        decision = decide(self._settings, event.score)
        if decision.amount_tao is not None and not await self._budget.reserve(
            event.trade_id, decision.amount_tao, utc_now().date()
        ):
            decision = Decision(
                StakeAction.SKIP,
                None,
                f"daily cap of {self._settings.stake_daily_cap_tao} TAO reached",
            )
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
            extrinsic_id=executed.extrinsic_id,
        )
        return _result(executed)

    async def _carry_out(self, event: SentimentScored, decision: Decision) -> StakeExecuted:
        fields = {
            **event.lineage(),
            "action": decision.action,
            "mode": self._executor.mode.value,
            "reason": decision.reason,
            "score": event.score,
            "amount_tao": decision.amount_tao,
        }
        if decision.action is StakeAction.SKIP or decision.amount_tao is None:
            return StakeExecuted(**fields)
        live = self._executor.mode is TradingMode.LIVE
        if live:
            await claims.mark(event.trade_id, ClaimState.SUBMITTING)
        outcome: StakeOutcome = await self._executor.stake(
            decision.action, decision.amount_tao, netuid=event.netuid, hotkey=event.hotkey
        )
        executed = StakeExecuted(
            **fields,
            amount_alpha_rao=outcome.amount_alpha_rao,
            submitted=outcome.submitted,
            success=outcome.success,
            block_hash=outcome.block_hash,
            extrinsic_id=outcome.extrinsic_id,
            fee_rao=outcome.fee_rao,
            error=outcome.error,
        )
        if live:  # the submitting claim resolved; otherwise the hop's record holds the outcome
            await claims.mark(event.trade_id, ClaimState.DONE, executed.model_dump(mode="json"))
        return executed


def _state(executed: StakeExecuted) -> TradeState:
    if executed.action is StakeAction.SKIP:
        return TradeState.SKIPPED
    return TradeState.EXECUTED if executed.success else TradeState.FAILED


def _result(executed: StakeExecuted) -> HopResult[StakeExecuted]:
    summary = {
        "action": executed.action.value,
        "mode": executed.mode,
        "reason": executed.reason,
        "amount_tao": str(executed.amount_tao) if executed.amount_tao is not None else None,
        "amount_alpha_rao": executed.amount_alpha_rao,
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
        yield StakeService(StakeExecutor(chain, settings), budget, settings, consumer=consumer)
    finally:
        await chain.close()
        await redis.aclose()
