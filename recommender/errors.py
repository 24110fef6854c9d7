"""One exception hierarchy for everything a user can cause or fix.

The CLI turns a `RecsysError` into one line on stderr and its `exit_code`;
anything else is a bug and exits 1. Messages echo user values through `shown` (clipped).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class RecsysError(Exception):
    """A failure the user can understand and act on (exit code 1)."""

    exit_code = 1


class InputError(RecsysError):
    """Bad usage or bad input: a missing file, an unknown id, a malformed value (exit 2)."""

    exit_code = 2


class DataFileError(InputError):
    """A data file or directory is missing, unreadable or not in the expected format."""


class UnknownIdError(InputError):
    """A user, track or tag id that the database or model does not know. `suggestions`:
    the closest names or ids it does know (the message says them too)."""

    def __init__(self, message: str, *, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.suggestions = tuple(suggestions)


class AmbiguousNameError(InputError):
    """A name that several items carry: `candidates` are one line each ("id  name"), which
    the CLI prints under the error and the server puts in the hint."""

    def __init__(self, message: str, *, candidates: tuple[str, ...]) -> None:
        super().__init__(message)
        self.candidates = tuple(candidates)


class NoMatchError(InputError):
    """A tag filter that leaves nothing to list: the message says why and what to try."""


class AudioDecodeError(InputError):
    """An audio file that cannot be decoded (empty, truncated, not audio, silent)."""


class DatabaseBusyError(InputError):
    """Another writer (a load, most often) kept the SQLite database locked for longer than
    the lock wait (RECSYS_LOCK_TIMEOUT seconds, default 30): wait and run it again."""


class ModelBundleError(InputError):
    """A model bundle that is missing, incomplete or corrupt; the fix is `recsys train`."""


class SchemaVersionError(InputError):
    """A database whose schema revision is not this recsys's: older (the fix is `recsys db
    upgrade`) or newer (the fix is a newer recsys). The message names the command."""


class RecsysWarning(UserWarning):
    """A notice the user should see once (e.g. a fallback was used); the CLI prints it as
    one `warning: ...` line on stderr. Core code warns, it never prints."""


class NoSpaceError(RecsysError):
    """The disk (or quota, or file-size limit) ran out while writing: not the input's fault
    and not a bug; the fix is to free space and rerun (exit 1)."""


CLIP = 80
_NO_SPACE = {"ENOSPC", "EDQUOT", "EFBIG"}  # full disk, quota, RLIMIT_FSIZE / file too big


def shown(value: object, limit: int = CLIP) -> str:
    """`value` as an error message echoes it: quoted (control characters escaped), and
    clipped to `limit` characters with an ellipsis, so a 100 KB id stays one short line."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"


def is_no_space(exc: BaseException) -> bool:
    """Whether `exc` is an OSError saying the disk, a quota or a size limit is full."""
    import errno

    return isinstance(exc, OSError) and errno.errorcode.get(exc.errno or 0) in _NO_SPACE


@contextmanager
def writing(what: str) -> Iterator[None]:
    """Turn a full disk while writing `what` (e.g. "the model to DIR") into one line."""
    try:
        yield
    except OSError as exc:
        if is_no_space(exc):
            raise NoSpaceError(
                f"no space left on device writing {what}; free space and rerun"
            ) from exc
        raise
