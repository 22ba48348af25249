"""Typed domain errors. Services raise them; each deployable maps them to its transport once.

Every error carries a stable machine-readable ``code``, the ``field`` at fault when there is
one, and the HTTP status the gateway answers with (as Polar's errors do), so the mapping is
data, not a chain of ``except`` clauses.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error a client may see. The message is safe to show; no internals."""

    code = "internal_error"
    status = 500

    def __init__(
        self, message: str, *, field: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.retry_after = retry_after


class InvalidInput(ServiceError):
    """A parameter is malformed, out of range, or missing what it needs; ``field`` names it."""

    code = "invalid_parameter"
    status = 422


class NotAuthenticated(ServiceError):
    """No token, or one that is not valid."""

    code = "not_authenticated"
    status = 401


class Forbidden(ServiceError):
    """The token is valid but lacks the scope the request needs (``trade`` for trade=true)."""

    code = "insufficient_scope"
    status = 403


class NotFound(ServiceError):
    """What was asked for does not exist: the subnet, or the trade."""

    code = "not_found"
    status = 404


class RateLimited(ServiceError):
    """The token made more requests than its limit in the current window."""

    code = "rate_limited"
    status = 429


class ChainUnavailable(ServiceError):
    """The chain could not be reached or the read failed: never answered as a zero."""

    code = "chain_unavailable"
    status = 503


class DividendItemMissing(ServiceError):
    """The connected runtime has no root-dividend storage item this service knows."""

    code = "dividend_item_unavailable"
    status = 503


class TradeUnavailable(ServiceError):
    """A trade could not be admitted or queued (Redis or MongoDB down)."""

    code = "trade_unavailable"
    status = 503
