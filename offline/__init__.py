"""The offline stack: stand-ins that speak the real protocols, so the product runs with no network.

- ``offline.devnode``: a subtensor node (websocket JSON-RPC) serving recorded runtime metadata;
  ``python -m offline.devnode``.
- ``offline.desearch``: Desearch's ``GET /twitter``; ``python -m offline.desearch``.
- ``offline.chutes``: Chutes' OpenAI-compatible ``/v1``; ``python -m offline.chutes``.
- ``offline.substrate``: an in-memory chain behind the SDK's ``Substrate`` seam, in-process.

The product's code paths are the live ones against each: only the addresses differ. Nothing here
imports ``tests`` or ``bench``; they import this.
"""
