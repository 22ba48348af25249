"""Run one consumer as production does: ``python -m consumers tweet-fetcher``.

Unlike a bare ``faststream run``, this survives the loss of the consumer group (see
``shared.streams.run``).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from faststream import FastStream

from consumers.sentiment_scorer.app import create_app as sentiment_scorer
from consumers.stake_executor.app import create_app as stake_executor
from consumers.tweet_fetcher.app import create_app as tweet_fetcher
from shared.settings import Settings
from shared.streams.run import serve
from shared.streams.topology import HopName, topology

APPS: dict[HopName, Callable[[Settings], FastStream]] = {
    HopName.TWEET_FETCHER: tweet_fetcher,
    HopName.SENTIMENT_SCORER: sentiment_scorer,
    HopName.STAKE_EXECUTOR: stake_executor,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m consumers", description=__doc__)
    parser.add_argument("consumer", choices=[name.value for name in HopName])
    name = HopName(parser.parse_args().consumer)
    settings = Settings()
    asyncio.run(serve(lambda: APPS[name](settings), settings.redis_url, topology(settings)[name]))


if __name__ == "__main__":
    main()
