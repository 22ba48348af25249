"""The committed AsyncAPI documents are exactly what the consumer apps generate."""

from __future__ import annotations

import json

from consumers.asyncapi import DOCS, documents


def test_the_committed_asyncapi_documents_match_the_apps() -> None:
    """Run `make asyncapi` after changing an event or a stream: this fails until you do."""
    for name, document in documents().items():
        committed = json.loads((DOCS / name).read_text(encoding="utf-8"))
        assert committed == document, f"docs/asyncapi/{name} is stale: run `make asyncapi`"


def test_every_event_payload_is_documented() -> None:
    """Each stream's payload schema appears in the documents, unknown fields refused."""
    schemas = {
        name: schema
        for document in documents().values()
        for name, schema in document["components"]["schemas"].items()
    }
    for event in ("TradeRequested", "TweetsFetched", "SentimentScored", "StakeExecuted"):
        assert schemas[event]["additionalProperties"] is False
