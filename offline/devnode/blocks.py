"""Blocks: numbers, hashes and headers that agree across every RPC that names a block.

The SDK pins reads to a block hash and resolves hashes to numbers and back
(``chain_getBlockHash``, ``chain_getHeader``, ``chain_getBlock``, ``chain_getFinalizedHead``),
so every block here is sealed once, immutably, and looked up by both. A block's hash is the
blake2-256 of its SCALE-encoded ``sp_runtime`` header, as on a Substrate chain, except genesis,
which takes the recorded localnet's genesis hash (the SDK keys its metadata cache on it).
The state and extrinsics roots are digests of the block's storage and extrinsics, not trie
roots: the SDK never checks them.

Finality is instant: each block is final as soon as it is sealed (the finalized head is the
best head), so ``inBlock`` and ``finalized`` arrive together for a submission.

Old blocks are forgotten once more than ``keep_blocks`` follow them, like a pruning node;
genesis is always kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any

from offline.devnode.metadata import Runtime
from offline.devnode.state import ChainState
from offline.devnode.storage import StorageView, render_block_items, render_state

ZERO_HASH = "0x" + "00" * 32


def blake2_256(data: bytes) -> bytes:
    return blake2b(data, digest_size=32).digest()


@dataclass(frozen=True)
class Block:
    number: int
    hash: str
    parent_hash: str
    state_root: str
    extrinsics_root: str
    # Each extrinsic as submitted: SCALE-encoded, with its compact length prefix.
    extrinsics: tuple[bytes, ...]
    events: tuple[dict[str, Any], ...]
    timestamp_ms: int
    state: ChainState
    storage: StorageView

    def header_json(self) -> dict[str, Any]:
        return {
            "parentHash": self.parent_hash,
            "number": hex(self.number),
            "stateRoot": self.state_root,
            "extrinsicsRoot": self.extrinsics_root,
            "digest": {"logs": []},
        }

    def block_json(self) -> dict[str, Any]:
        return {
            "block": {
                "header": self.header_json(),
                "extrinsics": ["0x" + extrinsic.hex() for extrinsic in self.extrinsics],
            },
            "justifications": None,
        }


class Chain:
    """The sealed blocks, by hash and by number; the last one is both best and finalized."""

    def __init__(
        self,
        runtime: Runtime,
        genesis_state: ChainState,
        *,
        genesis_hash: str,
        genesis_timestamp_ms: int,
        keep_blocks: int = 4096,
    ) -> None:
        self._runtime = runtime
        self._header_type = runtime.type_by_path("sp_runtime", "generic", "header", "Header")
        self._keep = max(keep_blocks, 1)
        self._by_hash: dict[str, Block] = {}
        self._by_number: dict[int, Block] = {}
        self._base_cache: tuple[ChainState, dict[bytes, bytes]] | None = None
        self.genesis = self._make(
            number=0,
            parent_hash=ZERO_HASH,
            state=genesis_state,
            extrinsics=(),
            events=[],
            timestamp_ms=genesis_timestamp_ms,
            fixed_hash=genesis_hash,
        )
        self.head = self.genesis
        self._add(self.genesis)

    @property
    def finalized(self) -> Block:
        return self.head

    def by_hash(self, block_hash: str) -> Block | None:
        return self._by_hash.get(block_hash.lower())

    def by_number(self, number: int) -> Block | None:
        return self._by_number.get(number)

    def seal(
        self,
        state: ChainState,
        extrinsics: Iterable[bytes],
        events: list[dict[str, Any]],
        timestamp_ms: int,
    ) -> Block:
        """Append a block on top of the head; it becomes the best and the finalized block."""
        block = self._make(
            number=self.head.number + 1,
            parent_hash=self.head.hash,
            state=state,
            extrinsics=tuple(extrinsics),
            events=events,
            timestamp_ms=timestamp_ms,
        )
        self._add(block)
        self.head = block
        self._prune()
        return block

    def _make(
        self,
        *,
        number: int,
        parent_hash: str,
        state: ChainState,
        extrinsics: tuple[bytes, ...],
        events: list[dict[str, Any]],
        timestamp_ms: int,
        fixed_hash: str | None = None,
    ) -> Block:
        storage = StorageView(
            self._rendered(state),
            render_block_items(self._runtime, number, timestamp_ms, events),
        )
        state_root = "0x" + blake2_256(b"".join(k + v for k, v in storage.items())).hex()
        extrinsics_root = "0x" + blake2_256(b"".join(extrinsics)).hex()
        header = {
            "parent_hash": parent_hash,
            "number": number,
            "state_root": state_root,
            "extrinsics_root": extrinsics_root,
            "digest": {"logs": []},
        }
        block_hash = (
            fixed_hash
            or "0x" + blake2_256(self._runtime.codec.encode(self._header_type, header)).hex()
        )
        return Block(
            number=number,
            hash=block_hash.lower(),
            parent_hash=parent_hash,
            state_root=state_root,
            extrinsics_root=extrinsics_root,
            extrinsics=extrinsics,
            events=tuple(events),
            timestamp_ms=timestamp_ms,
            state=state,
            storage=storage,
        )

    def _rendered(self, state: ChainState) -> dict[bytes, bytes]:
        """The state's raw items; blocks that did not change the state share one rendering."""
        if self._base_cache is not None and self._base_cache[0] is state:
            return self._base_cache[1]
        items = render_state(self._runtime, state)
        self._base_cache = (state, items)
        return items

    def _add(self, block: Block) -> None:
        self._by_hash[block.hash] = block
        self._by_number[block.number] = block

    def _prune(self) -> None:
        oldest = self.head.number - self._keep
        while oldest > 0 and oldest in self._by_number:
            block = self._by_number.pop(oldest)
            self._by_hash.pop(block.hash, None)
            oldest -= 1
