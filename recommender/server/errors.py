"""Every failure as `{"error": {"code", "message", "hint"}}` with the right status.

A `RecsysError` says what went wrong and, after "; ", what to do: that second part
becomes the hint. Anything unexpected is logged with its traceback on the server and
answered with a bare 500: no traceback ever reaches a client.
"""

from __future__ import annotations

import logging

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from recommender.errors import (
    AmbiguousNameError,
    AudioDecodeError,
    InputError,
    ModelBundleError,
    NoMatchError,
    RecsysError,
    SchemaVersionError,
    UnknownIdError,
)

log = logging.getLogger("recsys.server")


_ONBOARDING = {
    "user": "a new listener: POST /listens with their plays (their next recommendations fold"
    " them in), or POST /recommendations with chosen tags",
    "track": "check the id; a new track is served after `recsys etl` and `recsys train`,"
    " and POST /tag tags its audio meanwhile",
    "tag": "check the spelling; GET /users/{user}/tags lists a user's tags",
}


class ApiError(Exception):
    """A failure the HTTP layer itself detects (auth, sizes, disabled writes)."""

    def __init__(self, status: int, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint = status, code, message, hint


def body(code: str, message: str, hint: str = "") -> dict:
    return {"error": {"code": code, "message": message, "hint": hint}}


def _split(text: str) -> tuple[str, str]:
    first = (text.strip().splitlines() or [""])[0]
    message, _, hint = first.partition("; ")
    return message, hint


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def error_response(exc: BaseException) -> JSONResponse:
    """The JSON answer for `exc` (and its log line when it is a bug)."""
    if isinstance(exc, HTTPException) and isinstance(exc.__cause__, ApiError):
        exc = exc.__cause__  # raised while FastAPI read the body (a size limit)
    if isinstance(exc, ApiError):
        status, code, message, hint = exc.status, exc.code, exc.message, exc.hint
    elif isinstance(exc, RequestValidationError):
        status, code = 422, "invalid_parameters"
        message, hint = _validation_message(exc), "see /docs for the parameters"
    elif isinstance(exc, HTTPException):
        status = exc.status_code
        code = {400: "bad_body", 404: "not_found", 405: "method_not_allowed"}.get(
            status, "http_error"
        )
        message, hint = str(exc.detail), "see /docs for the endpoints"
        if status == 400:
            hint = "send a UTF-8 JSON body (or a multipart form for POST /tag)"
    elif isinstance(exc, ModelBundleError):
        status, code = 503, "no_model"
        message, hint = _split(str(exc))
    elif isinstance(exc, UnknownIdError):
        status, code = 404, "not_found"
        message, _ = _split(str(exc))  # the CLI's hint names CLI options
        hint = _ONBOARDING.get(message.split(" ")[1] if message.count(" ") else "", "")
        if exc.suggestions:
            closest = f"did you mean {', '.join(exc.suggestions)}?"
            hint = f"{closest} Otherwise {hint}" if hint else closest
    elif isinstance(exc, AmbiguousNameError):
        status, code = 422, "ambiguous_name"
        message, hint = _split(str(exc))
        hint = f"{hint}: {'; '.join(exc.candidates)}"
    elif isinstance(exc, NoMatchError):
        status, code = 404, "no_match"
        message, hint = _split(str(exc))
        for option, param in (("--any-tag", "any_tag"), ("--include-listened", "include_listened")):
            hint = hint.replace(option, param)  # the CLI's options are query parameters here
    elif isinstance(exc, SchemaVersionError):  # the server's database, not the request
        status, code = 503, "schema_mismatch"
        message, hint = _split(str(exc))
    elif isinstance(exc, AudioDecodeError):
        status, code = 422, "bad_audio"
        message, hint = _split(str(exc))
        hint = hint or "upload a complete WAV, FLAC, Ogg or MP3 file"
    elif isinstance(exc, InputError):
        status, code = 422, "invalid_input"
        message, hint = _split(str(exc))
    elif isinstance(exc, DBAPIError):
        log.error("database error: %s", str(exc.orig).strip() or type(exc.orig).__name__)
        status, code = 503, "database_unavailable"
        message, hint = "the database did not answer", "check RECSYS_DATABASE_URL and the server"
    elif isinstance(exc, RecsysError):
        status, code = 500, "failed"
        message, hint = _split(str(exc))
    else:
        log.exception("unexpected error", exc_info=exc)
        status, code = 500, "internal"
        message, hint = "internal server error", "the server log has the details"
    return JSONResponse(body(code, message, hint), status_code=status)
