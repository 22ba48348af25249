"""Response bodies, as documented in the OpenAPI schema at /docs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.chain import Unit
from shared.documents import HopState, Trade, TradeState
from shared.events import Hotkey, StakeAction


class DividendsParams(BaseModel):
    """Query parameters of ``GET /api/v1/tao_dividends`` (one model: validated in one pass)."""

    netuid: int | None = Field(default=None, ge=0, le=65535, description="Subnet; 0 is root.")
    hotkey: Hotkey | None = Field(default=None, description="SS58 address (checksum-validated).")
    trade: bool = Field(default=False, description="Queue a sentiment-driven trade (trade scope).")
    cursor: int = Field(default=0, ge=0, description="All-subnets page start (a netuid).")


class TradeFilters(BaseModel):
    """Which trades to list, and from where: the console's filters and paging."""

    netuid: int | None = Field(default=None, ge=0, le=65535)
    hotkey: Hotkey | None = None
    state: TradeState | None = None
    action: StakeAction | None = Field(default=None, description="The outcome's stake action.")
    offset: int = Field(default=0, ge=0)


class DividendEntryOut(BaseModel):
    netuid: int
    hotkey: str
    dividend: int = Field(description="Raw integer in `unit`.")
    tao_estimate_rao: int | None = Field(
        description="TAO estimate in rao (dividend x alpha price at the same block); "
        "null when no price could be read."
    )


class DividendsPayload(BaseModel):
    """What is cached: a chain reading, independent of who asked or when."""

    netuid: int | None = Field(description="The subnet asked for; null for all subnets.")
    hotkey: str | None = Field(description="The hotkey asked for; null for a whole subnet.")
    dividend: int | None = Field(
        description="The raw value for one hotkey, or the subnet's total; null for all "
        "subnets (alpha of different subnets does not add up)."
    )
    unit: Unit = Field(
        description="What `dividend` counts: 1e9 is one alpha (of that subnet) or TAO."
    )
    storage_item: str = Field(description="The storage item read, chosen from runtime metadata.")
    block: int = Field(description="The block every value here was read at.")
    tao_estimate_rao: int | None = Field(description="Sum of the entries' TAO estimates.")
    entries: list[DividendEntryOut]
    next_cursor: int | None = Field(
        default=None, description="All-subnets queries: pass as `cursor` for the next page."
    )


class DividendsResponse(DividendsPayload):
    cached: bool = Field(description="True when this request caused no chain read of its own.")
    cache_age_seconds: float = Field(description="Seconds since the value was read from the chain.")
    trade_enqueued: bool = Field(description="True when `trade=true` queued or found a trade.")
    trade_id: str | None = Field(description="The trade's id when `trade=true`.")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable error code.")
    message: str
    field: str | None = Field(default=None, description="The parameter at fault, if any.")


class ErrorResponse(BaseModel):
    error: ErrorBody


class ReadinessResponse(BaseModel):
    ready: bool
    checks: dict[str, str] = Field(description="Per dependency: `ok` or why not.")


class HopOut(BaseModel):
    hop: str
    state: HopState
    attempts: int
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    summary: dict[str, Any]
    error: str | None


class TradeSummary(BaseModel):
    trade_id: str
    trace_id: str
    netuid: int
    hotkey: str
    state: TradeState
    requested_by: str
    requested_at: datetime
    updated_at: datetime
    error: str | None
    outcome: dict[str, Any] | None = Field(description="The stake.executed event, once terminal.")

    @classmethod
    def from_document(cls, trade: Trade) -> TradeSummary:
        return cls.model_validate(trade.model_dump(exclude={"id"}) | {"trade_id": trade.id})


class TradeOut(TradeSummary):
    hops: list[HopOut] = Field(description="The hops that ran, in pipeline order.")


class TradePage(BaseModel):
    items: list[TradeSummary]
    total: int
    offset: int
    limit: int
