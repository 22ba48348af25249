"""Signed extrinsics: checked as a node's transaction pool would, applied as the runtime would.

Checking (``check_transaction``) happens at submission, against the best block, and ends in a
JSON-RPC error (1010 "Invalid Transaction") for a transaction a node would refuse: a bad
signature, a stale or future nonce, an unknown birth block, or a fee the account cannot pay.
The signature is verified over the payload the SDK's codec builds for the decoded fields
(spec and transaction version, genesis hash, era birth block), so a client that signs
against the wrong chain or runtime is refused as a node would refuse it.

Applying (``apply_transaction``) happens while a block is built: the nonce is bumped and the
flat fee charged whatever the call does, then the call runs or fails with the real
``SubtensorModule`` error index from the metadata, and the events the SDK reads follow:
``SubtensorModule.StakeAdded`` / ``StakeRemoved``, ``TransactionPayment.TransactionFeePaid``,
``System.ExtrinsicSuccess`` or ``System.ExtrinsicFailed``.

Staking is at the subnet's fixed spot price (no pool, no slippage, no swap fee):
``alpha = tao * 1e9 // price`` when staking and ``tao = alpha * price // 1e9`` when unstaking;
the ``*_limit`` calls fail with ``SlippageTooHigh`` when the price is beyond the limit. Only the
four stake calls are applied; any other call is refused at submission with a message that
says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bittensor.sp_core import Keypair

from offline.devnode.blocks import Block, Chain
from offline.devnode.metadata import Runtime
from offline.devnode.state import RAO_PER_UNIT, ChainState

SUBTENSOR = "SubtensorModule"
# The weight reported for every call: a plausible constant, the same in fees and events.
CALL_WEIGHT = {"ref_time": 350_000_000, "proof_size": 12_000}
INHERENT_WEIGHT = {"ref_time": 10_000_000, "proof_size": 1_500}

INVALID_TRANSACTION = (1010, "Invalid Transaction")
VERIFICATION_ERROR = (1002, "Verification Error")


class TransactionRejected(Exception):
    """The pool refuses a transaction; it is never included in a block."""

    def __init__(self, reason: str, *, kind: tuple[int, str] = INVALID_TRANSACTION) -> None:
        self.code, self.message = kind
        self.reason = reason
        super().__init__(f"{self.message}: {reason}")


class DispatchFailed(Exception):
    """The call ran and failed with a ``SubtensorModule`` error."""

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(error)


@dataclass(frozen=True)
class Transaction:
    """A decoded signed extrinsic."""

    data: bytes
    hash: str
    signer: str
    nonce: int
    tip: int
    era: Any
    signature: dict[str, str]
    metadata_hash_mode: str
    module: str
    function: str
    args: dict[str, Any]

    @property
    def call_name(self) -> str:
        return f"{self.module}.{self.function}"


def decode_transaction(runtime: Runtime, data: bytes) -> Transaction:
    try:
        decoded = runtime.codec.decode_extrinsic(data)
    except Exception as error:
        raise TransactionRejected(
            f"Could not decode extrinsic: {error}", kind=VERIFICATION_ERROR
        ) from error
    if "address" not in decoded or "signature" not in decoded:
        raise TransactionRejected(
            "Could not find an unsigned validator for the unsigned transaction "
            "(the devnode accepts signed extrinsics only)"
        )
    call = decoded["call"]
    return Transaction(
        data=data,
        hash=str(decoded["extrinsic_hash"]),
        signer=str(decoded["address"]),
        nonce=int(decoded["nonce"]),
        tip=int(decoded.get("tip") or 0),
        era=decoded.get("era"),
        signature=dict(decoded["signature"]),
        metadata_hash_mode=str((decoded.get("mode") or {}).get("mode", "Disabled")),
        module=str(call["call_module"]),
        function=str(call["call_function"]),
        args={arg["name"]: arg["value"] for arg in call["call_args"]},
    )


def check_transaction(
    runtime: Runtime, chain: Chain, tx: Transaction, *, pending_nonce: int
) -> None:
    """Refuse ``tx`` as a node's pool would, judged at the best block.

    ``pending_nonce`` is the nonce the signer's next transaction must carry, counting the
    signer's transactions already waiting in the pool.
    """
    head = chain.head
    if (tx.module, tx.function) not in CALLS:
        supported = ", ".join(sorted(function for _, function in CALLS))
        raise TransactionRejected(
            f"devnode: {tx.call_name} is not supported (it applies {SUBTENSOR}.{{{supported}}})"
        )
    era, birth = _era_and_birth(tx.era, current=head.number + 1)
    birth_block = chain.by_number(birth) if birth <= head.number else None
    if birth_block is None:
        raise TransactionRejected("Transaction has an ancient birth block")
    _verify_signature(runtime, chain.genesis, birth_block, tx, era)
    state_nonce = head.state.nonce(tx.signer)
    if tx.nonce < state_nonce:
        raise TransactionRejected("Transaction is outdated")
    if tx.nonce > pending_nonce:
        raise TransactionRejected("Transaction will be valid in the future")
    if tx.nonce != pending_nonce:
        # The signer already has a transaction with this nonce waiting in the pool.
        raise TransactionRejected("Priority is too low: the nonce is taken in the pool")
    if head.state.free(tx.signer) < head.state.transaction_fee_rao + tx.tip:
        raise TransactionRejected("Inability to pay some fees (e.g. account balance too low)")


def _era_and_birth(era: Any, *, current: int) -> tuple[dict[str, int] | str, int]:
    """The era as the codec takes it for signing, and the block it was born at."""
    if era in (None, "00", "Immortal", {"Immortal": None}):
        return "00", 0
    if isinstance(era, dict):
        era = era.get("Mortal", era)
        period, phase = int(era["period"]), int(era["phase"])
    else:
        period, phase = (int(part) for part in era)
    # Substrate's Era::birth: the latest block at or before ``current`` with this phase.
    birth = (max(current, phase) - phase) // period * period + phase
    return {"period": period, "current": birth}, birth


def _verify_signature(
    runtime: Runtime, genesis: Block, birth_block: Block, tx: Transaction, era: dict[str, int] | str
) -> None:
    bad_proof = TransactionRejected("Transaction has a bad signature")
    if tx.metadata_hash_mode != "Disabled":
        raise bad_proof  # the devnode does not compute the RFC-0078 metadata digest
    codec = runtime.codec
    (scheme, signature_hex), *_ = tx.signature.items()
    crypto_types = {"Sr25519": 1, "Ed25519": 0}
    if scheme not in crypto_types:
        raise bad_proof
    call = codec.compose_call(tx.module, tx.function, tx.args)
    payload = codec.signature_payload(
        call,
        era=era,
        nonce=tx.nonce,
        tip=tx.tip,
        tip_asset_id=None,
        genesis_hash=genesis.hash,
        era_block_hash=genesis.hash if era == "00" else birth_block.hash,
    )
    signer = Keypair(ss58_address=tx.signer, crypto_type=crypto_types[scheme])
    if not signer.verify(payload, bytes.fromhex(signature_hex.removeprefix("0x"))):
        raise bad_proof


@dataclass(frozen=True)
class Applied:
    success: bool
    error: str | None
    events: list[dict[str, Any]]


def apply_transaction(
    runtime: Runtime, state: ChainState, tx: Transaction, index: int, *, fail_with: str | None
) -> Applied:
    """Run ``tx`` as the ``index``-th extrinsic of the block being built, mutating ``state``."""
    phase = {"ApplyExtrinsic": index}
    account = state.account(tx.signer)
    account.nonce += 1
    fee = state.transaction_fee_rao + tx.tip
    account.free -= fee
    events = [_event(phase, "Balances", "Withdraw", {"who": tx.signer, "amount": fee})]
    fee_paid = _event(
        phase,
        "TransactionPayment",
        "TransactionFeePaid",
        {"who": tx.signer, "actual_fee": fee, "tip": tx.tip},
    )
    dispatch_info = {"weight": CALL_WEIGHT, "class": "Normal", "pays_fee": "Yes"}
    try:
        if fail_with is not None:
            raise DispatchFailed(fail_with)
        call_events = CALLS[(tx.module, tx.function)](state, tx.signer, tx.args)
    except DispatchFailed as failure:
        failed = {
            "dispatch_error": runtime.module_error(SUBTENSOR, failure.error),
            "dispatch_info": dispatch_info,
        }
        events += [fee_paid, _event(phase, "System", "ExtrinsicFailed", failed)]
        return Applied(success=False, error=failure.error, events=events)
    events += [_event(phase, pallet, name, attrs) for pallet, name, attrs in call_events]
    success = {"dispatch_info": dispatch_info}
    events += [fee_paid, _event(phase, "System", "ExtrinsicSuccess", success)]
    return Applied(success=True, error=None, events=events)


def timestamp_inherent(runtime: Runtime, timestamp_ms: int) -> tuple[bytes, list[dict[str, Any]]]:
    """The ``Timestamp.set`` inherent every block opens with (index 0), and its event.

    An unsigned extrinsic is its version byte (the signed bit clear) followed by the call,
    length-prefixed as a ``Vec<u8>``.
    """
    codec = runtime.codec
    call = codec.compose_call("Timestamp", "set", {"now": timestamp_ms})
    bare = bytes([codec.extrinsic_version & 0x7F]) + codec.call_data(call)
    extrinsic = codec.encode("Vec<u8>", list(bare))
    info = {"weight": INHERENT_WEIGHT, "class": "Mandatory", "pays_fee": "Yes"}
    event = _event({"ApplyExtrinsic": 0}, "System", "ExtrinsicSuccess", {"dispatch_info": info})
    return extrinsic, [event]


def _event(phase: Any, pallet: str, name: str, attributes: Any) -> dict[str, Any]:
    """One ``frame_system::EventRecord`` in the shape the codec encodes."""
    return {"phase": phase, "event": {pallet: {name: attributes}}, "topics": []}


# --- the calls ---

Emitted = list[tuple[str, str, Any]]


def _stake_target(state: ChainState, args: dict[str, Any]) -> tuple[str, int, int]:
    """(hotkey, netuid, price), or the error the chain checks first."""
    hotkey, netuid = str(args["hotkey"]), int(args["netuid"])
    subnet = state.subnets.get(netuid)
    if subnet is None:
        raise DispatchFailed("SubnetNotExists")
    if hotkey not in state.hotkeys:
        raise DispatchFailed("HotKeyAccountNotExists")
    return hotkey, netuid, subnet.price


def _add_stake(
    state: ChainState, coldkey: str, args: dict[str, Any], *, limit_price: int | None = None
) -> Emitted:
    hotkey, netuid, price = _stake_target(state, args)
    tao = int(args["amount_staked"])
    if tao < state.min_stake_rao:
        raise DispatchFailed("AmountTooLow")
    if state.free(coldkey) < tao:
        raise DispatchFailed("NotEnoughBalanceToStake")
    if limit_price is not None and price > limit_price:
        raise DispatchFailed("SlippageTooHigh")
    alpha = tao * RAO_PER_UNIT // price
    state.account(coldkey).free -= tao
    state.add_stake(hotkey, coldkey, netuid, alpha)
    return [(SUBTENSOR, "StakeAdded", [coldkey, hotkey, tao, alpha, netuid, 0])]


def _remove_stake(
    state: ChainState, coldkey: str, args: dict[str, Any], *, limit_price: int | None = None
) -> Emitted:
    hotkey, netuid, price = _stake_target(state, args)
    alpha = int(args["amount_unstaked"])
    if alpha == 0:
        raise DispatchFailed("AmountTooLow")
    if state.stake(hotkey, coldkey, netuid) < alpha:
        raise DispatchFailed("NotEnoughStakeToWithdraw")
    if limit_price is not None and price < limit_price:
        raise DispatchFailed("SlippageTooHigh")
    tao = alpha * price // RAO_PER_UNIT
    if tao < state.min_stake_rao:
        raise DispatchFailed("AmountTooLow")
    state.add_stake(hotkey, coldkey, netuid, -alpha)
    state.account(coldkey).free += tao
    return [(SUBTENSOR, "StakeRemoved", [coldkey, hotkey, tao, alpha, netuid, 0])]


def _add_stake_limit(state: ChainState, coldkey: str, args: dict[str, Any]) -> Emitted:
    # With a fixed price a partial fill is all or nothing, so allow_partial changes nothing.
    return _add_stake(state, coldkey, args, limit_price=int(args["limit_price"]))


def _remove_stake_limit(state: ChainState, coldkey: str, args: dict[str, Any]) -> Emitted:
    return _remove_stake(state, coldkey, args, limit_price=int(args["limit_price"]))


CALLS: dict[tuple[str, str], Callable[[ChainState, str, dict[str, Any]], Emitted]] = {
    (SUBTENSOR, "add_stake"): _add_stake,
    (SUBTENSOR, "add_stake_limit"): _add_stake_limit,
    (SUBTENSOR, "remove_stake"): _remove_stake,
    (SUBTENSOR, "remove_stake_limit"): _remove_stake_limit,
}
