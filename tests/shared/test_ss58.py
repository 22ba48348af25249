"""SS58 validation, and the published rules (length, pattern) that describe it."""

from __future__ import annotations

import random
import re

import pytest
from bittensor.sp_core import ss58_decode, ss58_encode

from shared.ss58 import SS58_FORMAT, SS58_LENGTH, SS58_PATTERN, validate_ss58
from tests.conftest import HOTKEY


def test_a_bittensor_address_is_accepted_as_written() -> None:
    assert validate_ss58(HOTKEY) == HOTKEY


@pytest.mark.parametrize(
    "address",
    [
        HOTKEY[:-1] + "w",  # checksum broken
        HOTKEY[:-1],  # too short
        "0" + HOTKEY[1:],  # not base58
        ss58_encode(bytes(ss58_decode(HOTKEY)), 43),  # the same key, another prefix
        ss58_encode(bytes(ss58_decode(HOTKEY)), 0),  # the Polkadot spelling
    ],
    ids=["checksum", "short", "not-base58", "prefix-43", "prefix-0"],
)
def test_anything_but_the_one_bittensor_spelling_of_an_account_is_refused(address: str) -> None:
    """One account, one string: another prefix would be another cache key and trade claim."""
    with pytest.raises(ValueError, match="SS58"):
        validate_ss58(address)


def test_every_valid_address_matches_the_published_length_and_pattern() -> None:
    """The schema never refuses an address the validator accepts (2,000 random accounts)."""
    rng = random.Random(42)  # noqa: S311 - seeded test data, not a secret
    keys = [bytes(32), b"\xff" * 32] + [rng.randbytes(32) for _ in range(2000)]
    for key in keys:
        address = ss58_encode(key, SS58_FORMAT)
        assert validate_ss58(address) == address
        assert len(address) == SS58_LENGTH
        assert re.fullmatch(SS58_PATTERN, address), address
