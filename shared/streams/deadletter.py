"""Malformed entries go to ``<stream>.dlq`` with the reason, are acknowledged, and processing goes
on. FastStream's default would leave them pending forever and log an error.

Entries read in a batch are validated one by one by the hop runner (``shared.streams.hop``); an
entry delivered alone (a reclaimed one) reaches a typed handler, which is what documents the
payload in AsyncAPI and validates the entry before any of our code runs: for those, a broker
middleware.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream import BaseMiddleware
from faststream.message import StreamMessage
from faststream.redis.message import RedisBatchStreamMessage
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from shared.events import Event
from shared.logging import get_logger
from shared.streams.topology import Hop

log = get_logger(__name__)

# An event is a few kilobytes at most (tweets.fetched with 100 tweets is the largest).
MAX_ENTRY_BYTES = 1_000_000


async def dead_letter(
    redis: Redis,
    hop: Hop,
    entry_id: str,
    data: bytes,
    *,
    reason: str,
    consumer: str,
    attempts: int,
) -> None:
    """Move one entry to the hop's dead-letter stream with why, then acknowledge it."""
    fields: dict[FieldT, EncodableT] = {
        "stream": hop.stream,
        "entry_id": entry_id,
        "group": hop.group,
        "consumer": consumer,
        "attempts": attempts,
        "error": reason[:2000],
        "data": data[:MAX_ENTRY_BYTES],
    }
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(hop.dead_letter_stream, fields)
        pipe.xack(hop.stream, hop.group, entry_id)
        await pipe.execute()
    log.warning("stream.dead_lettered", stream=hop.stream, entry_id=entry_id, error=reason[:300])


def entry_id_of(msg: StreamMessage[Any]) -> str:
    raw_id = msg.raw_message["message_ids"][0]
    return raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)


class MalformedEntry(Exception):
    """The entry is not a valid event for its stream; the message says why."""


def parse_entry(hop: Hop, body: bytes) -> Event:
    """The event ``body`` holds for ``hop``; ``MalformedEntry`` when it holds none."""
    if len(body) > MAX_ENTRY_BYTES:
        raise MalformedEntry(f"entry of {len(body)} bytes exceeds {MAX_ENTRY_BYTES}")
    try:
        return hop.event.model_validate_json(body)
    except ValidationError as error:
        raise MalformedEntry(f"invalid {hop.event.__name__}: {error}") from error


def dead_letter_middleware(
    hop: Hop, redis: Callable[[], Redis], consumer: str
) -> Callable[..., BaseMiddleware]:
    """A middleware class bound to one hop (FastStream instantiates it per message)."""

    class DeadLetterMalformed(BaseMiddleware):
        async def consume_scope(
            self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
        ) -> Any:
            if isinstance(msg, RedisBatchStreamMessage):  # validated entry by entry by the runner
                return await call_next(msg)
            try:
                parse_entry(hop, msg.body)
            except MalformedEntry as error:
                await dead_letter(
                    redis(), hop, entry_id_of(msg), msg.body,
                    reason=str(error), consumer=consumer, attempts=1,
                )  # fmt: skip
                return None
            return await call_next(msg)

    return DeadLetterMalformed
