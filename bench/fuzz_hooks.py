"""Schemathesis hooks for ``make fuzz`` (loaded by name from ``bench/fuzz.toml``).

The schema publishes everything an SS58 hotkey must satisfy that JSON Schema can say (length,
base58 pattern) and names the rest, the checksum, as ``format: ss58``. This teaches the
generator that format: 32 random bytes, encoded with their checksum in the Bittensor format,
so schema-valid hotkeys are valid addresses, as the schema's description says they must be.
"""

from __future__ import annotations

import schemathesis
from bittensor.sp_core import ss58_encode
from hypothesis import strategies as st

from shared.ss58 import SS58_FORMAT

schemathesis.openapi.format(
    "ss58",
    st.binary(min_size=32, max_size=32).map(lambda key: ss58_encode(key, SS58_FORMAT)),
)
