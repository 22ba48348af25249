"""The HTTP gateway: dividends from cache or chain, and the entry point of trades."""
