"""The API key of the write endpoints, compared in constant time."""

from __future__ import annotations

import hmac

from recommender.server.errors import ApiError


def check_key(expected: str | None, given: str | None) -> None:
    """Writes need the server's API key; without one configured they are disabled."""
    if not expected:
        raise ApiError(
            403,
            "writes_disabled",
            "this server accepts no writes",
            "start it with RECSYS_API_KEY set and send that key in the X-API-Key header",
        )
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(
            401, "unauthorized", "missing or wrong API key", "send the key in the X-API-Key header"
        )
