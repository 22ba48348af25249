"""Schemathesis hooks for ``make fuzz`` (loaded by name from ``bench/fuzz.toml``).

The schema publishes everything an SS58 hotkey must satisfy that JSON Schema can say (length,
base58 pattern) and names the rest, the checksum, as ``format: ss58``. This teaches the
generator that format: 32 random bytes, encoded with their checksum in the Bittensor format,
so schema-valid hotkeys are valid addresses, as the schema's description says they must be.
And it keeps out generated queries that no URL can carry (``filter_query``).
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


def _expressible(value: object) -> bool:
    """Whether ``value`` survives a trip through a query string: ``None`` and empty containers
    are dropped when serialized, so the server never sees them."""
    if value is None:
        return False
    if isinstance(value, dict):
        return all(_expressible(item) for item in value.values())
    if isinstance(value, list | tuple):
        return bool(value) and all(_expressible(item) for item in value)
    return True


@schemathesis.hook
def filter_query(_ctx: schemathesis.HookContext, query: dict[str, object] | None) -> bool:
    """Only queries whose every value reaches the server.

    A negative case may break the schema with a value no URL can carry (an unknown property set
    to ``null``, say): serialized, the query is a valid one, the server rightly accepts it, and
    the check "schema-violating request accepted" would blame the server for the client's loss.
    """
    return query is None or _expressible(query)
