"""What a path given as input is, before it is opened: a regular file, or something that
must never be read as data (a directory, a device that never ends, a FIFO that blocks)."""

from __future__ import annotations

import stat
from pathlib import Path

from recommender.errors import DataFileError


def special_kind(mode: int) -> str | None:
    """ "a directory", "a device", "a FIFO (named pipe)", "a socket" for a `st_mode` that is
    not a regular file's (None for a regular file or a symlink, which stat follows)."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None


def file_problem(path: Path, what: str = "file") -> str | None:
    """What is wrong with `path` as an input `what` (missing, a directory, a device, a FIFO,
    a socket, unreadable), or None for a readable regular file. Never "not found" for
    something that exists; a device or FIFO is never opened (it could block or never end)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"{what} not found; check the path"
    except OSError as exc:
        return f"cannot read ({exc.strerror}); check permissions"
    kind = special_kind(mode)
    if kind is not None:
        return f"is {kind}, give a regular {what}"
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        return f"cannot read ({exc.strerror}); check permissions"
    return None


def regular_file(path: Path, what: str = "file") -> Path:
    """`path` if it is a readable regular file, else a DataFileError saying what it is."""
    problem = file_problem(Path(path), what)
    if problem is not None:
        raise DataFileError(f"{path}: {problem}")
    return Path(path)
