"""Chain access through the bittensor SDK 11: one long-lived client, dividend reads, units."""

from shared.chain.client import ChainClient
from shared.chain.dividends import (
    DividendEntry,
    DividendItem,
    DividendReader,
    DividendReading,
    Unit,
)

__all__ = [
    "ChainClient",
    "DividendEntry",
    "DividendItem",
    "DividendReader",
    "DividendReading",
    "Unit",
]
