"""Request body limits, on the bytes actually received (a missing or false
Content-Length changes nothing).

Starlette's own body limit answers a declared oversize with a plain-text 413 that
bypasses the application's error shape; this one answers every oversize with the
JSON error body.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recommender.server.errors import ApiError, body


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            "too_large",
            f"request body larger than {limit:,} bytes",
            "send fewer rows per request, or a shorter audio file",
        )


class BodyLimit:
    """ASGI middleware: bodies over `limit_for(path)` bytes get a JSON 413."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _reject(send, BodyTooLarge(limit))
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


async def _reject(send: Send, exc: ApiError) -> None:
    payload = json.dumps(body(exc.code, exc.message, exc.hint)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
