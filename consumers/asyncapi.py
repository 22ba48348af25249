"""The published event contract: AsyncAPI documents generated from the three consumer apps.

``make asyncapi`` (``python -m consumers.asyncapi``) writes them to ``docs/asyncapi/``, with the
default stream names, and a test fails when the committed documents differ from what the apps
generate, so the contract cannot drift from the code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from faststream import FastStream

from consumers.sentiment_scorer.app import create_app as sentiment_scorer
from consumers.stake_executor.app import create_app as stake_executor
from consumers.tweet_fetcher.app import create_app as tweet_fetcher
from shared.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs" / "asyncapi"


def documents() -> dict[str, dict[str, Any]]:
    """File name -> AsyncAPI 3.0 document, for each consumer, with default settings."""
    defaults = Settings.model_construct()  # defaults only: no environment, no .env
    apps = {
        "tweet-fetcher.json": tweet_fetcher(defaults),
        "sentiment-scorer.json": sentiment_scorer(defaults),
        "stake-executor.json": stake_executor(defaults),
    }
    return {name: _document(app) for name, app in apps.items()}


def _document(app: FastStream) -> dict[str, Any]:
    document: dict[str, Any] = app.schema.to_specification().to_jsonable()
    for channel in document["channels"].values():
        # Each process names its own consumer (host and pid); that is not part of the contract.
        channel.get("bindings", {}).get("redis", {}).pop("consumerName", None)
    return document


def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, document in documents().items():
        (DOCS / name).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {DOCS / name}")


if __name__ == "__main__":
    main()
