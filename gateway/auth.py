"""API token authentication and scopes.

Tokens come from ``API_TOKENS``; several may be valid at once, which is how they rotate. The
presented token is compared with every configured one in constant time (digests of equal length,
no early exit), so neither timing nor the position of a match tells an attacker anything.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from shared.errors import Forbidden, NotAuthenticated
from shared.settings import ApiToken, Scope


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class TokenVerifier:
    def __init__(self, tokens: Sequence[ApiToken]) -> None:
        self._tokens = [(_digest(token.secret.get_secret_value()), token) for token in tokens]

    def verify(self, presented: str | None) -> ApiToken:
        """The configured token matching ``presented``; ``NotAuthenticated`` otherwise."""
        if not presented:
            raise NotAuthenticated("an API token is required (Authorization: Bearer or X-API-Key)")
        digest = _digest(presented)
        match: ApiToken | None = None
        for known, token in self._tokens:
            if hmac.compare_digest(digest, known):
                match = token
        if match is None:
            raise NotAuthenticated("the API token is not valid")
        return match


def require_scope(token: ApiToken, scope: Scope, *, field: str | None = None) -> None:
    if scope not in token.scopes:
        raise Forbidden(f"this token lacks the {scope.value!r} scope", field=field)
