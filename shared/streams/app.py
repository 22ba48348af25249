"""Everything a consumer app needs around its one typed handler: the broker, the group, the
publisher of the next event, the dead-letter middleware, MongoDB, the hop's service, and its
Prometheus metrics (served on METRICS_PORT: FastStream's per-message ones, the hop's own, and
its stream's gauges, refreshed every few seconds).

A consumer module then only says which hop it is, how to build its service, and what its handler
is called (see ``consumers/*/app.py``). Run one with
``faststream run --factory consumers.<name>.app:create_app``; each process gets a unique consumer
name, so any number of replicas share the group's entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

from faststream import AckPolicy, FastStream
from faststream.redis import RedisBroker, RedisStreamMessage, StreamSub
from faststream.redis.annotations import RedisBatchStreamMessage as BatchMessage
from faststream.redis.message import RedisBatchStreamMessage
from faststream.redis.parser import BinaryMessageFormatV1
from faststream.redis.prometheus import RedisPrometheusMiddleware
from faststream.specification import AsyncAPI
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared import metrics
from shared.documents import init_documents, mongo_client
from shared.events import Event
from shared.logging import configure_logging, get_logger
from shared.settings import Settings
from shared.streams import membership
from shared.streams.deadletter import dead_letter_middleware, entry_id_of
from shared.streams.hop import Delivery, HopRunner, HopService
from shared.streams.topology import Hop

log = get_logger(__name__)

In = TypeVar("In", bound=Event)
Out = TypeVar("Out", bound=Event)
ServiceFactory = Callable[[Settings], AbstractAsyncContextManager[HopService[In, Out]]]
Handler = Callable[[Any, RedisStreamMessage], Awaitable[None]]
# The field of a stream entry that holds the message (FastStream's, and the event contract's).
DATA_KEY = b"__data__"
# Batches a consumer works on at once: one waiting for MongoDB while the next one is worked on.
BATCHES_IN_FLIGHT = 2
# How often a consumer refreshes its stream's gauges.
STREAM_GAUGES_SECONDS = 10.0


def consumer_name(hop: Hop) -> str:
    """Unique per process, so replicas never share (and steal) each other's pending entries."""
    return f"{hop.name}-{socket.gethostname()}-{os.getpid()}"


async def ensure_group(redis: Redis, hop: Hop) -> None:
    """Create the hop's group reading from the stream's start (``0``), not from ``$``.

    FastStream would create it at ``$``, so entries written before the first consumer ever ran
    (a gateway that started first, an external producer) would never be read.
    """
    try:
        await redis.xgroup_create(hop.stream, hop.group, id="0", mkstream=True)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


