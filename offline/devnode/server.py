"""Substrate JSON-RPC over a websocket: framing, dispatch, subscriptions and injected faults.

This is the wire the SDK's transport (``bittensor._transport.rpc``) speaks: JSON-RPC 2.0
requests and batches on one websocket, results or errors by id, and subscriptions whose
updates arrive as ``{"method": ..., "params": {"subscription", "result"}}`` notifications.
Each connection has one outbox, drained by one writer, so a subscription's id always reaches
the client before its first update and updates keep their order.

Every method the devnode serves is in ``RpcServer.methods`` (``rpc_methods`` lists them). The
answers follow Substrate's shapes: unknown block hashes are null for ``chain_*`` and an error
for ``state_*``; a transaction the pool refuses is error 1010 "Invalid Transaction" with the
reason in ``data``; a method that is not served is -32601. ``devnode_*`` methods are the admin
surface (faults, balances, stakes, prices, dividends, blocks) and are never themselves faulted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from offline.devnode.blocks import Block
from offline.devnode.extrinsics import TransactionRejected
from offline.devnode.faults import Faults
from offline.devnode.runtime_api import RuntimeApiUnavailable, state_call
from shared.logging import get_logger

if TYPE_CHECKING:
    from offline.devnode.node import DevNode

log = get_logger("devnode.rpc")

MAX_KEYS_PAGE = 1000
ADMIN_PREFIX = "devnode_"


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


@dataclass(frozen=True)
class Subscribed:
    """A handler's answer that opens a subscription: the id now, then ``follow_up``."""

    subscription_id: str
    follow_up: Callable[[], Awaitable[None]] | None = None


Params = list[Any]
Handler = Callable[["Connection", Params], Awaitable[Any]]


