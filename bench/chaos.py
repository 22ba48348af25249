"""``make chaos``: kill -9 each consumer, and restart Redis, in the middle of N trades; then check
that every trade ends, none is lost, and none reaches the chain twice.

Why: the delivery guarantees (README, "Delivery guarantees") are each tested alone; this checks
that they hold together, on running processes, through the failures they exist for. Each
scenario starts from empty databases and runs the three consumers as production does
(``python -m consumers <name>``, which also recreates a group lost with Redis; the stake-executor
is ``python -m bench.chaos_chain``, the same entry point on a fake chain that records every
submission outside the process, see that module for the double-submission detector). Desearch
and Chutes are the zero-latency stand-ins of ``make bench-pipeline`` (``offline.desearch``,
``offline.chutes``). Trading is live, with a throwaway mnemonic generated per run and caps far
above the run, so every trade submits an extrinsic to the fake chain. Recovery is made fast
(reclaim after 5 s idle, looked for every second, 5 attempts) so a scenario takes seconds, not
minutes.

Size. 1000 trades per scenario at 10 a second, each consumer working on 8 entries at once (the
production default), by default: on 2 CPUs a scenario takes about two minutes, the five about
ten. (The local MongoDB stand-in, FerretDB on SQLite, keeps up only because every document is
keyed by ``_id`` and ``tools/ferretdb`` indexes the expression its ``_id`` lookups use; see there.)

A producer writes the trades as an external one would (raw XADD of the JSON event) at a steady
``--rate``; a trade counts as sent once its XADD returned an entry id (while Redis is down the
producer retries, as a real one must). When a third of them have completed, the scenario's
failure happens, at the first moment its victim holds entries (the killed consumer has some
pending, or for Redis some entry is being worked on), waiting up to ``BUSY_WAIT_SECONDS``:

1-3. ``kill -9`` of the tweet-fetcher, the sentiment-scorer or the stake-executor, restarted
     a second later (as a supervisor would) under a new consumer name; its entries in hand are
     reclaimed once idle.
4.   ``kill -9`` of Redis with ``appendonly yes, appendfsync always``, restarted from its AOF.
5.   ``kill -9`` of Redis without any persistence, restarted empty: the streams, their groups
     and every entry in them are gone. The consumers must recreate their groups and carry on
     with the trades sent afterwards. The trades in flight stall; once nothing has completed
     for ``--stall`` seconds the bench runs ``make resume`` (``python -m shared.streams.ops
     resume``), as an operator would, which sends them on from their MongoDB records, and waits
     again. A trade this producer wrote that no hop had read yet has no MongoDB record: its
     only copy was in that Redis, and only a producer can send it again. Those are reported as
     erased, not lost; the scenario passes only if no other trade was lost.

Redis scenarios run on a ``redis-server`` this bench starts on a free port in a temporary
directory; the others on the Redis database of ``REDIS_URL`` (12 by default). The chain's
submission ledger always stays on ``REDIS_URL``, which no scenario restarts.

Per scenario: "completed" is a trade whose MongoDB record is terminal (executed, skipped, failed
or dead-lettered); "lost" is one sent but not terminal when the run gives up waiting, i.e. after
the last trade was sent, the failure was over, and no trade completed for ``--stall`` seconds
(more than a hop's attempts take to be exhausted by reclaims); "double-submitted" is a trade the
chain accepted more than once. The Redis and MongoDB databases used are wiped at the start of
every scenario: never point them at data you want to keep.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from bittensor.sp_core import Keypair
from pymongo import MongoClient
from redis import Redis
from redis.exceptions import RedisError

from bench.chaos_chain import INCLUSION_ENV, LEDGER_KEY, LEDGER_URL_ENV, UNATTRIBUTED
from bench.pipeline import Target, bench_target, consumer_env, trade_request
from bench.processes import (
    Processes,
    exit_on_sigterm,
    free_port,
    polling_consumers,
    processes,
    start_fakes,
)
from shared.documents import TERMINAL_STATES, ClaimState, TradeState
from shared.settings import Settings
from shared.streams.topology import Hop, HopName, topology

REDIS_URL = "redis://127.0.0.1:6379/12"
MONGODB_DATABASE = "bench_chaos"
DEFAULT_TRADES = 1000
# The commands that run each consumer; all go through ``shared.streams.run.serve``.
COMMANDS: dict[HopName, list[str]] = {
    HopName.TWEET_FETCHER: [sys.executable, "-m", "consumers", HopName.TWEET_FETCHER.value],
    HopName.SENTIMENT_SCORER: [sys.executable, "-m", "consumers", HopName.SENTIMENT_SCORER.value],
    HopName.STAKE_EXECUTOR: [sys.executable, "-m", "bench.chaos_chain"],
}
# Fast recovery for the run (production: 30 s idle, every 5 s; 15 s to shut down).
RECOVERY = {
    "STREAM_RECLAIM_IDLE_SECONDS": "5",
    "STREAM_RECLAIM_INTERVAL_SECONDS": "1",
    "STREAM_MAX_ATTEMPTS": "5",
    "SHUTDOWN_TIMEOUT_SECONDS": "2",
}
RESTART_AFTER_SECONDS = 1.0  # a killed consumer is started again this long after
REDIS_DOWN_SECONDS = 3.0  # Redis is away this long
# Once due, the failure waits up to this long for a moment when its victim has entries in hand.
BUSY_WAIT_SECONDS = 10.0
SEND_BATCH = 200  # XADDs per pipelined round trip at most
TICK_SECONDS = 0.05
POLL_SECONDS = 1.0  # how often MongoDB is asked how many trades completed
PROGRESS_SECONDS = 15
READY_SECONDS = 120
TERMINAL = sorted(state.value for state in TERMINAL_STATES)


class Failure(StrEnum):
    KILL = "kill"
    REDIS_AOF = "redis-aof"
    REDIS_EPHEMERAL = "redis-ephemeral"


@dataclass(frozen=True)
class Scenario:
    name: str
    slug: str  # for --only and the log directory
    failure: Failure
    victim: HopName | None = None


SCENARIOS = [
    *(Scenario(f"kill -9 {hop.value}", f"kill-{hop.value}", Failure.KILL, hop) for hop in HopName),
    Scenario("redis restart, AOF", "redis-aof", Failure.REDIS_AOF),
    Scenario("redis restart, no persistence", "redis-no-persistence", Failure.REDIS_EPHEMERAL),
]


# --- processes ---


class RedisServer:
    """A ``redis-server`` of this run's own, so restarting it disturbs nobody else."""

    NAME = "redis-server"

    def __init__(self, procs: Processes, directory: Path, *, persistent: bool) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make install)")
        self.port = free_port()
        self._procs = procs
        self._command = [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(directory),
            "--save", "", "--appendonly", "yes" if persistent else "no",
            "--appendfsync", "always", "--protected-mode", "no",
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._procs.start(self.NAME, self._command, dict(os.environ))
        client = Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                with contextlib.suppress(RedisError):  # refused, or still loading its AOF
                    if client.ping():
                        return
                if self._procs.check():
                    raise RuntimeError(f"redis-server exited:\n{self._procs.tail(self.NAME)}")
                time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within 30 s")

    def kill(self) -> None:
        self._procs.kill(self.NAME)


# --- one scenario ---


@dataclass(frozen=True)
class Config:
    trades: int
    rate: float
    stall: float
    timeout: float
    inclusion_seconds: float
    concurrency: int
    target: Target  # REDIS_URL's database, the MongoDB database, the fakes
    mnemonic: str
    log_dir: Path


@dataclass
class Result:
    scenario: Scenario
    sent: int = 0
    states: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    # Lost trades that only a Redis without persistence held (scenario 5's expected loss).
    erased: int = 0
    double: int = 0
    submissions: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return sum(self.states[state] for state in TERMINAL)

    @property
    def ok(self) -> bool:
        return not self.problems and self.double == 0 and self.lost == self.erased


class Disruption:
    """The scenario's failure: due once ``trigger`` trades completed, fired at the next moment
    its victim has work in hand (within ``BUSY_WAIT_SECONDS``), then recovered from."""

    def __init__(self, trigger: int) -> None:
        self.trigger = trigger
        self.due_at: float | None = None
        self.fired_at: float | None = None
        self.recovered_at: float | None = None

    @property
    def over(self) -> bool:
        return self.recovered_at is not None


class Run:
    """One scenario: fresh databases, the consumers, the producer, the failure, the checks."""

    def __init__(self, scenario: Scenario, config: Config, shared: Redis) -> None:
        self.scenario = scenario
        self.config = config
        self.shared = shared  # REDIS_URL: the ledger, and the pipeline unless Redis restarts
        self.result = Result(scenario)
        self.settings = Settings()
        self.hops = topology(self.settings)
        self.run_id = uuid.uuid4().hex[:8]
        self.ids = [f"chaos-{self.run_id}-{i:06d}" for i in range(config.trades)]
        self.sent_at: dict[str, float] = {}
        self.disruption = Disruption(math.ceil(config.trades / 3))
        self.at_risk = 0  # scenario 5: trades sent and not completed when Redis went away
        self.lives: dict[HopName, int] = dict.fromkeys(HopName, 1)
        self.resumed: str | None = None  # what `make resume` said, when it ran

    # --- setup ---

    def wipe(self, mongo: MongoClient[dict[str, Any]]) -> None:
        self.shared.flushdb()
        mongo.drop_database(self.config.target.mongodb_database)

    def env(self, redis_url: str) -> dict[str, str]:
        target = self.config.target
        pipeline_target = Target(redis_url, target.mongodb_url, target.mongodb_database,
                                 target.fake_port)  # fmt: skip
        return {
            **consumer_env(pipeline_target),
            **RECOVERY,
            "STREAM_CONCURRENCY": str(self.config.concurrency),
            "STREAM_READ_COUNT": str(self.config.concurrency),
            "TRADING_MODE": "live",
            "WALLET_MNEMONIC": self.config.mnemonic,
            "STAKE_DAILY_CAP_TAO": "1000000000",
            "TRADING_KILL_SWITCH": "false",
            LEDGER_URL_ENV: target.redis_url,
            INCLUSION_ENV: str(self.config.inclusion_seconds),
        }

    def name(self, hop: HopName) -> str:
        life = self.lives[hop]
        return hop.value if life == 1 else f"{hop.value}.{life}"

    # --- the run ---

    def execute(self) -> Result:
        started = time.monotonic()
        mongo: MongoClient[dict[str, Any]]
        with (
            MongoClient(self.config.target.mongodb_url, serverSelectionTimeoutMS=5000) as mongo,
            tempfile.TemporaryDirectory(prefix="chaos-redis-") as redis_dir,
            processes(self.config.log_dir / self.scenario.slug) as infra,
            processes(self.config.log_dir / self.scenario.slug) as consumers,
        ):
            self.wipe(mongo)
            server: RedisServer | None = None
            redis_url = self.config.target.redis_url
            if self.scenario.failure is not Failure.KILL:
                persistent = self.scenario.failure is Failure.REDIS_AOF
                server = RedisServer(infra, Path(redis_dir), persistent=persistent)
                server.start()
                redis_url = server.url
            pipeline = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            try:
                env = self.env(redis_url)
                for hop, command in COMMANDS.items():
                    consumers.start(self.name(hop), command, env)
                self.wait_ready(pipeline, consumers)
                self.loop(pipeline, mongo, consumers, server, env)
                if self.scenario.failure is Failure.REDIS_EPHEMERAL and not self.all_ended(mongo):
                    self.resume(env)  # as an operator would, with `make resume`
                    self.loop(pipeline, mongo, consumers, server, env)
            finally:
                pipeline.close()
            consumers.stop()  # before the checks: nothing moves while they read
            self.check(mongo, consumers)
        self.result.seconds = time.monotonic() - started
        return self.result

    def all_ended(self, mongo: MongoClient[dict[str, Any]]) -> bool:
        trades = mongo[self.config.target.mongodb_database]["trades"]
        return trades.count_documents({"state": {"$in": TERMINAL}}) >= len(self.ids)

    def resume(self, env: dict[str, str]) -> None:
        """``python -m shared.streams.ops resume`` for the trades idle since the loop stalled."""
        command = [sys.executable, "-m", "shared.streams.ops", "resume",
                   "--idle", str(self.config.stall / 2)]  # fmt: skip
        done = subprocess.run(  # noqa: S603
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        lines = done.stdout.strip().splitlines()
        self.resumed = lines[-1] if done.returncode == 0 and lines else None
        if self.resumed is None:
            self.result.problems.append(f"make resume failed:\n{done.stderr[-2000:]}")
            return
        self.result.notes.append(
            f"no trade completed for {self.config.stall:.0f} s: `make resume` -> {self.resumed}"
        )

    def wait_ready(self, pipeline: Redis, consumers: Processes) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            self.fail_on_exit(consumers)
            if polling_consumers(pipeline) >= len(COMMANDS):
                return
            time.sleep(0.2)
        raise RuntimeError(f"the consumers did not all poll their groups within {READY_SECONDS} s")

    def fail_on_exit(self, consumers: Processes) -> None:
        for name in consumers.check():
            raise RuntimeError(f"{name} exited by itself:\n{consumers.tail(name)}")

    def loop(
        self,
        pipeline: Redis,
        mongo: MongoClient[dict[str, Any]],
        consumers: Processes,
        server: RedisServer | None,
        env: dict[str, str],
    ) -> None:
        trades = mongo[self.config.target.mongodb_database]["trades"]
        stream = self.settings.stream_trade_requested
        started = progressed = polled = shown = time.monotonic()
        completed = 0
        while True:
            now = time.monotonic()
            due = min(len(self.ids), int((now - started) * self.config.rate) + 1)
            if len(self.sent_at) < due:
                self.send(pipeline, stream, due)
            if now - polled >= POLL_SECONDS:
                polled = now
                count = trades.count_documents({"state": {"$in": TERMINAL}})
                if count > completed:
                    completed, progressed = count, now
            if now - shown >= PROGRESS_SECONDS:
                shown = now
                print(f"  {self.scenario.name}: {len(self.sent_at)} sent, {completed} completed "
                      f"after {now - started:.0f} s", file=sys.stderr)  # fmt: skip
            self.disrupt(now, completed, pipeline, trades, consumers, server, env)
            for name in consumers.check():
                code = consumers.exits[name]
                self.result.problems.append(
                    f"{name} exited by itself (code {code}) instead of carrying on"
                )
                print(f"  {name} exited (code {code}):\n{consumers.tail(name)}", file=sys.stderr)
            if len(self.sent_at) == len(self.ids) and self.disruption.over:
                if completed >= len(self.ids):
                    return
                quiet_since = max(progressed, self.disruption.recovered_at or now)
                if now - quiet_since > self.config.stall:
                    return
            if now - started > self.config.timeout:
                self.result.problems.append(
                    f"gave up after the {self.config.timeout:.0f} s timeout"
                )
                return
            time.sleep(TICK_SECONDS)

    def send(self, pipeline: Redis, stream: str, due: int) -> None:
        """XADD the trades now due; while Redis is away they wait and are tried again.

        A batch whose reply was lost may have been written in part: writing it again gives
        some trades two entries, which the hops' idempotency must absorb.
        """
        start = len(self.sent_at)
        batch = self.ids[start : min(due, start + SEND_BATCH)]
        pipe = pipeline.pipeline(transaction=False)
        for trade_id in batch:
            pipe.xadd(stream, {"__data__": trade_request(trade_id)})
        try:
            pipe.execute()
        except RedisError:
            return
        now = time.monotonic()
        self.sent_at.update(dict.fromkeys(batch, now))

    def disrupt(
        self,
        now: float,
        completed: int,
        pipeline: Redis,
        trades: Any,
        consumers: Processes,
        server: RedisServer | None,
        env: dict[str, str],
    ) -> None:
        disruption = self.disruption
        if disruption.over:
            return
        if disruption.fired_at is None:
            if completed < disruption.trigger:
                return
            disruption.due_at = disruption.due_at or now
            in_hand = self.in_hand(pipeline, consumers)
            if not in_hand and now - disruption.due_at < BUSY_WAIT_SECONDS:
                return
            if self.scenario.victim is not None:
                self.kill(self.scenario.victim, consumers, completed, in_hand)
            else:
                assert server is not None
                # Counted just before: every trade sent and not completed may be in Redis only.
                done = trades.count_documents({"state": {"$in": TERMINAL}})
                self.at_risk = len(self.sent_at) - done
                disruption.fired_at = time.monotonic()  # after every XADD that returned
                server.kill()
                self.result.notes.append(
                    f"killed Redis (-9) after {done} of {len(self.ids)} trades completed "
                    f"({len(self.sent_at)} sent, {self.at_risk} in flight)"
                )
            return
        if self.scenario.victim is not None:
            if now - disruption.fired_at >= RESTART_AFTER_SECONDS:
                hop = self.scenario.victim
                self.lives[hop] += 1
                pid = consumers.start(self.name(hop), COMMANDS[hop], env)
                self.result.notes.append(
                    f"started it again {RESTART_AFTER_SECONDS:.0f} s later (pid {pid})"
                )
                disruption.recovered_at = time.monotonic()
        elif now - disruption.fired_at >= REDIS_DOWN_SECONDS:
            assert server is not None
            server.start()
            self.result.notes.append(
                f"started it again {REDIS_DOWN_SECONDS:.0f} s later, "
                + ("from its AOF" if self.scenario.failure is Failure.REDIS_AOF else "empty")
                + "; the consumers were not touched"
            )
            disruption.recovered_at = time.monotonic()

    def in_hand(self, pipeline: Redis, consumers: Processes) -> int:
        """Entries the victim holds: the killed consumer's pending ones, or for Redis every
        entry pending in a group (being worked on, and in Redis only)."""
        try:
            if self.scenario.victim is not None:
                pid = consumers.pid(self.name(self.scenario.victim))
                return pending_of(pipeline, self.hops[self.scenario.victim], pid)
            return sum(
                int(pipeline.xpending(hop.stream, hop.group)["pending"])
                for hop in self.hops.values()
            )
        except RedisError:
            return 0

    def kill(self, hop: HopName, consumers: Processes, completed: int, in_hand: int) -> None:
        name = self.name(hop)
        pid = consumers.pid(name)
        self.disruption.fired_at = time.monotonic()
        consumers.kill(name)
        self.result.notes.append(
            f"killed {hop.value} (-9, pid {pid}) after {completed} of {len(self.ids)} trades "
            f"completed ({len(self.sent_at)} sent), with {in_hand} entries in its hands"
        )

    # --- the checks ---

    def check(self, mongo: MongoClient[dict[str, Any]], consumers: Processes) -> None:
        result = self.result
        database = mongo[self.config.target.mongodb_database]
        records = {
            doc["_id"]: doc
            for doc in database["trades"].find({}, {"state": 1, "error": 1, "outcome.submitted": 1})
        }
        claim_docs = list(database["stake_claims"].find({}, {"state": 1, "outcome.submitted": 1}))
        claims = {doc["_id"]: doc["state"] for doc in claim_docs}
        raw = cast(dict[bytes, bytes], self.shared.hgetall(LEDGER_KEY))
        ledger = {key.decode(): int(value) for key, value in raw.items()}

        sent = set(self.sent_at)
        result.sent = len(sent)
        result.states = Counter(
            str(records[t]["state"]) if t in records else "never read" for t in sent
        )
        lost = [t for t in sent if t not in records or records[t]["state"] not in TERMINAL]
        result.lost = len(lost)
        if self.scenario.failure is Failure.REDIS_EPHEMERAL and self.disruption.fired_at:
            fired = self.disruption.fired_at
            # Never read by a hop, so never recorded: their only copy was in that Redis.
            erased = [t for t in lost if self.sent_at[t] < fired and t not in records]
            result.erased = len(erased) if len(erased) <= self.at_risk else 0
            result.notes.append(
                f"erased with that Redis: {len(erased)} of the {self.at_risk} trades in flight, "
                "written straight to its stream and never read by a hop, so MongoDB has no "
                "record of them: only their producer can send them again (a trade admitted by "
                "the gateway is recorded first, and `make resume` sends it on); "
                f"{len(lost) - len(erased)} other trades were lost (must be 0)"
            )
        if lost:
            result.notes.append(f"lost trades by how far they got: {how_far(database, lost)}")

        # The detector (bench.chaos_chain): one count per trade the chain accepted.
        result.submissions = sum(ledger.values())
        result.double = sum(1 for t, n in ledger.items() if t != UNATTRIBUTED and n > 1)
        if ledger.get(UNATTRIBUTED):
            result.problems.append(
                f"{ledger[UNATTRIBUTED]} submissions without a trade id: the detector is blind"
            )
        strangers = [t for t in ledger if t != UNATTRIBUTED and t not in sent]
        if strangers:
            result.problems.append(f"submissions for trades never sent: {strangers[:5]}")
        # Submitted by the record of the trade or of its claim (written first).
        recorded = [*records.values(), *claim_docs]
        unseen = {
            doc["_id"]
            for doc in recorded
            if (doc.get("outcome") or {}).get("submitted") and not ledger.get(doc["_id"])
        }
        if unseen:
            result.problems.append(
                f"{len(unseen)} trades recorded as submitted that the chain never saw: "
                "the detector missed them"
            )
        unclaimed = [
            t
            for t in ledger
            if t != UNATTRIBUTED
            and claims.get(t) not in (ClaimState.SUBMITTING.value, ClaimState.DONE.value)
        ]
        if unclaimed:
            result.problems.append(
                f"{len(unclaimed)} trades submitted without a claim marked submitting"
            )
        # A claim left "submitting" by a kill: the trade fails for a human to reconcile.
        unknown = [t for t, state in claims.items() if state == ClaimState.SUBMITTING.value]
        if unknown:
            on_chain = sum(1 for t in unknown if ledger.get(t))
            failed = sum(
                1 for t in unknown if records.get(t, {}).get("state") == TradeState.FAILED.value
            )
            result.notes.append(
                f"claims left 'submitting' (outcome unknown): {len(unknown)}, {on_chain} of them "
                f"on chain once, {len(unknown) - on_chain} never sent; {failed} of those trades "
                "failed for a human to reconcile rather than being sent again"
            )
        for name, code in consumers.exits.items():
            result.notes.append(f"{name} exited by itself with code {code}")


def how_far(database: Any, trade_ids: list[str]) -> str:
    """For trades that never completed: the last hop each one finished, counted."""
    order = {hop.value: index for index, hop in enumerate(HopName)}
    furthest: dict[str, str] = dict.fromkeys(trade_ids, "none")
    query = {"trade_id": {"$in": trade_ids}, "state": "finished"}
    for doc in database["hops"].find(query, {"trade_id": 1, "hop": 1}):
        current = furthest[doc["trade_id"]]
        if current == "none" or order[doc["hop"]] > order[current]:
            furthest[doc["trade_id"]] = doc["hop"]
    counts = Counter(furthest.values())
    described = {
        "none": "no hop finished",
        HopName.STAKE_EXECUTOR.value: "with all three hops recorded as finished but the trade "
        "record never set terminal (what a redelivery of a stake-executor entry whose hop was "
        "recorded, but not its trade, leaves: the replay in shared/streams/hop.py re-emits the "
        "event without finishing the trade)",
    }
    return "; ".join(
        f"{count} {described.get(hop, f'last finished {hop}')}"
        for hop, count in counts.most_common()
    )


def pending_of(redis: Redis, hop: Hop, pid: int) -> int:
    """Entries pending in the hop's group for the consumer process ``pid`` (worker + reclaimer)."""
    infos = redis.xinfo_consumers(hop.stream, hop.group)
    suffixes = (f"-{pid}", f"-{pid}-reclaimer")
    return sum(int(info["pending"]) for info in infos if _text(info["name"]).endswith(suffixes))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- the report ---

COLUMNS = ("scenario", "sent", "completed", "executed", "failed", "dead-lettered", "lost",
           "double-submitted", "submissions", "seconds")  # fmt: skip
WIDTHS = (30, 5, 9, 8, 6, 13, 4, 16, 11, 7)


def row(values: Sequence[object]) -> str:
    cells = [f"{values[0]!s:<{WIDTHS[0]}}"]
    cells += [f"{value!s:>{width}}" for value, width in zip(values[1:], WIDTHS[1:], strict=True)]
    return "  ".join(cells)


def report_row(result: Result) -> str:
    states = result.states
    return row((
        result.scenario.name, result.sent, result.completed, states[TradeState.EXECUTED.value],
        states[TradeState.FAILED.value], states[TradeState.DEAD_LETTERED.value],
        result.lost if not result.erased else f"{result.lost}*", result.double,
        result.submissions, f"{result.seconds:.0f}",
    ))  # fmt: skip


def report(results: Sequence[Result], config: Config, *, scenarios: int) -> bool:
    print(f"\n{row(COLUMNS)}")
    for result in results:
        print(report_row(result))
    print()
    for result in results:
        print(f"{result.scenario.name}: {'ok' if result.ok else 'FAILED'}")
        for note in result.notes:
            print(f"  - {note}")
        for problem in result.problems:
            print(f"  - PROBLEM: {problem}")
    if any(result.erased for result in results):
        print("* erased with the Redis that restarted without persistence, as explained above: "
              "expected, and not counted as a failure")  # fmt: skip
    sent = sum(r.sent for r in results)
    lost = sum(r.lost for r in results)
    erased = sum(r.erased for r in results)
    double = sum(r.double for r in results)
    ok = all(result.ok for result in results) and len(results) == scenarios
    print(
        f"\nchaos {'PASSED' if ok else 'FAILED'}: {len(results)} scenarios, {sent} trades sent, "
        f"{sum(r.completed for r in results)} completed, "
        f"{sum(r.states[TradeState.DEAD_LETTERED.value] for r in results)} dead-lettered, "
        f"{lost - erased} lost (+{erased} erased by Redis without persistence), "
        f"{double} double-submitted; logs in {config.log_dir}"
    )
    return ok


# --- main ---


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--trades", type=int, default=DEFAULT_TRADES, help="per scenario")
    parser.add_argument("--rate", type=float, default=10.0, help="trades sent per second")
    parser.add_argument("--stall", type=float, default=40.0, help="give up waiting after this "
                        "long without a trade completing")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=600.0, help="longest scenario")
    parser.add_argument("--inclusion-seconds", type=float, default=0.05,
                        help="the fake chain's wait between accepting and answering")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=8, help="entries each consumer "
                        "works on at once (STREAM_CONCURRENCY, STREAM_READ_COUNT)")  # fmt: skip
    parser.add_argument("--fake-port", type=int, default=18091)
    parser.add_argument("--only", choices=[s.slug for s in SCENARIOS], action="append",
                        help="run only this scenario (repeatable)")  # fmt: skip
    args = parser.parse_args()
    if args.trades < 3 or args.rate <= 0:
        parser.error("--trades must be at least 3 and --rate positive")
    return args


