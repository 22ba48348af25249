"""The runtime the devnode serves: recorded V15 metadata, committed in ``data/``.

The default is ``data/localnet-v15.hex`` (its provenance and sha256 are in ``data/README.md``);
``DEVNODE_METADATA`` names another file. Every SCALE encode or decode the devnode does goes
through the SDK's own ``RuntimeCodec`` built from it: storage keys, values, calls, events and
runtime API results are then byte for byte what the SDK expects, and nothing is packed by hand.

The runtime version answered to ``state_getRuntimeVersion`` is the ``System.Version`` constant
inside the metadata itself, so the spec version the codec signs with and the one the node
reports cannot disagree.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bittensor._transport.codec import RuntimeCodec

METADATA_ENV = "DEVNODE_METADATA"
# The recording this repository ships (data/README.md says where it comes from).
DEFAULT_METADATA = Path(__file__).with_name("data") / "localnet-v15.hex"
# The signature scheme every SS58 address here is read with (Substrate's generic prefix).
DEFAULT_SS58_FORMAT = 42


class MetadataUnavailable(RuntimeError):
    """No metadata file: the devnode cannot describe a runtime without one."""


@dataclass(frozen=True)
class Runtime:
    """One runtime: its raw metadata, the SDK codec built from it, and its version."""

    metadata: bytes
    codec: RuntimeCodec
    version: dict[str, Any]
    ss58_format: int
    _pallet_errors: dict[str, dict[str, int]] = field(repr=False)
    _pallet_indices: dict[str, int] = field(repr=False)
    _types_by_path: dict[tuple[str, ...], int] = field(repr=False)

    @property
    def spec_version(self) -> int:
        return int(self.version["spec_version"])

    def runtime_version_json(self) -> dict[str, Any]:
        """``state_getRuntimeVersion``'s answer: the constant's fields in JSON-RPC spelling."""
        version = self.version
        return {
            "specName": version["spec_name"],
            "implName": version["impl_name"],
            "authoringVersion": version["authoring_version"],
            "specVersion": version["spec_version"],
            "implVersion": version["impl_version"],
            "apis": [[api_id, api_version] for api_id, api_version in version["apis"]],
            "transactionVersion": version["transaction_version"],
            "systemVersion": version.get("system_version", 1),
        }

    def type_by_path(self, *path: str) -> str:
        """The codec type string of a registry type named by its full path."""
        type_id = self._types_by_path.get(path)
        if type_id is None:
            raise KeyError(f"type {'::'.join(path)} is not in this runtime's registry")
        return f"scale_info::{type_id}"

    def pallet_index(self, pallet: str) -> int:
        return self._pallet_indices[pallet]

    def module_error(self, pallet: str, name: str) -> dict[str, Any]:
        """A ``DispatchError::Module`` value for an error of ``pallet``, with its real index."""
        errors = self._pallet_errors.get(pallet, {})
        if name not in errors:
            raise KeyError(f"{pallet} has no error named {name!r} in this runtime")
        index = errors[name]
        # ModuleError { index: u8, error: [u8; 4] }: the error's index, then three zero bytes.
        return {"Module": {"index": self._pallet_indices[pallet], "error": [index, 0, 0, 0]}}

    def has_error(self, pallet: str, name: str) -> bool:
        return name in self._pallet_errors.get(pallet, {})


def metadata_path() -> Path:
    """``DEVNODE_METADATA`` if set, else the committed recording."""
    value = os.environ.get(METADATA_ENV)
    path = Path(value) if value else DEFAULT_METADATA
    if not path.is_file():
        source = f"{METADATA_ENV}={value}" if value else "the committed recording"
        raise MetadataUnavailable(f"{source}: {path} is not a readable file")
    return path


def load_runtime(path: Path | str | None = None) -> Runtime:
    """The runtime described by ``path`` (default: ``metadata_path()``)."""
    resolved = Path(path) if path is not None else metadata_path()
    return _load(resolved.resolve())


@functools.cache
def _load(path: Path) -> Runtime:
    text = path.read_text(encoding="ascii").strip()
    metadata = bytes.fromhex(text.removeprefix("0x"))
    # A first codec only to read the constants that say how to build the real one.
    probe = RuntimeCodec(
        metadata,
        spec_version=0,
        transaction_version=0,
        spec_name="",
        ss58_format=DEFAULT_SS58_FORMAT,
    )
    version = dict(probe.constant("System", "Version"))
    ss58_format = int(probe.constant("System", "SS58Prefix") or DEFAULT_SS58_FORMAT)
    codec = RuntimeCodec(
        metadata,
        spec_version=int(version["spec_version"]),
        transaction_version=int(version["transaction_version"]),
        spec_name=str(version["spec_name"]),
        ss58_format=ss58_format,
    )
    ir = codec.metadata_ir()
    pallet_errors = {
        pallet.name: {error.name: error.index for error in pallet.errors} for pallet in ir.pallets
    }
    pallet_indices = {pallet.name: pallet.index for pallet in ir.pallets}
    types_by_path = {
        tuple(entry["type"]["path"]): int(entry["id"])
        for entry in codec.registry_types()
        if entry["type"].get("path")
    }
    return Runtime(
        metadata=metadata,
        codec=codec,
        version=json.loads(json.dumps(version)),  # tuples -> lists: plain JSON from here on
        ss58_format=ss58_format,
        _pallet_errors=pallet_errors,
        _pallet_indices=pallet_indices,
        _types_by_path=types_by_path,
    )