class Connection:
    """One client websocket: its outbox and its open subscriptions."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.outbox: asyncio.Queue[str] = asyncio.Queue()
        self.subscriptions: dict[str, Callable[[], None]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.dropped = False

    def send(self, message: Any) -> None:
        if not self.dropped:
            self.outbox.put_nowait(json.dumps(message))

    def notify(self, method: str, subscription_id: str, result: Any) -> None:
        self.send(
            {
                "jsonrpc": "2.0",
                "method": method,
                "params": {"subscription": subscription_id, "result": result},
            }
        )

    def drop(self) -> None:
        """Abort the TCP connection: no close frame, no answers, as when a network drops."""
        self.dropped = True
        self.ws.transport.abort()

    def spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def write_forever(self) -> None:
        while True:
            message = await self.outbox.get()
            await self.ws.send(message)

    def close(self) -> None:
        for unsubscribe in self.subscriptions.values():
            unsubscribe()
        self.subscriptions.clear()
        for task in list(self.tasks):
            task.cancel()


class RpcServer:
    def __init__(self, node: DevNode) -> None:
        self.node = node
        self._ids = itertools.count(1)
        self._server: Server | None = None
        self.connections: set[Connection] = set()
        self.methods: dict[str, Handler] = {
            "rpc_methods": self._rpc_methods,
            "system_chain": self._system_chain,
            "system_name": self._system_name,
            "system_version": self._system_version,
            "system_chainType": self._system_chain_type,
            "system_properties": self._system_properties,
            "system_health": self._system_health,
            "system_accountNextIndex": self._account_next_index,
            "account_nextIndex": self._account_next_index,
            "chain_getHead": self._chain_get_block_hash,
            "chain_getBlockHash": self._chain_get_block_hash,
            "chain_getFinalizedHead": self._chain_get_finalized_head,
            "chain_getFinalisedHead": self._chain_get_finalized_head,
            "chain_getHeader": self._chain_get_header,
            "chain_getBlock": self._chain_get_block,
            "chain_subscribeNewHeads": self._subscribe_heads("chain_newHead"),
            "chain_subscribeAllHeads": self._subscribe_heads("chain_allHead"),
            "chain_subscribeFinalizedHeads": self._subscribe_heads("chain_finalizedHead"),
            "chain_subscribeFinalisedHeads": self._subscribe_heads("chain_finalizedHead"),
            "chain_unsubscribeNewHeads": self._unsubscribe,
            "chain_unsubscribeAllHeads": self._unsubscribe,
            "chain_unsubscribeFinalizedHeads": self._unsubscribe,
            "chain_unsubscribeFinalisedHeads": self._unsubscribe,
            "state_getRuntimeVersion": self._state_get_runtime_version,
            "chain_getRuntimeVersion": self._state_get_runtime_version,
            "state_call": self._state_call,
            "state_callAt": self._state_call,
            "state_getStorage": self._state_get_storage,
            "state_getStorageAt": self._state_get_storage,
            "state_getKeysPaged": self._state_get_keys_paged,
            "state_getKeysPagedAt": self._state_get_keys_paged,
            "state_queryStorageAt": self._state_query_storage_at,
            "author_submitExtrinsic": self._author_submit,
            "author_submitAndWatchExtrinsic": self._author_submit_and_watch,
            "author_unwatchExtrinsic": self._unsubscribe,
            "author_pendingExtrinsics": self._author_pending,
            "devnode_setFaults": self._devnode_set_faults,
            "devnode_getFaults": self._devnode_get_faults,
            "devnode_clearFaults": self._devnode_clear_faults,
            "devnode_produceBlock": self._devnode_produce_block,
            "devnode_setBalance": self._devnode_set_balance,
            "devnode_setStake": self._devnode_set_stake,
            "devnode_setAlphaPrice": self._devnode_set_alpha_price,
            "devnode_setRootDividend": self._devnode_set_root_dividend,
            "devnode_state": self._devnode_state,
        }

    # --- lifecycle ---

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0: any free port); returns the port."""
        self._server = await serve(
            self._serve_connection,
            host,
            port,
            max_size=None,
            compression=None,
            process_request=self._process_request,
        )
        sockets = list(self._server.sockets)
        return int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.node.faults.faults.refuse_connections:
            return connection.respond(
                HTTPStatus.SERVICE_UNAVAILABLE, "devnode: refusing connections (injected fault)\n"
            )
        return None

    async def _serve_connection(self, ws: ServerConnection) -> None:
        connection = Connection(ws)
        self.connections.add(connection)
        writer = asyncio.ensure_future(connection.write_forever())
        try:
            async for message in ws:
                text = message.decode() if isinstance(message, bytes) else message
                connection.spawn(self._handle_frame(connection, text))
        except ConnectionClosed:
            pass
        finally:
            connection.close()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await writer
            self.connections.discard(connection)

    # --- framing ---

    async def _handle_frame(self, connection: Connection, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            connection.send(_error(None, RpcError(-32700, "Parse error")))
            return
        requests = frame if isinstance(frame, list) else [frame]
        answers = await asyncio.gather(
            *(self._handle_request(connection, request) for request in requests)
        )
        if connection.dropped:
            return
        responses = [response for response, _ in answers if response is not None]
        if responses:
            connection.send(responses if isinstance(frame, list) else responses[0])
        for _, follow_up in answers:
            if follow_up is not None:
                connection.spawn(follow_up())

    async def _handle_request(
        self, connection: Connection, request: Any
    ) -> tuple[dict[str, Any] | None, Callable[[], Awaitable[None]] | None]:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, RpcError(-32600, "Invalid Request")), None
        request_id = request.get("id")
        method: str = request["method"]
        params = request.get("params") or []
        if isinstance(params, dict):
            params = [params]
        if not method.startswith(ADMIN_PREFIX):
            fault = self.node.faults.on_request(method)
            if fault.drop:
                log.info("fault.drop_connection", method=method)
                connection.drop()
                return None, None
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault.error is not None:
                code, message = fault.error
                return _error(request_id, RpcError(code, message)), None
        log.debug(
            "rpc.request", method=method, call=_param(params, 0) if method == "state_call" else None
        )
        handler = self.methods.get(method)
        if handler is None:
            return _error(request_id, RpcError(-32601, f"Method not found: {method}")), None
        try:
            result = await handler(connection, params)
        except RpcError as error:
            return _error(request_id, error), None
        except TransactionRejected as rejection:
            refused = RpcError(rejection.code, rejection.message, rejection.reason)
            return _error(request_id, refused), None
        except (IndexError, KeyError, TypeError, ValueError) as error:
            return _error(request_id, RpcError(-32602, f"Invalid params: {error}")), None
        except Exception as error:
            log.exception("rpc.failed", method=method)
            return _error(request_id, RpcError(-32603, f"Internal error: {error}")), None
        if isinstance(result, Subscribed):
            return _result(request_id, result.subscription_id), result.follow_up
        return _result(request_id, result), None

    def _subscription_id(self) -> str:
        return f"devnode-{next(self._ids)}"

    # --- blocks ---

    def _block_at(self, block_hash: Any) -> Block:
        """The block a ``state_*`` call names (head when none); unknown hashes are errors."""
        if block_hash is None:
            return self.node.chain.head
        block = self.node.chain.by_hash(str(block_hash))
        if block is None:
            raise RpcError(
                4003,
                f"Client error: UnknownBlock: Header was not found in the database: {block_hash}",
            )
        return block

    def _maybe_block(self, params: Params) -> Block | None:
        """The block a ``chain_*`` call names (head when none); None when unknown."""
        block_hash = _param(params, 0)
        if block_hash is None:
            return self.node.chain.head
        return self.node.chain.by_hash(str(block_hash))

    async def _chain_get_block_hash(self, connection: Connection, params: Params) -> Any:
        number = _param(params, 0)
        if isinstance(number, list):
            return [self._hash_of(n) for n in number]
        return self._hash_of(number)

    def _hash_of(self, number: Any) -> str | None:
        if number is None:
            return self.node.chain.head.hash
        value = int(number, 16) if isinstance(number, str) else int(number)
        block = self.node.chain.by_number(value)
        return block.hash if block else None

    async def _chain_get_finalized_head(self, connection: Connection, params: Params) -> Any:
        return self.node.chain.finalized.hash

    async def _chain_get_header(self, connection: Connection, params: Params) -> Any:
        block = self._maybe_block(params)
        return block.header_json() if block else None

    async def _chain_get_block(self, connection: Connection, params: Params) -> Any:
        block = self._maybe_block(params)
        return block.block_json() if block else None

    def _subscribe_heads(self, notification: str) -> Handler:
        async def subscribe(connection: Connection, params: Params) -> Subscribed:
            subscription_id = self._subscription_id()

            def on_block(block: Block) -> None:
                connection.notify(notification, subscription_id, block.header_json())

            connection.subscriptions[subscription_id] = self.node.on_block(on_block)

            async def current_head() -> None:
                on_block(self.node.chain.head)

            return Subscribed(subscription_id, current_head)

        return subscribe

    async def _unsubscribe(self, connection: Connection, params: Params) -> bool:
        unsubscribe = connection.subscriptions.pop(str(_param(params, 0)), None)
        if unsubscribe is None:
            return False
        unsubscribe()
        return True

    # --- state ---

    async def _state_get_runtime_version(self, connection: Connection, params: Params) -> Any:
        self._block_at(_param(params, 0))
        return self.node.runtime.runtime_version_json()

    async def _state_call(self, connection: Connection, params: Params) -> Any:
        name = str(params[0])
        data = _bytes(_param(params, 1) or "0x")
        block = self._block_at(_param(params, 2))
        try:
            return "0x" + state_call(self.node.runtime, block, name, data).hex()
        except RuntimeApiUnavailable as error:
            raise RpcError(4003, f"Client error: Execution failed: {error}") from error

    async def _state_get_storage(self, connection: Connection, params: Params) -> Any:
        block = self._block_at(_param(params, 1))
        value = block.storage.get(_bytes(params[0]))
        return "0x" + value.hex() if value is not None else None

    async def _state_get_keys_paged(self, connection: Connection, params: Params) -> Any:
        prefix = _bytes(_param(params, 0) or "0x")
        count = int(params[1])
        if count > MAX_KEYS_PAGE:
            raise RpcError(-32602, f"count exceeds maximum value ({MAX_KEYS_PAGE})")
        start_key = _param(params, 2)
        block = self._block_at(_param(params, 3))
        keys = block.storage.keys_paged(prefix, count, _bytes(start_key) if start_key else None)
        return ["0x" + key.hex() for key in keys]

    async def _state_query_storage_at(self, connection: Connection, params: Params) -> Any:
        block = self._block_at(_param(params, 1))
        changes = []
        for key in params[0]:
            value = block.storage.get(_bytes(key))
            changes.append([key, "0x" + value.hex() if value is not None else None])
        return [{"block": block.hash, "changes": changes}]

    # --- accounts and transactions ---

    async def _account_next_index(self, connection: Connection, params: Params) -> int:
        return self.node.next_index(str(params[0]))

    async def _author_submit(self, connection: Connection, params: Params) -> str:
        entry = self.node.submit(_bytes(params[0]))
        return entry.tx.hash

    async def _author_submit_and_watch(self, connection: Connection, params: Params) -> Subscribed:
        entry = self.node.submit(_bytes(params[0]))
        subscription_id = self._subscription_id()
        connection.subscriptions[subscription_id] = lambda: None

        def update(status: Any) -> None:
            if subscription_id in connection.subscriptions:  # not after author_unwatchExtrinsic
                connection.notify("author_extrinsicUpdate", subscription_id, status)

        async def watch() -> None:
            update("ready")
            try:
                inclusion = await asyncio.shield(entry.included)
            except TransactionRejected as dropped:
                log.info("pool.dropped", hash=entry.tx.hash, problem=dropped.reason)
                update("dropped")
                return
            update({"inBlock": inclusion.block.hash})
            update({"finalized": inclusion.block.hash})

        return Subscribed(subscription_id, watch)

    async def _author_pending(self, connection: Connection, params: Params) -> list[str]:
        return ["0x" + entry.tx.data.hex() for entry in self.node.pool]

    # --- system ---

    async def _rpc_methods(self, connection: Connection, params: Params) -> Any:
        return {"version": 1, "methods": sorted(self.methods)}

    async def _system_chain(self, connection: Connection, params: Params) -> str:
        return self.node.fixture.chain_name

    async def _system_name(self, connection: Connection, params: Params) -> str:
        return "subtensor-devnode"

    async def _system_version(self, connection: Connection, params: Params) -> str:
        return f"devnode-{self.node.runtime.spec_version}"

    async def _system_chain_type(self, connection: Connection, params: Params) -> str:
        return "Development"

    async def _system_properties(self, connection: Connection, params: Params) -> Any:
        fixture = self.node.fixture
        return {
            "ss58Format": self.node.runtime.ss58_format,
            "tokenDecimals": fixture.token_decimals,
            "tokenSymbol": fixture.token_symbol,
        }

    async def _system_health(self, connection: Connection, params: Params) -> Any:
        return {"peers": 0, "isSyncing": False, "shouldHavePeers": False}

    # --- admin ---

    async def _devnode_set_faults(self, connection: Connection, params: Params) -> Any:
        self.node.set_faults(Faults.from_json(dict(_param(params, 0) or {})))
        return self.node.faults.faults.to_json()

    async def _devnode_get_faults(self, connection: Connection, params: Params) -> Any:
        return self.node.faults.faults.to_json()

    async def _devnode_clear_faults(self, connection: Connection, params: Params) -> Any:
        self.node.faults.clear()
        return self.node.faults.faults.to_json()

    async def _devnode_produce_block(self, connection: Connection, params: Params) -> str:
        return (await self.node.produce_block()).hash

    async def _devnode_set_balance(self, connection: Connection, params: Params) -> str:
        block = await self.node.set_balance(str(params[0]), int(params[1]))
        return block.hash

    async def _devnode_set_stake(self, connection: Connection, params: Params) -> str:
        hotkey, coldkey, netuid, alpha_rao = str(params[0]), str(params[1]), params[2], params[3]
        block = await self.node.set_stake(hotkey, coldkey, int(netuid), int(alpha_rao))
        return block.hash

    async def _devnode_set_alpha_price(self, connection: Connection, params: Params) -> str:
        block = await self.node.set_alpha_price(int(params[0]), int(params[1]))
        return block.hash

    async def _devnode_set_root_dividend(self, connection: Connection, params: Params) -> str:
        block = await self.node.set_root_dividend(int(params[0]), str(params[1]), int(params[2]))
        return block.hash

    async def _devnode_state(self, connection: Connection, params: Params) -> Any:
        block = self._block_at(_param(params, 0))
        return {"block": block.number, "hash": block.hash, **block.state.to_json()}


def _param(params: Params, index: int) -> Any:
    return params[index] if len(params) > index else None


def _bytes(value: Any) -> bytes:
    """Hex to bytes; like Substrate's ``Bytes``, the ``0x`` prefix is optional."""
    if not isinstance(value, str):
        raise ValueError(f"expected hex, got {value!r}")
    return bytes.fromhex(value.removeprefix("0x"))


def _result(request_id: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def _error(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}
