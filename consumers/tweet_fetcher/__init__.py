"""The tweet-fetcher hop: searches Desearch for recent tweets about a trade's subnet.

It reads ``TradeRequested``, records the tweets it found (possibly none), and emits
``TweetsFetched`` for the sentiment scorer.
"""
