"""An offline Substrate node for tests: the SDK's wire protocol over a websocket on 127.0.0.1.

``tests/fakes/substrate.py`` replaces the SDK's transport (the ``bittensor.Substrate`` seam);
the devnode keeps the whole SDK in play, transport included: JSON-RPC framing, metadata
download, SCALE storage keys and values, signing, submission and event decoding. It serves the
recorded runtime metadata named by ``DEVNODE_METADATA`` and a chain seeded from
``fixture.json``; see ``node.py`` for how to use it.
"""

from tests.devnode.faults import Faults
from tests.devnode.metadata import METADATA_ENV, MetadataUnavailable, load_runtime
from tests.devnode.node import DevNode
from tests.devnode.state import DEFAULT_FIXTURE, load_fixture

__all__ = [
    "DEFAULT_FIXTURE",
    "METADATA_ENV",
    "DevNode",
    "Faults",
    "MetadataUnavailable",
    "load_fixture",
    "load_runtime",
]
