"""An offline subtensor node: the SDK's wire protocol over a websocket on 127.0.0.1.

``offline/substrate.py`` replaces the SDK's transport (the ``bittensor.Substrate`` seam); the
devnode keeps the whole SDK in play, transport included: JSON-RPC framing, metadata download,
SCALE storage keys and values, signing, submission and event decoding. It serves the runtime
metadata committed in ``data/`` (or the file named by ``DEVNODE_METADATA``) and a chain seeded
from ``data/fixture.json``; see ``node.py`` for how to use it, ``data/README.md`` for where the
recording comes from.
"""

from offline.devnode.faults import Faults
from offline.devnode.metadata import METADATA_ENV, MetadataUnavailable, load_runtime
from offline.devnode.node import DevNode
from offline.devnode.state import DEFAULT_FIXTURE, load_fixture

__all__ = [
    "DEFAULT_FIXTURE",
    "METADATA_ENV",
    "DevNode",
    "Faults",
    "MetadataUnavailable",
    "load_fixture",
    "load_runtime",
]
