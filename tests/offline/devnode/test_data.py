"""The recorded runtime metadata the devnode serves is the one its provenance describes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from bittensor._transport.codec import RuntimeCodec

from offline.devnode.metadata import DEFAULT_METADATA, METADATA_ENV, load_runtime, metadata_path

DATA = DEFAULT_METADATA.parent
# As recorded in data/README.md: the hex file, and the bytes it decodes to.
HEX_SHA256 = "cabfdcb5906418e3c929d12754a2c684f742dd93bbbc738f943bffd89f48a057"
BYTES_SHA256 = "716725aa5e97d1048623d6f03a1dc61b6617a0c9e0efe112c1dbaf7fda40ee80"


def metadata_bytes() -> bytes:
    return bytes.fromhex(DEFAULT_METADATA.read_text(encoding="ascii").removeprefix("0x"))


def test_the_hex_file_and_its_bytes_have_the_recorded_sha256() -> None:
    """Both sums in the provenance match the committed file, byte for byte."""
    assert hashlib.sha256(DEFAULT_METADATA.read_bytes()).hexdigest() == HEX_SHA256
    assert hashlib.sha256(metadata_bytes()).hexdigest() == BYTES_SHA256


def test_the_provenance_names_both_sums() -> None:
    """data/README.md carries the sums this test checks, so the two cannot drift apart."""
    provenance = (DATA / "README.md").read_text(encoding="utf-8")
    assert HEX_SHA256 in provenance
    assert BYTES_SHA256 in provenance


def test_the_blob_is_versioned_v15_metadata() -> None:
    """It starts with the ``meta`` magic and version byte 15, as RuntimeMetadataPrefixed does."""
    assert metadata_bytes()[:5] == b"meta\x0f"


def test_the_sdk_11_codec_builds_from_it() -> None:
    """bittensor 11's RuntimeCodec decodes it and finds the items the product reads and calls."""
    codec = RuntimeCodec(
        metadata_bytes(),
        spec_version=448,
        transaction_version=1,
        spec_name="node-subtensor",
        ss58_format=42,
    )
    pallets = {pallet.name: pallet for pallet in codec.metadata_ir().pallets}
    subtensor = pallets["SubtensorModule"]
    assert subtensor.index == 7
    storage = {item.name for item in subtensor.storage}
    assert "RootAlphaDividendsPerSubnet" in storage
    assert "TaoDividendsPerSubnet" not in storage
    calls = {call.name for call in subtensor.calls}
    assert {"add_stake", "add_stake_limit", "remove_stake", "remove_stake_limit"} <= calls


def test_the_runtime_version_inside_matches_the_recording() -> None:
    """``System.Version`` in the metadata is the version localnet-runtime.json recorded."""
    recorded = json.loads((DATA / "localnet-runtime.json").read_text(encoding="utf-8"))
    runtime = load_runtime(DEFAULT_METADATA)
    assert runtime.version == recorded["runtime_version"]
    assert runtime.ss58_format == recorded["ss58_format"]


def test_the_committed_file_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no DEVNODE_METADATA the devnode serves the committed recording."""
    monkeypatch.delenv(METADATA_ENV, raising=False)
    assert metadata_path() == DEFAULT_METADATA


def test_devnode_metadata_overrides_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """DEVNODE_METADATA names another recording; one that is not a file is refused clearly."""
    copy = tmp_path / "other.hex"
    copy.write_bytes(DEFAULT_METADATA.read_bytes())
    monkeypatch.setenv(METADATA_ENV, str(copy))
    assert metadata_path() == copy
    monkeypatch.setenv(METADATA_ENV, str(copy) + ".missing")
    with pytest.raises(RuntimeError, match=METADATA_ENV):
        metadata_path()
