"""Runtime API calls (``state_call``), answered from a block's state.

A ``state_call`` names ``<Api>_<method>`` and carries the SCALE-encoded inputs; the answer is
the SCALE-encoded output. The V15 metadata describes each method's input and output types, so
inputs are decoded and outputs encoded with the SDK's codec from those descriptions; only the
values are computed here.

Served:

- ``Metadata_metadata_at_version`` (15 only: the recording holds no V14) and
  ``Metadata_metadata_versions``; ``Core_version``;
- ``SwapRuntimeApi_current_alpha_price`` / ``current_alpha_price_all``, and the swap
  simulations ``sim_swap_tao_for_alpha`` / ``sim_swap_alpha_for_tao`` at the fixed price;
- ``TransactionPaymentApi_query_info``: the flat fee the devnode charges;
- ``StakeInfoRuntimeApi_get_stake_info_for_hotkey_coldkey_netuid``,
  ``get_stake_info_for_coldkey``, ``get_stake_info_for_coldkeys``;
- ``AccountNonceApi_account_nonce``;
- ``BetaBasketRuntimeApi_get_basket_payout``: always 0, the devnode keeps no root-claim basket
  (the SDK asks while planning an unstake from netuid 0).

Anything else is a JSON-RPC error naming the method, never an invented value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from offline.devnode.blocks import Block
from offline.devnode.extrinsics import CALL_WEIGHT
from offline.devnode.metadata import Runtime
from offline.devnode.state import RAO_PER_UNIT, ChainState

METADATA_VERSION = 15


class RuntimeApiUnavailable(Exception):
    """The devnode does not implement this runtime API method."""


Handler = Callable[[Runtime, Block, list[Any]], Any]


def state_call(runtime: Runtime, block: Block, name: str, data: bytes) -> bytes:
    api, _, method = name.partition("_")
    handler = HANDLERS.get(name)
    definition = runtime.codec.runtime_api_map.get(api, {}).get(method)
    if handler is None or definition is None:
        raise RuntimeApiUnavailable(f"devnode: runtime API {name} is not implemented")
    inputs = decode_inputs(runtime, [type_string for _, type_string in definition["inputs"]], data)
    result = handler(runtime, block, inputs)
    return bytes(runtime.codec.encode(definition["output"], result))


def decode_inputs(runtime: Runtime, type_strings: list[str], data: bytes) -> list[Any]:
    """Decode concatenated SCALE values one after another.

    The codec decodes one value at a time; re-encoding each decoded value gives its length
    (SCALE encodings are canonical), which is where the next one starts.
    """
    codec = runtime.codec
    values: list[Any] = []
    rest = data
    for type_string in type_strings:
        value = codec.decode(type_string, rest, strict=False)
        consumed = len(codec.encode(type_string, value))
        values.append(value)
        rest = rest[consumed:]
    if rest:
        raise ValueError(f"{len(rest)} bytes left over after decoding the call's inputs")
    return values


# --- handlers ---


def _metadata_at_version(runtime: Runtime, block: Block, inputs: list[Any]) -> Any:
    # Option<OpaqueMetadata>: Some(bytes) for the version held, None for any other.
    return "0x" + runtime.metadata.hex() if int(inputs[0]) == METADATA_VERSION else None


def _metadata_versions(runtime: Runtime, block: Block, inputs: list[Any]) -> Any:
    return [METADATA_VERSION]


def _core_version(runtime: Runtime, block: Block, inputs: list[Any]) -> Any:
    return runtime.version


def _price(state: ChainState, netuid: int) -> int:
    subnet = state.subnets.get(netuid)
    return subnet.price if subnet is not None else 0


def _current_alpha_price(runtime: Runtime, block: Block, inputs: list[Any]) -> Any:
    return _price(block.state, int(inputs[0]))


def _current_alpha_price_all(runtime: Runtime, block: Block, inputs: list[Any]) -> Any:
    return [
        {"netuid": netuid, "price": subnet.price}
        for netuid, subnet in sorted(block.state.subnets.items())
    ]


def _sim_result(tao: int, alpha: int) -> dict[str, int]:
    return {
        "tao_amount": tao,
        "alpha_amount": alpha,
        "tao_fee": 0,
        "alpha_fee": 0,
        "tao_slippage": 0,
        "alpha_slippage": 0,
    }


def _sim_swap_tao_for_alpha(runtime: Runtime, block: Block, inputs: list[Any]) -> Any:
    price = _price(block.state, int(inputs[0]))
    tao = int(inputs[1])
    return _sim_result(tao, tao * RAO_PER_UNIT // price if price else 0)


def _sim_swap_alpha_for_tao(runtime: Runtime, block: Block, inputs: list[Any]) -> Any:
    price = _price(block.state, int(inputs[0]))
    alpha = int(inputs[1])
    return _sim_result(alpha * price // RAO_PER_UNIT, alpha)


def _query_info(runtime: Runtime, block: Block, inputs: list[Any]) -> Any:
    return {
        "weight": CALL_WEIGHT,
        "class": "Normal",
        "partial_fee": block.state.transaction_fee_rao,
    }


def _stake_info(state: ChainState, hotkey: str, coldkey: str, netuid: int) -> dict[str, Any]:
    return {
        "hotkey": hotkey,
        "coldkey": coldkey,
        "netuid": netuid,
        "stake": state.stake(hotkey, coldkey, netuid),
        "locked": 0,
        "emission": 0,
        "tao_emission": 0,
        "drain": 0,
        "is_registered": hotkey in state.hotkeys,
    }


def _stake_infos(state: ChainState, coldkey: str) -> list[dict[str, Any]]:
    return [
        _stake_info(state, hotkey, owner, netuid)
        for (hotkey, owner, netuid) in sorted(state.stakes)
        if owner == coldkey
    ]


def _stake_for_hotkey_coldkey_netuid(runtime: Runtime, block: Block, inputs: list[Any]) -> Any:
    hotkey, coldkey, netuid = str(inputs[0]), str(inputs[1]), int(inputs[2])
    if (hotkey, coldkey, netuid) not in block.state.stakes:
        return None
    return _stake_info(block.state, hotkey, coldkey, netuid)


def _stake_for_coldkey(runtime: Runtime, block: Block, inputs: list[Any]) -> Any:
    return _stake_infos(block.state, str(inputs[0]))


def _stake_for_coldkeys(runtime: Runtime, block: Block, inputs: list[Any]) -> Any:
    return [(str(coldkey), _stake_infos(block.state, str(coldkey))) for coldkey in inputs[0]]


def _account_nonce(runtime: Runtime, block: Block, inputs: list[Any]) -> Any:
    return block.state.nonce(str(inputs[0]))


def _basket_payout(runtime: Runtime, block: Block, inputs: list[Any]) -> Any:
    return 0


HANDLERS: dict[str, Handler] = {
    "Metadata_metadata_at_version": _metadata_at_version,
    "Metadata_metadata_versions": _metadata_versions,
    "Core_version": _core_version,
    "SwapRuntimeApi_current_alpha_price": _current_alpha_price,
    "SwapRuntimeApi_current_alpha_price_all": _current_alpha_price_all,
    "SwapRuntimeApi_sim_swap_tao_for_alpha": _sim_swap_tao_for_alpha,
    "SwapRuntimeApi_sim_swap_alpha_for_tao": _sim_swap_alpha_for_tao,
    "TransactionPaymentApi_query_info": _query_info,
    "StakeInfoRuntimeApi_get_stake_info_for_hotkey_coldkey_netuid": (
        _stake_for_hotkey_coldkey_netuid
    ),
    "StakeInfoRuntimeApi_get_stake_info_for_coldkey": _stake_for_coldkey,
    "StakeInfoRuntimeApi_get_stake_info_for_coldkeys": _stake_for_coldkeys,
    "AccountNonceApi_account_nonce": _account_nonce,
    "BetaBasketRuntimeApi_get_basket_payout": _basket_payout,
}
