"""The Desearch (formerly Datura) Twitter search client the tweet-fetcher calls.

Desearch is a paid third-party API that rate-limits and has outages, so every call is bounded by
a timeout and retried a bounded number of times, and what still fails is sorted by what the
pipeline can do about it: ``DesearchUnavailable`` is worth retrying the hop later, while
``DesearchAuthError`` and other ``DesearchError`` are permanent. The API key goes raw into
``Authorization`` (no "Bearer", as Desearch expects), and is kept out of every message and log.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import httpx
from pydantic import ValidationError

from shared.events import Tweet
from shared.logging import get_logger
from shared.settings import Settings
from shared.singleflight import SingleFlight

log = get_logger(__name__)

Sort = Literal["Top", "Latest"]

# Longest wait a Retry-After header may impose within one search; the hop retries later anyway.
MAX_RETRY_AFTER_SECONDS = 30
# How Twitter, and so Desearch, writes created_at: "Thu Feb 20 10:51:44 +0000 2025".
_TWITTER_TIME = "%a %b %d %H:%M:%S %z %Y"
_REDACTED = "[redacted]"


class DesearchError(Exception):
    """Desearch refused or could not answer a search. Messages never contain the API key."""

    retryable: bool = False


class DesearchAuthError(DesearchError):
    """The key is missing or refused (401/403): nothing helps until the key is changed."""

    retryable = False


class DesearchUnavailable(DesearchError):
    """Rate-limited, failing or unreachable on every attempt: the hop may be retried later."""

    retryable = True


def build_query(template: str, netuid: int) -> str:
    """The search for one subnet: ``"Bittensor netuid {netuid}"`` becomes ``"... netuid 18"``."""
    return template.format(netuid=netuid)


def search_window(now: datetime, days: int) -> tuple[date, date]:
    """The UTC dates from ``days`` ago to today: Desearch filters by date, not by time."""
    end = now.astimezone(UTC).date()
    return end - timedelta(days=days), end


class DesearchClient:
    """Searches tweets on Desearch. Owns its ``httpx.AsyncClient`` unless one is given."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_seconds: float,
        max_attempts: int,
        backoff_seconds: float,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not api_key:
            raise DesearchAuthError("no Desearch API key is configured (DESEARCH_API_KEY)")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._url = base_url.rstrip("/") + "/twitter"
        self._api_key = api_key
        self._timeout = timeout_seconds
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient(timeout=timeout_seconds)
        self._searches: SingleFlight[list[Tweet]] = SingleFlight()

    @classmethod
    def from_settings(cls, settings: Settings) -> DesearchClient:
        """The client the settings describe; ``DesearchAuthError`` when no key is set."""
        key = settings.desearch_api_key
        return cls(
            settings.desearch_base_url,
            key.get_secret_value() if key is not None else "",
            timeout_seconds=settings.desearch_timeout_seconds,
            max_attempts=settings.desearch_max_attempts,
            backoff_seconds=settings.desearch_backoff_seconds,
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def search(
        self,
        query: str,
        *,
        start_date: date,
        end_date: date,
        lang: str,
        count: int,
        sort: Sort = "Latest",
    ) -> list[Tweet]:
        """Tweets matching ``query`` (Twitter search syntax) between two UTC dates.

        Identical searches at the same time (trades of one subnet in one batch) share one
        request (``shared.singleflight``).
        """
        params = {
            "query": query,
            "sort": sort,
            "start_date": start_date.isoformat(),
            "end_date": end_date.isoformat(),
            "lang": lang,
            "count": str(count),
        }
        return await self._searches.run(tuple(params.items()), lambda: self._search(params))

    async def _search(self, params: dict[str, str]) -> list[Tweet]:
        query = params["query"]
        response, attempts = await self._get(params)
        outcome = {
            "query": query,
            "status": response.status_code,
            "attempts": attempts,
            "cost_usd": response.headers.get("X-Desearch-Cost-Usd"),
        }
        try:
            tweets = self._tweets(response)
        except DesearchError as error:
            log.warning("desearch.failed", error=str(error), **outcome)
            raise
        log.info("desearch.searched", count=len(tweets), **outcome)
        return tweets

    async def _get(self, params: dict[str, str]) -> tuple[httpx.Response, int]:
        """The first answer not worth retrying, and the number of attempts it took."""
        for attempt in range(1, self._max_attempts + 1):
            retry_after = None
            try:
                response = await self._client.get(
                    self._url,
                    params=params,
                    headers={"Authorization": self._api_key},
                    timeout=self._timeout,
                )
            except httpx.TransportError as error:  # timeouts included
                failure = repr(error)
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response, attempt
                failure = f"HTTP {response.status_code}"
                retry_after = response.headers.get("Retry-After")
            if attempt < self._max_attempts:
                delay = self._delay(attempt, retry_after)
                log.warning(
                    "desearch.retry",
                    query=params["query"],
                    attempt=attempt,
                    failure=failure,
                    delay_seconds=delay,
                )
                await asyncio.sleep(delay)
        log.warning(
            "desearch.failed", query=params["query"], attempts=self._max_attempts, error=failure
        )
        raise DesearchUnavailable(
            self._safe(f"Desearch failed {self._max_attempts} attempts; the last: {failure}")
        )

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        """Retry-After when it gives seconds (capped), else exponential backoff."""
        if retry_after is not None and retry_after.isdigit():
            return min(int(retry_after), MAX_RETRY_AFTER_SECONDS)
        return self._backoff * 2.0 ** (attempt - 1)

    def _tweets(self, response: httpx.Response) -> list[Tweet]:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if status in (401, 403):
            raise DesearchAuthError(
                self._safe(f"Desearch refused the API key (HTTP {status}){_message(body)}")
            )
        if not response.is_success:
            raise DesearchError(
                self._safe(f"Desearch refused the search (HTTP {status}){_message(body)}")
            )
        if not isinstance(body, list):
            raise DesearchError(
                self._safe(f"Desearch answered without a list of tweets{_message(body)}")
            )
        return [tweet for entry in body if (tweet := _to_tweet(entry)) is not None]

    def _safe(self, message: str) -> str:
        """``message`` with the key removed: error bodies may quote the key they refused."""
        return message.replace(self._api_key, _REDACTED)


def _message(body: object) -> str:
    """``": <message>"`` from an error body such as ``{"detail": "..."}``, else ``""``."""
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            if isinstance(text := body.get(key), str):
                return f": {text[:200]}"
    return ""


def _to_tweet(entry: object) -> Tweet | None:
    """One Desearch tweet as a ``Tweet``, extra fields ignored.

    An entry without a usable id or text is logged and skipped (None): one odd entry must not
    cost the whole search.
    """
    if not isinstance(entry, dict):
        log.warning("desearch.tweet_skipped", invalid=["entry"])
        return None
    tweet_id, user = entry.get("id"), entry.get("user")
    fields = {
        "id": str(tweet_id) if isinstance(tweet_id, int) else tweet_id,
        "text": entry.get("text"),
        "url": entry.get("url"),
        "created_at": _created_at(entry.get("created_at")),
        "username": user.get("username") if isinstance(user, dict) else None,
        "like_count": entry.get("like_count") or 0,
        "retweet_count": entry.get("retweet_count") or 0,
    }
    try:
        return Tweet.model_validate(fields)
    except ValidationError as error:
        invalid = [".".join(map(str, e["loc"])) for e in error.errors()]
        log.warning("desearch.tweet_skipped", tweet_id=tweet_id, invalid=invalid)
        return None


def _created_at(value: object) -> object:
    """Twitter's time format as an aware datetime; anything else is left to the model."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return datetime.strptime(value, _TWITTER_TIME)
    return value
