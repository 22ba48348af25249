"""Every Prometheus metric of the gateway and the consumers, declared once, and their exposition.

Metrics are process-global (prometheus_client's default registry), so call sites update them in
one line and nothing has to be passed around. Label values are always from a small fixed set
(route templates, status codes, hop names, stream names from settings): never a raw path, a
trade id or an error message.

The gateway runs several uvicorn workers; ``python -m gateway`` then sets
``PROMETHEUS_MULTIPROC_DIR`` and every worker writes its values there, so one scrape, answered by
any worker, sums them all (``render``). A consumer is one process and serves its own registry
on ``METRICS_PORT`` (``serving``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import AsyncIterator, Iterable

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from pymongo import monitoring
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.logging import get_logger
from shared.streams.ops import status
from shared.streams.topology import Hop

log = get_logger(__name__)

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
# scope["route"] is absent when no route matched (404): one label value for all such paths.
UNMATCHED = "unmatched"

# --- gateway ---
REQUEST_SECONDS = Histogram(
    "taodiv_http_request_duration_seconds",
    "Gateway request latency by route template and HTTP status.",
    ["route", "status"],
    # The cached path answers in about a millisecond: resolve below it.
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CACHE_HITS = Counter(
    "taodiv_cache_hits_total", "Dividend cache lookups that found a value (in process or Redis)."
)
CACHE_MISSES = Counter(
    "taodiv_cache_misses_total",
    "Dividend cache lookups that found no value (the value is then read from the chain once, "
    "across processes).",
)
REDIS_FAILURES = Counter(
    "taodiv_redis_failures_total",
    "Gateway Redis calls that failed (refused, timed out, no free connection) by operation: "
    "cache_read (a lookup, the fill lock or a poll: the request is answered from the chain), "
    "cache_write (a value or lock not written back), ratelimit (the limit counted in this "
    "process only), trade_admission (a trade's claim not taken, and the trade refused with "
    "503; or not extended or released).",
    ["op"],
)

# --- chain (gateway and stake-executor) ---
CHAIN_CALL_SECONDS = Histogram(
    "taodiv_chain_call_duration_seconds",
    "Duration of chain calls, connecting included, failed calls included.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CHAIN_FAILURES = Counter(
    "taodiv_chain_failures_total",
    "Failed chain calls by kind: connect (no connection), transport (the node did not answer "
    "in time or dropped), read (the node answered with an error).",
    ["kind"],
)

# --- streams (refreshed from Redis: on scrape at the gateway, periodically in a consumer) ---
# Any worker may refresh them: the value written last is the one to report.
STREAM_LENGTH = Gauge(
    "taodiv_stream_length",
    "Entries in the stream (XLEN).",
    ["stream"],
    multiprocess_mode="mostrecent",
)
STREAM_PENDING = Gauge(
    "taodiv_stream_pending",
    "Entries delivered to the group and not yet acknowledged.",
    ["stream", "group"],
    multiprocess_mode="mostrecent",
)
STREAM_LAG = Gauge(
    "taodiv_stream_lag",
    "Entries not yet delivered to the group (NaN when Redis cannot tell).",
    ["stream", "group"],
    multiprocess_mode="mostrecent",
)
STREAM_DEAD_LETTERS = Gauge(
    "taodiv_stream_dead_letters",
    "Entries in the stream's dead-letter stream, <stream>.dlq.",
    ["stream"],
    multiprocess_mode="mostrecent",
)

# --- gateway and consumers ---
MONGODB_COMMANDS = Counter(
    "taodiv_mongodb_commands_total",
    "MongoDB commands sent, by command (insert, update, find, ...), counted by PyMongo's command "
    "monitoring: what a trade costs the database.",
    ["command"],
)


class MongoCommandCounter(monitoring.CommandListener):
    """Counts every command a client sends (``MONGODB_COMMANDS``); see ``mongo_client``."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        MONGODB_COMMANDS.labels(event.command_name).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass  # counted when sent

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass  # counted when sent


# --- consumers ---
HOP_SECONDS = Histogram(
    "taodiv_hop_duration_seconds",
    "Time to handle one stream entry, by hop and outcome (entries read together are handled "
    "together: each is observed with its batch's time): finished, failed (for good), retry "
    "(left pending for another delivery), dead_lettered, replayed (a redelivery of a hop that "
    "had already ended).",
    ["hop", "outcome"],
    # Hops call Desearch and Chutes, with retries: up to about a minute.
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
TRADES = Counter(
    "taodiv_trades_total",
    "Trades carried out by the stake-executor, by action, trading mode and result "
    "(executed, skipped, failed).",
    ["action", "mode", "result"],
)
STAKE_TAO = Histogram(
    "taodiv_stake_amount_tao",
    "Amounts staked or unstaked successfully (planned in paper mode), in TAO, by mode and action.",
    ["mode", "action"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def registry() -> CollectorRegistry:
    """This process's registry, or one that reads every worker's values in multiprocess mode."""
    if MULTIPROC_DIR not in os.environ:
        return REGISTRY
    merged = CollectorRegistry()
    MultiProcessCollector(merged)  # type: ignore[no-untyped-call]  # prometheus_client leaves it untyped
    return merged


def render(accept: str = "") -> tuple[bytes, str]:
    """The exposition in the format the scraper accepts (OpenMetrics when it asks for it, else
    Prometheus text), and its content type: what ``start_http_server`` answers too."""
    encoder, content_type = choose_encoder(accept)
    return encoder(registry()), content_type


async def refresh_stream_gauges(redis: Redis, hops: Iterable[Hop], *, within: float) -> None:
    """Set the stream gauges from Redis. Given up after ``within`` seconds; a failure is logged,
    not raised, and leaves the gauges as they were."""
    try:
        async with asyncio.timeout(within):
            rows = await status(redis, list(hops))
    except (RedisError, TimeoutError) as error:
        log.warning("metrics.streams_unavailable", error=str(error), kind=type(error).__name__)
        return
    for row in rows:
        STREAM_LENGTH.labels(row.stream).set(row.length)
        STREAM_PENDING.labels(row.stream, row.group).set(row.pending)
        STREAM_LAG.labels(row.stream, row.group).set(math.nan if row.lag is None else row.lag)
        STREAM_DEAD_LETTERS.labels(row.stream).set(row.dead_letters)


async def track_stream_gauges(
    redis: Redis, hops: Iterable[Hop], *, every: float, within: float
) -> None:
    """Refresh the stream gauges every ``every`` seconds until cancelled."""
    hops = list(hops)
    while True:
        await refresh_stream_gauges(redis, hops, within=within)
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def serving(port: int) -> AsyncIterator[None]:
    """Serve ``/metrics`` on ``port`` from a thread (it never blocks the event loop) while the
    block runs; 0 serves nothing.

    A port that cannot be bound is logged and the process goes on without it: metrics only
    observe, they must not stop trades.
    """
    server = None
    if port:
        try:
            server, _thread = start_http_server(port, registry=registry())
        except OSError as error:
            log.error("metrics.port_unavailable", port=port, error=str(error))
    try:
        yield
    finally:
        if server is not None:
            await asyncio.to_thread(server.shutdown)  # waits for its poll loop (0.5 s at most)
            server.server_close()
