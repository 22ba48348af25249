"""SS58 address validation (checksum included), for API parameters and event fields.

One account has one spelling here: the Bittensor address format (SS58 prefix 42, the generic
Substrate one, so every address starts with ``5``). The same public key under another prefix is
a different string, which would be a different cache key and a different trade cooldown claim,
so it is refused rather than accepted under a second name.

The constants below are the published form of these rules (the OpenAPI schema and the event
contract carry them), so schema-driven clients know what the validator accepts.
"""

from __future__ import annotations

from bittensor.sp_core import ss58_decode, ss58_encode

SS58_FORMAT = 42
# Base58 of prefix (1 byte) + account id (32) + checksum (2) is always 48 characters for 42.
SS58_LENGTH = 48
SS58_PATTERN = r"^5[1-9A-HJ-NP-Za-km-z]{47}$"
SS58_DESCRIPTION = (
    "SS58 address of a 32-byte account id in the Bittensor format (prefix 42): 48 base58 "
    "characters starting with `5`, the base58 of `0x2a` + account id + checksum, where the "
    "checksum is the first 2 bytes of blake2b-512(`SS58PRE` + `0x2a` + account id). An address "
    "whose checksum does not match, or that spells the key with another prefix, is refused."
)
# A valid address, for documentation examples.
SS58_EXAMPLE = "5FFApaS75bv5pJHfAp2FVLBj9ZaXuFDjEypsaBNc1wCfe52v"


def validate_ss58(address: str) -> str:
    """Return ``address`` if it is a well-formed SS58 account id with a valid checksum."""
    try:
        public_key = bytes(ss58_decode(address))
    except Exception:
        raise ValueError("not a valid SS58 address (bad characters, length or checksum)") from None
    if len(public_key) != 32:
        raise ValueError("not a 32-byte SS58 account id")
    if ss58_encode(public_key, SS58_FORMAT) != address:
        raise ValueError(f"not an SS58 address of the Bittensor format (prefix {SS58_FORMAT})")
    return address
