"""The devnode: a chain that seals blocks, a transaction pool, and the JSON-RPC server in front.

A block is sealed on a timer (``block_ms``, 250 ms by default like a fast-blocks localnet; 0
turns the timer off) and at once whenever a transaction enters the pool, so a submission is in
a block, and final, as soon as it is accepted. A block holds the ``Timestamp.set`` inherent at
index 0, then the pool's transactions in the order they arrived.

In tests::

    node = DevNode(block_ms=250)
    async with node as url:  # "ws://127.0.0.1:<free port>"
        client = bittensor.Client(url, fallback_endpoints=[], archive_endpoints=[])
        ...
        node.state.free(address)  # the head's state, for assertions

As a process: ``python -m offline.devnode --port 9944`` (see ``__main__.py``).

Admin changes (``set_balance``, ``set_stake``, ``set_alpha_price``, ``set_root_dividend``) are
made in a new block of their own, so reads pinned to an earlier block keep seeing the earlier
values.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from offline.devnode.blocks import Block, Chain
from offline.devnode.extrinsics import (
    SUBTENSOR,
    Transaction,
    TransactionRejected,
    apply_transaction,
    check_transaction,
    decode_transaction,
    timestamp_inherent,
)
from offline.devnode.faults import FaultInjector, Faults
from offline.devnode.metadata import Runtime, load_runtime
from offline.devnode.server import RpcServer
from offline.devnode.state import (
    DEFAULT_FIXTURE,
    ChainState,
    Fixture,
    NamedKey,
    Subnet,
    load_fixture,
)
from shared.logging import get_logger

log = get_logger("devnode")

DEFAULT_BLOCK_MS = 250


@dataclass(frozen=True)
class Inclusion:
    block: Block
    index: int
    success: bool
    error: str | None


@dataclass
class PoolEntry:
    tx: Transaction
    included: asyncio.Future[Inclusion]


BlockListener = Callable[[Block], None]


class DevNode:
    def __init__(
        self,
        *,
        metadata: Path | str | Runtime | None = None,
        fixture: Path | str | Fixture | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        block_ms: int = DEFAULT_BLOCK_MS,
        faults: Faults | None = None,
        keep_blocks: int = 4096,
    ) -> None:
        """``metadata`` defaults to ``DEVNODE_METADATA``, else the committed recording;
        ``fixture`` to ``offline/devnode/data/fixture.json``; ``port=0`` picks a free port."""
        self.runtime = metadata if isinstance(metadata, Runtime) else load_runtime(metadata)
        self.fixture = (
            fixture if isinstance(fixture, Fixture) else load_fixture(fixture or DEFAULT_FIXTURE)
        )
        self.chain = Chain(
            self.runtime,
            self.fixture.state.copy(),
            genesis_hash=self.fixture.genesis_hash,
            genesis_timestamp_ms=_now_ms(),
            keep_blocks=keep_blocks,
        )
        self.faults = FaultInjector()
        if faults is not None:
            self.set_faults(faults)
        self.block_ms = block_ms
        self.host = host
        self.port = port
        # Every transaction the pool accepted, in order (nothing else reaches a block).
        self.accepted: list[Transaction] = []
        self.pool: list[PoolEntry] = []
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._listeners: list[BlockListener] = []
        self._server = RpcServer(self)
        self._producer: asyncio.Task[None] | None = None

    # --- lifecycle ---

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def start(self) -> str:
        self.port = await self._server.start(self.host, self.port)
        self._producer = asyncio.create_task(self._produce_forever(), name="devnode-blocks")
        log.info(
            "devnode.listening",
            url=self.url,
            spec_version=self.runtime.spec_version,
            genesis=self.chain.genesis.hash,
            block_ms=self.block_ms,
        )
        return self.url

    async def stop(self) -> None:
        if self._producer is not None:
            self._producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._producer
            self._producer = None
        await self._server.stop()
        for entry in self.pool:
            entry.included.cancel()
        self.pool.clear()
        log.info("devnode.stopped", block=self.chain.head.number)

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- reading ---

    @property
    def head(self) -> Block:
        return self.chain.head

    @property
    def state(self) -> ChainState:
        """The best block's state. Treat it as read-only: change state through the node."""
        return self.chain.head.state

    def key(self, name: str) -> NamedKey:
        """A fixture account with a mnemonic, by its name (e.g. ``"funded"``)."""
        return self.fixture.keys[name]

    def on_block(self, listener: BlockListener) -> Callable[[], None]:
        """Call ``listener`` with every new block; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # --- transactions ---

    def next_index(self, address: str) -> int:
        """The nonce the account's next transaction must carry, counting the pool."""
        waiting = sum(1 for entry in self.pool if entry.tx.signer == address)
        return self.chain.head.state.nonce(address) + waiting

    def submit(self, data: bytes) -> PoolEntry:
        """Check a signed extrinsic and put it in the pool, which seals a block at once.

        Raises ``TransactionRejected`` for what a node's pool refuses.
        """
        tx = decode_transaction(self.runtime, data)
        reject = self.faults.faults.reject_extrinsics
        if reject is not None:
            raise TransactionRejected(reject)
        check_transaction(self.runtime, self.chain, tx, pending_nonce=self.next_index(tx.signer))
        entry = PoolEntry(tx, asyncio.get_running_loop().create_future())
        self.pool.append(entry)
        self.accepted.append(tx)
        log.info("pool.accepted", call=tx.call_name, signer=tx.signer, nonce=tx.nonce, hash=tx.hash)
        self._wake.set()
        return entry

    # --- blocks ---

    async def produce_block(self, change: Callable[[ChainState], None] | None = None) -> Block:
        """Seal one block with the pool's transactions; ``change`` edits its state first."""
        async with self._lock:
            parent = self.chain.head
            entries, self.pool = self.pool, []
            state = parent.state.copy() if entries or change else parent.state
            if change is not None:
                change(state)
            timestamp_ms = max(_now_ms(), parent.timestamp_ms + 1)
            inherent, events = timestamp_inherent(self.runtime, timestamp_ms)
            extrinsics = [inherent]
            included: list[tuple[PoolEntry, int, bool, str | None]] = []
            dropped: list[tuple[PoolEntry, str]] = []
            fail_with = self.faults.faults.fail_extrinsics
            for entry in entries:
                problem = _no_longer_valid(state, entry.tx)
                if problem is not None:
                    dropped.append((entry, problem))
                    continue
                index = len(extrinsics)
                applied = apply_transaction(
                    self.runtime, state, entry.tx, index, fail_with=fail_with
                )
                extrinsics.append(entry.tx.data)
                events.extend(applied.events)
                included.append((entry, index, applied.success, applied.error))
            block = self.chain.seal(state, extrinsics, events, timestamp_ms)
        for entry, index, success, error in included:
            log.info(
                "block.extrinsic",
                block=block.number,
                call=entry.tx.call_name,
                success=success,
                error=error,
            )
            if not entry.included.done():
                entry.included.set_result(Inclusion(block, index, success, error))
        for entry, problem in dropped:
            log.info("pool.dropped", hash=entry.tx.hash, problem=problem)
            if not entry.included.done():
                entry.included.set_exception(TransactionRejected(problem))
        for listener in list(self._listeners):
            listener(block)
        log.debug("block.sealed", block=block.number, hash=block.hash)
        return block

    async def _produce_forever(self) -> None:
        while True:
            if self.block_ms > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.block_ms / 1000)
            else:
                await self._wake.wait()
            self._wake.clear()
            try:
                await self.produce_block()
            except Exception:
                log.exception("block.seal_failed")

    # --- admin: each change is made in a new block ---

    def set_faults(self, faults: Faults) -> None:
        name = faults.fail_extrinsics
        if name is not None and not self.runtime.has_error(SUBTENSOR, name):
            raise ValueError(f"{SUBTENSOR} has no error named {name!r}")
        self.faults.set(faults)
        log.info("faults.set", faults=faults.to_json())

    async def set_balance(self, address: str, free_rao: int) -> Block:
        def change(state: ChainState) -> None:
            state.account(address).free = free_rao

        return await self.produce_block(change)

    async def set_stake(self, hotkey: str, coldkey: str, netuid: int, alpha_rao: int) -> Block:
        """Make ``coldkey``'s stake on (``hotkey``, ``netuid``) exactly ``alpha_rao``."""
        if netuid not in self.state.subnets or alpha_rao < 0:
            raise ValueError(f"no subnet {netuid}, or a negative stake")

        def change(state: ChainState) -> None:
            state.hotkeys.add(hotkey)
            state.add_stake(
                hotkey, coldkey, netuid, alpha_rao - state.stake(hotkey, coldkey, netuid)
            )

        return await self.produce_block(change)

    async def set_alpha_price(self, netuid: int, price_rao: int) -> Block:
        subnet = self.state.subnets.get(netuid)
        if subnet is None or price_rao <= 0:
            raise ValueError(f"no subnet {netuid}, or a price that is not positive")

        def change(state: ChainState) -> None:
            state.subnets[netuid] = Subnet(netuid, price_rao, subnet.token_symbol)

        return await self.produce_block(change)

    async def set_root_dividend(self, netuid: int, hotkey: str, alpha_rao: int) -> Block:
        def change(state: ChainState) -> None:
            state.hotkeys.add(hotkey)
            if alpha_rao:
                state.root_dividends[(netuid, hotkey)] = alpha_rao
            else:
                state.root_dividends.pop((netuid, hotkey), None)

        return await self.produce_block(change)


def _no_longer_valid(state: ChainState, tx: Transaction) -> str | None:
    """Why a pooled transaction can no longer be included (the state moved since it was checked)."""
    if tx.nonce != state.nonce(tx.signer):
        return "Transaction is outdated"
    if state.free(tx.signer) < state.transaction_fee_rao + tx.tip:
        return "Inability to pay some fees (e.g. account balance too low)"
    return None


def _now_ms() -> int:
    return int(time.time() * 1000)