def main() -> None:
    args = parse_args()
    target = bench_target(args.fake_port, redis_url=REDIS_URL, mongodb_database=MONGODB_DATABASE)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    config = Config(
        trades=args.trades,
        rate=args.rate,
        stall=args.stall,
        timeout=args.timeout,
        inclusion_seconds=args.inclusion_seconds,
        concurrency=args.concurrency,
        target=target,
        mnemonic=str(Keypair.generate_mnemonic()),  # throwaway: never funded, never printed
        log_dir=Path(tempfile.mkdtemp(prefix="bench-chaos-")),
    )
    scenarios = [s for s in SCENARIOS if not args.only or s.slug in args.only]
    print(f"make chaos: {args.trades} trades per scenario at {args.rate:g}/s, live trading on a "
          f"fake chain (inclusion {args.inclusion_seconds:g} s); failure after "
          f"{math.ceil(args.trades / 3)} completed; reclaim after "
          f"{RECOVERY['STREAM_RECLAIM_IDLE_SECONDS']} s idle, "
          f"{RECOVERY['STREAM_MAX_ATTEMPTS']} attempts; {os.cpu_count()} CPUs")  # fmt: skip
    shared = Redis.from_url(target.redis_url, socket_timeout=5)
    results: list[Result] = []
    try:
        with processes(config.log_dir) as fakes:
            start_fakes(fakes, args.fake_port)
            for scenario in scenarios:
                print(f"- {scenario.name}", file=sys.stderr)
                try:
                    results.append(Run(scenario, config, shared).execute())
                except Exception as error:  # reported, and the next scenario still runs
                    problem = f"could not run: {type(error).__name__}: {error}"
                    failed = Result(scenario, problems=[problem])
                    results.append(failed)
    finally:
        shared.close()
    ok = report(results, config, scenarios=len(scenarios))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the children are stopped by then (``finally``)
        sys.exit(130)
