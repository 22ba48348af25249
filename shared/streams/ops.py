"""Operations on the pipeline's streams: what is where, and putting dead letters back.

    python -m shared.streams.ops status         # length, pending, lag, consumers, dead letters
    python -m shared.streams.ops requeue --all  # or: --id <dead-letter entry id> [--id ...]

A requeued entry goes back to the stream it came from, its hop gets a fresh set of attempts, and
its trade is in progress again. An entry whose trade already completed (executed or skipped) is
not requeued, so a trade is never done twice; it is removed from the dead-letter stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.documents import HopRecord, HopState, Trade, TradeState, init_documents, mongo_client
from shared.events import utc_now
from shared.settings import Settings
from shared.streams.topology import Hop, topology

COMPLETED = (TradeState.EXECUTED.value, TradeState.SKIPPED.value)


@dataclass(frozen=True, slots=True)
class StreamStatus:
    stream: str
    group: str
    length: int
    pending: int
    lag: int | None
    consumers: int
    dead_letters: int


async def status(redis: Redis, hops: list[Hop]) -> list[StreamStatus]:
    return [await _status(redis, hop) for hop in hops]


async def _status(redis: Redis, hop: Hop) -> StreamStatus:
    group: dict[str, Any] = {}
    try:
        for info in await redis.xinfo_groups(hop.stream):
            if _text(info["name"]) == hop.group:
                group = info
    except ResponseError:  # no such stream yet
        pass
    lag = group.get("lag")
    return StreamStatus(
        stream=hop.stream,
        group=hop.group,
        length=int(await redis.xlen(hop.stream)),
        pending=int(group.get("pending", 0)),
        lag=int(lag) if lag is not None else None,
        consumers=int(group.get("consumers", 0)),
        dead_letters=int(await redis.xlen(hop.dead_letter_stream)),
    )


@dataclass(frozen=True, slots=True)
class Requeued:
    entry_id: str
    stream: str
    trade_id: str | None
    action: str  # "requeued" or "already completed"


async def requeue(redis: Redis, hop: Hop, entry_ids: list[str] | None) -> list[Requeued]:
    """Put ``entry_ids`` (all when None) of the hop's dead-letter stream back on its stream."""
    if entry_ids is None:
        found = await _entries(redis, hop.dead_letter_stream, "-", "+")
    else:
        found = [e for i in entry_ids for e in await _entries(redis, hop.dead_letter_stream, i, i)]
    done = []
    for dead_id, fields in found:
        data = fields[b"data"]
        trade_id = _trade_id(data)
        trade = await Trade.get(trade_id) if trade_id else None
        if trade is not None and trade.state.value in COMPLETED:
            action = "already completed"
        else:
            if trade_id is not None:
                await _reopen(trade_id, hop)
            await redis.xadd(hop.stream, {"__data__": data})
            action = "requeued"
        await redis.xdel(hop.dead_letter_stream, dead_id)
        done.append(Requeued(_text(dead_id), hop.stream, trade_id, action))
    return done


async def _reopen(trade_id: str, hop: Hop) -> None:
    """A fresh set of attempts for the hop, and the trade in progress again."""
    await HopRecord.get_pymongo_collection().update_one(
        {"_id": HopRecord.key(trade_id, hop.name)},
        {"$set": {"attempts": 0, "state": HopState.STARTED.value, "error": None}},
    )
    await Trade.get_pymongo_collection().update_one(
        {"_id": trade_id},
        {"$set": {"state": TradeState.IN_PROGRESS.value, "error": None, "updated_at": utc_now()}},
    )


async def _entries(
    redis: Redis, stream: str, first: str, last: str
) -> list[tuple[bytes, dict[bytes, bytes]]]:
    return cast(list[tuple[bytes, dict[bytes, bytes]]], await redis.xrange(stream, first, last))


def _trade_id(data: bytes) -> str | None:
    try:
        value = json.loads(data).get("trade_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _table(rows: list[StreamStatus]) -> str:
    header = ("stream", "group", "length", "pending", "lag", "consumers", "dead letters")
    lines = [header] + [
        (
            r.stream,
            r.group,
            str(r.length),
            str(r.pending),
            "-" if r.lag is None else str(r.lag),
            str(r.consumers),
            str(r.dead_letters),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    cells = ("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines)
    return "\n".join(line.rstrip() for line in cells)


async def _main(args: argparse.Namespace) -> None:
    settings = Settings()
    hops = list(topology(settings).values())
    redis = Redis.from_url(settings.redis_url)
    try:
        if args.command == "status":
            print(_table(await status(redis, hops)))
            return
        mongo = mongo_client(settings.mongodb_url, settings.mongodb_timeout_seconds)
        await init_documents(mongo, settings.mongodb_database)
        try:
            for hop in hops:
                for row in await requeue(redis, hop, None if args.all else args.id):
                    print(f"{row.entry_id} {row.stream} trade={row.trade_id} {row.action}")
        finally:
            await mongo.close()
    finally:
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.streams.ops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "status", help="length, pending, consumers, lag and dead letters per stream"
    )
    requeue_parser = commands.add_parser("requeue", help="put dead letters back on their stream")
    which = requeue_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every dead letter of every stream")
    which.add_argument("--id", action="append", help="a dead-letter entry id (repeatable)")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
