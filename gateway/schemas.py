"""Query parameters and response bodies, as documented in the OpenAPI schema at /docs.

Every constraint a parameter model states is both what the server checks and what the schema
publishes (``gateway.query``): a request the schema allows is served, one it forbids is a 422.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.query import DECIMAL, QueryBool
from shared.chain import Unit
from shared.documents import HopState, Trade, TradeState
from shared.errors import InvalidInput
from shared.events import Hotkey, NetUid, StakeAction

# Deep pages cost the storage a scan of everything skipped; past this, filter instead.
MAX_OFFSET = 100_000
MAX_PAGE = 100


class DividendsParams(BaseModel):
    """The query of `GET /api/v1/tao_dividends`: `hotkey` needs `netuid`, `trade=true` both."""

    # Unknown parameters are refused (a typo must not silently widen the query), and the rules
    # between parameters are published in JSON Schema as ``_one_target`` enforces them.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "dependentRequired": {"hotkey": ["netuid"]},
            "if": {"properties": {"trade": {"const": True}}, "required": ["trade"]},
            "then": {"required": ["netuid", "hotkey"]},
        },
    )

    netuid: Annotated[NetUid | None, DECIMAL] = Field(
        default=None, description="Subnet, 0..65535; 0 is root."
    )
    hotkey: Hotkey | None = None
    trade: QueryBool = Field(
        default=False,
        description="`true` queues a sentiment-driven trade on (netuid, hotkey): needs both "
        "and a token with the trade scope.",
    )
    cursor: Annotated[NetUid, DECIMAL] = Field(
        default=0, description="All-subnets queries: the netuid a page starts at."
    )

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        """A hotkey is one entry of one subnet; a trade has exactly one target."""
        if self.hotkey is not None and self.netuid is None:
            raise InvalidInput("hotkey needs a netuid", field="netuid")
        if self.trade and self.netuid is None:
            raise InvalidInput("trade=true needs a netuid", field="netuid")
        if self.trade and self.hotkey is None:
            raise InvalidInput("trade=true needs a hotkey", field="hotkey")
        return self

    @property
    def trade_target(self) -> tuple[int, str] | None:
        """(netuid, hotkey) to trade on when trade=true; the validator made sure of both."""
        if not self.trade or self.netuid is None or self.hotkey is None:
            return None
        return self.netuid, self.hotkey


class TradeFilters(BaseModel):
    """Which trades to list, and from where: the filters and the offset (the API's and the
    console's, so both check the same bounds)."""

    netuid: Annotated[NetUid | None, DECIMAL] = Field(
        default=None, description="Only trades on this subnet."
    )
    hotkey: Hotkey | None = None
    state: TradeState | None = Field(default=None, description="Only trades in this state.")
    action: StakeAction | None = Field(
        default=None, description="Only trades whose outcome took this stake action."
    )
    offset: Annotated[int, DECIMAL] = Field(
        default=0, ge=0, le=MAX_OFFSET, description=f"Trades to skip, 0..{MAX_OFFSET}."
    )


class TradesParams(TradeFilters):
    """The query of `GET /api/v1/trades`: filters, then a page, newest first."""

    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, DECIMAL] = Field(
        default=20, ge=1, le=MAX_PAGE, description=f"Page size, 1..{MAX_PAGE}."
    )


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
