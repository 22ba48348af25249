"""The dividends service: query shapes, cache keys, and payloads built from chain readings."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.cache import CacheResult, DividendCache
from gateway.schemas import DividendEntryOut, DividendsPayload
from shared.chain import DividendReader, DividendReading


@dataclass(frozen=True, slots=True)
class DividendQuery:
    """One entry (netuid and hotkey), one subnet (netuid), or a page of subnets (neither)."""

    netuid: int | None
    hotkey: str | None
    cursor: int = 0

    @property
    def cache_key(self) -> str:
        if self.netuid is None:
            return f"dividends:v2:all:{self.cursor}"
        return f"dividends:v2:{self.netuid}:{self.hotkey or '*'}"


class DividendService:
    def __init__(self, reader: DividendReader, cache: DividendCache, *, page_size: int) -> None:
        self._reader = reader
        self._cache = cache
        self._page_size = page_size

    async def get(self, query: DividendQuery) -> CacheResult:
        return await self._cache.get_or_fetch(query.cache_key, lambda: self._fetch(query))

    async def _fetch(self, query: DividendQuery) -> bytes:
        if query.netuid is None:
            reading = await self._reader.subnets(query.cursor, self._page_size)
        elif query.hotkey is None:
            reading = await self._reader.subnet(query.netuid)
        else:
            reading = await self._reader.one(query.netuid, query.hotkey)
        return payload(query, reading).model_dump_json().encode()


def payload(query: DividendQuery, reading: DividendReading) -> DividendsPayload:
    entries = [
        DividendEntryOut(
            netuid=e.netuid,
            hotkey=e.hotkey,
            dividend=e.dividend,
            tao_estimate_rao=e.tao_estimate_rao,
        )
        for e in reading.entries
    ]
    estimates = [e.tao_estimate_rao for e in reading.entries]
    return DividendsPayload(
        netuid=query.netuid,
        hotkey=query.hotkey,
        dividend=None if query.netuid is None else sum(e.dividend for e in reading.entries),
        unit=reading.item.unit,
        storage_item=reading.item.qualified_name,
        block=reading.block,
        tao_estimate_rao=None if None in estimates else sum(e for e in estimates if e is not None),
        entries=entries,
        next_cursor=reading.next_cursor,
    )
