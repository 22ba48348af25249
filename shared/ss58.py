"""SS58 address validation (checksum included), for API parameters and event fields."""

from __future__ import annotations

from bittensor.sp_core import ss58_decode


def validate_ss58(address: str) -> str:
    """Return ``address`` if it is a well-formed SS58 account id with a valid checksum."""
    try:
        public_key = bytes(ss58_decode(address))
    except Exception:
        raise ValueError("not a valid SS58 address (bad characters, length or checksum)") from None
    if len(public_key) != 32:
        raise ValueError("not a 32-byte SS58 account id")
    return address
