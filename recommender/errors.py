"""One exception hierarchy for everything a user can cause or fix.

The CLI turns a `RecsysError` into one line on stderr and its `exit_code`;
anything else is a bug and exits 1.
"""


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


class ModelBundleError(InputError):
    """A model bundle that is missing, incomplete or corrupt; the fix is `recsys train`."""


class SchemaVersionError(InputError):
    """A database whose schema revision is not this recsys's: older (the fix is `recsys db
    upgrade`) or newer (the fix is a newer recsys). The message names the command."""


class RecsysWarning(UserWarning):
    """A notice the user should see once (e.g. a fallback was used); the CLI prints it as
    one `warning: ...` line on stderr. Core code warns, it never prints."""