class HopApp(Generic[In, Out]):
    def __init__(
        self,
        settings: Settings,
        hop: Hop,
        service: ServiceFactory[In, Out],
        *,
        description: str,
        look_first: bool = False,
    ) -> None:
        """``look_first``: the hop's work must not be repeated for a duplicated entry, so even
        a first delivery looks its hop's record up before the work (see ``shared.streams.hop``).
        """
        configure_logging(settings.log_level, settings.log_format)
        self.settings = settings
        self.hop = hop
        self.consumer = consumer_name(hop)
        self.reclaimer = f"{self.consumer}-reclaimer"
        self._service_factory = service
        self._redis: Redis | None = None
        self._runner: HopRunner[In, Out] | None = None
        self._look_first = look_first
        self._batch_slots = asyncio.Semaphore(BATCHES_IN_FLIGHT)
        self._batches: set[asyncio.Task[None]] = set()
        self.broker = RedisBroker(
            settings.redis_url,
            middlewares=[
                RedisPrometheusMiddleware(registry=REGISTRY, app_name=hop.name),
                dead_letter_middleware(hop, self._require_redis, self.consumer),
            ],
            logger=logging.getLogger(f"faststream.{hop.name}"),
            # On SIGTERM: stop reading, let handlers in flight finish for this long; whatever
            # is still unfinished stays pending, and the lifespan hands it back (see _lifespan).
            graceful_timeout=settings.shutdown_timeout_seconds,
        )
        self.publisher = self.broker.publisher(
            stream=StreamSub(hop.output_stream, maxlen=settings.stream_maxlen),
            schema=hop.output_event,
            title=f"{hop.output_stream}:publish",
            description=hop.output_event.__doc__,
        )
        self.app = FastStream(
            self.broker,
            lifespan=self._lifespan,
            specification=AsyncAPI(title=hop.name, version="1.0.0", description=description),
        )

    def subscriber(self, handler: Handler) -> Handler:
        """Read the hop's stream and group in two ways, both through the hop runner.

        The worker reads new entries in batches of STREAM_READ_COUNT (XREADGROUP COUNT), each
        batch handled at once (see ``shared.streams.hop``). The reclaimer (FastStream reads with
        XAUTOCLAIM when given ``min_idle_time``, and then reads nothing new) takes over entries
        left pending longer than STREAM_RECLAIM_IDLE_SECONDS by any consumer of the group, this
        process's own earlier life included, polling every STREAM_RECLAIM_INTERVAL_SECONDS,
        one at a time, through the consumer's typed ``handler``: that one documents the
        channel and its payload in AsyncAPI, the entry a producer writes being the same for
        both.
        """
        settings = self.settings
        worker = StreamSub(
            self.hop.stream,
            group=self.hop.group,
            consumer=self.consumer,
            batch=True,
            max_records=settings.stream_read_count,
            declare=False,  # ensure_group creates it from 0 at start
        )
        reclaimer = StreamSub(
            self.hop.stream,
            group=self.hop.group,
            consumer=self.reclaimer,
            min_idle_time=int(settings.stream_reclaim_idle_seconds * 1000),
            polling_interval=int(settings.stream_reclaim_interval_seconds * 1000),
            declare=False,
        )
        self.broker.subscriber(
            stream=worker,
            ack_policy=AckPolicy.MANUAL,
            parser=_entries_unparsed,
            include_in_schema=False,  # the same channel and entries as the reclaimer's
        )(self._handle_batch)
        documented: Handler = self.broker.subscriber(
            stream=reclaimer,
            ack_policy=AckPolicy.MANUAL,
            title=f"{self.hop.stream}:{self.hop.group}",
            description=handler.__doc__,
        )(handler)
        return documented

    async def handle(self, event: In, msg: RedisStreamMessage) -> None:
        """One entry claimed from a consumer that did not finish it (``event`` is its payload,
        validated by FastStream: the runner reads it again from the entry)."""
        raw = msg.raw_message["data"].get(DATA_KEY, b"")
        delivery = Delivery(entry_id_of(msg), msg.body, published=bool(_headers(raw)))
        await self._require_runner().handle([delivery], redelivered=True)

    async def _handle_batch(self, msg: BatchMessage) -> None:
        """Hand the batch to the runner and return at once, so that the next batch is read
        while this one is worked on, up to ``BATCHES_IN_FLIGHT``: a batch spends most of its
        time waiting for MongoDB, the next one meanwhile on its own work."""
        raw = msg.raw_message
        deliveries = []
        for entry_id, fields in zip(raw["message_ids"], raw["data"], strict=True):
            body, headers = BinaryMessageFormatV1.parse(fields.get(DATA_KEY, b""))
            deliveries.append(Delivery(_text(entry_id), body, published=bool(headers)))
        runner = self._require_runner()
        await self._batch_slots.acquire()
        batch = asyncio.create_task(runner.handle(deliveries, redelivered=False))
        self._batches.add(batch)
        batch.add_done_callback(self._batch_done)

    def _batch_done(self, batch: asyncio.Task[None]) -> None:
        self._batches.discard(batch)
        self._batch_slots.release()
        if not batch.cancelled() and (error := batch.exception()) is not None:
            # Its entries stay pending, to be reclaimed (as when a handler raises).
            log.error(
                "hop.batch_failed", hop=self.hop.name, error=f"{type(error).__name__}: {error}"
            )

    async def _finish_batches(self) -> None:
        """On the way out: let the batches in hand end (as FastStream lets a handler), for the
        graceful shutdown's time at most; whatever is unfinished stays pending."""
        if self._batches:
            await asyncio.wait(set(self._batches), timeout=self.settings.shutdown_timeout_seconds)

    def _require_runner(self) -> HopRunner[In, Out]:
        if self._runner is None:
            raise RuntimeError("the hop's service is not started")
        return self._runner

    def _require_redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("the consumer's Redis client is not started")
        return self._redis

    @contextlib.asynccontextmanager
    async def _lifespan(self) -> AsyncIterator[None]:
        settings = self.settings
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(metrics.serving(settings.metrics_port))
            mongo = mongo_client(settings.mongodb_url, settings.mongodb_timeout_seconds)
            stack.push_async_callback(mongo.close)
            await init_documents(mongo, settings.mongodb_database)
            self._redis = Redis.from_url(settings.redis_url)
            stack.push_async_callback(self._redis.aclose)
            await ensure_group(self._redis, self.hop)
            service = await stack.enter_async_context(self._service_factory(settings))
            self._runner = HopRunner(
                self.hop,
                service,
                self.publisher,
                self._redis,
                consumer=self.consumer,
                max_attempts=settings.stream_max_attempts,
                concurrency=settings.stream_concurrency,
                look_first=self._look_first,
            )
            gauges = asyncio.create_task(
                metrics.track_stream_gauges(
                    self._redis,
                    [self.hop],
                    every=STREAM_GAUGES_SECONDS,
                    within=settings.redis_timeout_seconds * 4,
                )
            )
            stack.push_async_callback(_cancel, gauges)
            sweeper = asyncio.create_task(
                membership.remove_gone_periodically(
                    self._redis,
                    self.hop,
                    idle_seconds=settings.stream_consumer_remove_idle_seconds,
                    within=settings.redis_timeout_seconds * 4,
                )
            )
            stack.push_async_callback(_cancel, sweeper)
            log.info("consumer.started", hop=self.hop.name, consumer=self.consumer)
            # On the way out, last in first out: the batches in hand finish (or are cancelled
            # after SHUTDOWN_TIMEOUT_SECONDS), then what this process still holds goes to
            # others, then the clients close.
            stack.push_async_callback(self._leave)
            stack.push_async_callback(self._finish_batches)
            yield
            log.info("consumer.stopping", hop=self.hop.name, consumer=self.consumer)

    async def _leave(self) -> None:
        settings = self.settings
        await membership.leave(
            self._require_redis(),
            self.hop,
            [self.consumer, self.reclaimer],
            reclaim_idle_seconds=settings.stream_reclaim_idle_seconds,
            within=settings.redis_timeout_seconds * 4,
        )


async def _entries_unparsed(
    message: Any, parse: Callable[[Any], Awaitable[RedisBatchStreamMessage]]
) -> RedisBatchStreamMessage:
    """FastStream's batch parser without its work on the entries: it decodes every entry and
    encodes the whole batch again as one JSON list, which costs time and fails on an entry that
    is not JSON. The runner reads each entry from the raw message instead."""
    parsed = await parse({**message, "data": []})
    parsed.raw_message = message
    return parsed


def _headers(data: bytes) -> dict[str, Any]:
    """The headers of a message FastStream published; none for plain JSON."""
    return BinaryMessageFormatV1.parse(data)[1]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
