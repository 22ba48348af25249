"""Operations on the pipeline's streams: what is where, dead letters back, stuck trades on.

    python -m shared.streams.ops status         # length, pending, lag, consumers, dead letters
    python -m shared.streams.ops requeue --all  # or: --id <dead-letter entry id> [--id ...]
    python -m shared.streams.ops resume         # trades idle for --idle seconds (600)

A requeued entry goes back to the stream it came from, its hop gets a fresh set of attempts, and
its trade is in progress again. An entry whose trade already completed (executed or skipped) is
not requeued, so a trade is never done twice; it is removed from the dead-letter stream.

``resume`` is for trades whose entry is gone: a Redis restarted without persistence (or
flushed) loses the entries in its streams, while MongoDB still holds every trade and what each
finished hop emitted. For each trade still requested or in progress with no activity for
``--idle`` seconds, it writes the event of the first unfinished hop again (the trade's request,
or the previous hop's recorded output). Should the entry in fact still exist, the hop's
idempotency absorbs the second one: a finished hop replays, a stake claim is never taken twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.documents import HopRecord, HopState, Trade, TradeState, init_documents, mongo_client
from shared.events import Event, TradeRequested, utc_now
from shared.records import finish_trade
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
class ConsumerStatus:
    name: str
    pending: int
    # Since the consumer last read (or claimed) anything from the group.
    idle_seconds: float


async def consumers(redis: Redis, hop: Hop) -> list[ConsumerStatus]:
    """The consumers of the hop's group: who holds what, and for how long each has been idle."""
    try:
        found = await redis.xinfo_consumers(hop.stream, hop.group)
    except ResponseError:  # no such stream or group yet
        return []
    return [
        ConsumerStatus(_text(c["name"]), int(c["pending"]), int(c["idle"]) / 1000) for c in found
    ]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    entry_id: str  # in the dead-letter stream: what ``requeue`` takes
    stream: str
    trade_id: str | None
    original_id: str | None  # the entry's id in ``stream``
    consumer: str | None  # the consumer that gave up
    attempts: int | None
    error: str


async def dead_letters(redis: Redis, hop: Hop, *, count: int) -> list[DeadLetter]:
    """The ``count`` newest entries of the hop's dead-letter stream, with why each is there."""
    found = cast(
        list[tuple[bytes, dict[bytes, bytes]]],
        await redis.xrevrange(hop.dead_letter_stream, count=count),
    )
    return [_dead_letter(hop, dead_id, fields) for dead_id, fields in found]


def _dead_letter(hop: Hop, dead_id: bytes, fields: dict[bytes, bytes]) -> DeadLetter:
    def field(name: bytes) -> str | None:
        value = fields.get(name)
        return None if value is None else _text(value)

    attempts = field(b"attempts")
    return DeadLetter(
        entry_id=_text(dead_id),
        stream=hop.stream,
        trade_id=_trade_id(fields.get(b"data", b"")),
        original_id=field(b"entry_id"),
        consumer=field(b"consumer"),
        attempts=int(attempts) if attempts is not None and attempts.isdigit() else None,
        error=field(b"error") or "(no reason recorded)",
    )


@dataclass(frozen=True, slots=True)
class StreamDetails:
    status: StreamStatus
    consumers: list[ConsumerStatus]
    dead_letters: list[DeadLetter]  # the newest, as many as asked for


async def details(redis: Redis, hops: list[Hop], *, dead_letters_each: int) -> list[StreamDetails]:
    """Per stream, what ``status`` says, who consumes it, and its newest dead letters."""
    return [
        StreamDetails(
            await _status(redis, hop),
            await consumers(redis, hop),
            await dead_letters(redis, hop, count=dead_letters_each),
        )
        for hop in hops
    ]


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


async def requeue_each(
    redis: Redis, hops: Iterable[Hop], entry_ids: list[str] | None
) -> list[Requeued]:
    """``requeue`` on every hop's dead-letter stream: ``entry_ids`` wherever they are, or all."""
    return [row for hop in hops for row in await requeue(redis, hop, entry_ids)]


async def _reopen(trade_id: str, hop: Hop) -> None:
    """A fresh set of attempts for the hop (if it has a record), and the trade in progress."""
    await HopRecord.get_pymongo_collection().update_one(
        {"_id": HopRecord.key(trade_id, hop.name)},
        {"$set": {"attempts": 0, "state": HopState.STARTED.value, "error": None}},
    )
    await Trade.get_pymongo_collection().update_one(
        {"_id": trade_id},
        {"$set": {"state": TradeState.IN_PROGRESS.value, "error": None, "updated_at": utc_now()}},
    )


@dataclass(frozen=True, slots=True)
class Resumed:
    trade_id: str
    action: str  # "sent to <stream>", or "ended <state>" when every hop had finished


async def resume(
    redis: Redis, hops: list[Hop], *, idle_seconds: float, maxlen: int
) -> list[Resumed]:
    """Send on every trade that is not terminal and has not moved for ``idle_seconds``."""
    cutoff = utc_now() - timedelta(seconds=idle_seconds)
    open_states = [TradeState.REQUESTED.value, TradeState.IN_PROGRESS.value]
    done = []
    for trade in await Trade.find({"state": {"$in": open_states}}).to_list():
        records = {r.hop: r for r in await HopRecord.find(HopRecord.trade_id == trade.id).to_list()}
        if _last_activity(trade, records.values()) >= cutoff:
            continue
        action = await _send_on(redis, hops, trade, records, maxlen)
        if action is not None:
            done.append(Resumed(trade.id, action))
    return done


def _last_activity(trade: Trade, records: Iterable[HopRecord]) -> datetime:
    return max([trade.updated_at, *(r.finished_at or r.started_at for r in records)])


async def _send_on(
    redis: Redis, hops: list[Hop], trade: Trade, records: dict[str, HopRecord], maxlen: int
) -> str | None:
    """Write the event of the trade's first unfinished hop; end it if every hop finished."""
    emitted: Event = TradeRequested(
        trade_id=trade.id,
        trace_id=trade.trace_id,
        netuid=trade.netuid,
        hotkey=trade.hotkey,
        requested_at=trade.requested_at,
    )
    for hop in hops:
        record = records.get(hop.name)
        if record is None or record.state is HopState.STARTED:
            await _reopen(trade.id, hop)  # also dates the trade: a second resume waits again
            data = emitted.model_dump_json().encode()
            await redis.xadd(hop.stream, {"__data__": data}, maxlen=maxlen, approximate=True)
            return f"sent to {hop.stream}"
        if record.state is not HopState.FINISHED or record.output is None:
            return None  # failed or dead-lettered: its trade's end is recorded already
        if record.trade_state is not None:  # the hop that ended the trade
            await finish_trade(trade.id, record.trade_state, outcome=record.output)
            return f"ended {record.trade_state.value}"
        emitted = hop.output_event.model_validate(record.output)
    return None


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
            if args.command == "resume":
                resumed = await resume(
                    redis, hops, idle_seconds=args.idle, maxlen=settings.stream_maxlen
                )
                for trade in resumed:
                    print(f"trade={trade.trade_id} {trade.action}")
                print(f"{len(resumed)} trades resumed")
                return
            for row in await requeue_each(redis, hops, None if args.all else args.id):
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
    resume_parser = commands.add_parser(
        "resume", help="send on trades whose entry was lost (e.g. with a Redis without persistence)"
    )
    resume_parser.add_argument(
        "--idle", type=float, default=600, help="seconds without activity (default: 600)"
    )
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
