"""Faults the devnode injects on request, to show how clients behave when a node misbehaves.

Faults are counted, not random: "drop the next 3 requests" or "fail every request to
``state_getStorageAt``", so a test that injects one knows exactly what the client met. They are
set from the constructor (``DevNode(faults=Faults(...))``), in-process (``node.faults.set``) or
over the wire with the admin method ``devnode_setFaults`` (which, like every ``devnode_*``
method, is never itself faulted).

- ``latency_ms``: every matching request is answered this much later.
- ``drop_requests``: the connection is closed (the TCP socket aborted, no close frame) on
  receipt of the next N matching requests, which are never answered; -1 means every one.
- ``error_requests``: the next N matching requests (-1: every one) are answered with the
  JSON-RPC error ``error_code`` / ``error_message``.
- ``methods``: limits the three above to these JSON-RPC method names (empty: every method).
- ``refuse_connections``: new websocket handshakes are refused with HTTP 503.
- ``fail_extrinsics``: every dispatched extrinsic fails on chain with this SubtensorModule error
  (e.g. ``"SlippageTooHigh"``): included in a block, fee charged, ``System.ExtrinsicFailed``.
- ``reject_extrinsics``: every submission is refused by the pool with this reason (JSON-RPC
  error 1010, "Invalid Transaction"), as a node refuses an invalid transaction.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

FOREVER = -1


@dataclass
class Faults:
    latency_ms: int = 0
    drop_requests: int = 0
    error_requests: int = 0
    error_code: int = -32000
    error_message: str = "devnode: injected failure"
    methods: tuple[str, ...] = ()
    refuse_connections: bool = False
    fail_extrinsics: str | None = None
    reject_extrinsics: str | None = None

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Faults:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        data = dict(value)
        if "methods" in data:
            data["methods"] = tuple(str(method) for method in data["methods"] or ())
        faults = cls(**data)
        faults.validate()
        return faults

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["methods"] = list(self.methods)
        return data

    def validate(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms cannot be negative")
        for name in ("drop_requests", "error_requests"):
            if getattr(self, name) < FOREVER:
                raise ValueError(f"{name} is a count, or -1 for every request")


@dataclass(frozen=True)
class RequestFault:
    """What to do to one request."""

    delay_s: float = 0.0
    drop: bool = False
    error: tuple[int, str] | None = None


@dataclass
class FaultInjector:
    """Holds the current faults and spends their counters as requests arrive."""

    faults: Faults = field(default_factory=Faults)

    def set(self, faults: Faults) -> None:
        faults.validate()
        self.faults = faults

    def clear(self) -> None:
        self.faults = Faults()

    def on_request(self, method: str) -> RequestFault:
        faults = self.faults
        if faults.methods and method not in faults.methods:
            return RequestFault()
        delay = faults.latency_ms / 1000
        if _spend(faults, "drop_requests"):
            return RequestFault(delay_s=delay, drop=True)
        if _spend(faults, "error_requests"):
            return RequestFault(delay_s=delay, error=(faults.error_code, faults.error_message))
        return RequestFault(delay_s=delay)


def _spend(faults: Faults, counter: str) -> bool:
    left: int = getattr(faults, counter)
    if left == 0:
        return False
    if left > 0:
        setattr(faults, counter, left - 1)
    return True
