"""Malformed entries go to ``<stream>.dlq`` with the reason, are acknowledged, and processing goes
on. FastStream's default would leave them pending forever and log an error.

A broker middleware, because a typed handler (which is what documents the payload in AsyncAPI)
validates the entry before any of our code runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream import BaseMiddleware
from faststream.message import StreamMessage
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from shared.logging import get_logger
from shared.streams.topology import Hop

log = get_logger(__name__)

# An event is a few kilobytes at most (tweets.fetched with 100 tweets is the largest).
MAX_ENTRY_BYTES = 1_000_000


async def dead_letter(
    redis: Redis, hop: Hop, msg: StreamMessage[Any], *, reason: str, consumer: str, attempts: int
) -> None:
    """Move one entry to the hop's dead-letter stream with why, then acknowledge it."""
    entry_id = entry_id_of(msg)
    fields: dict[FieldT, EncodableT] = {
        "stream": hop.stream,
        "entry_id": entry_id,
        "group": hop.group,
        "consumer": consumer,
        "attempts": attempts,
        "error": reason[:2000],
        "data": msg.body[:MAX_ENTRY_BYTES],
    }
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(hop.dead_letter_stream, fields)
        pipe.xack(hop.stream, hop.group, entry_id)
        await pipe.execute()
    log.warning("stream.dead_lettered", stream=hop.stream, entry_id=entry_id, error=reason[:300])


def entry_id_of(msg: StreamMessage[Any]) -> str:
    raw_id = msg.raw_message["message_ids"][0]
    return raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)


def malformed_reason(hop: Hop, body: bytes) -> str | None:
    """Why ``body`` is not a valid event for ``hop``, or None when it is."""
    if len(body) > MAX_ENTRY_BYTES:
        return f"entry of {len(body)} bytes exceeds {MAX_ENTRY_BYTES}"
    try:
        hop.event.model_validate_json(body)
    except ValidationError as error:
        return f"invalid {hop.event.__name__}: {error}"
    return None


def dead_letter_middleware(
    hop: Hop, redis: Callable[[], Redis], consumer: str
) -> Callable[..., BaseMiddleware]:
    """A middleware class bound to one hop (FastStream instantiates it per message)."""

    class DeadLetterMalformed(BaseMiddleware):
        async def consume_scope(
            self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
        ) -> Any:
            reason = malformed_reason(hop, msg.body)
            if reason is not None:
                await dead_letter(redis(), hop, msg, reason=reason, consumer=consumer, attempts=1)
                return None
            return await call_next(msg)

    return DeadLetterMalformed
