"""Which audio files recsys opens, and how: the one gate every reader of audio goes through.

Audio paths come from data (a catalogue row, a labels file, a user's argument), so a
path is never trusted: it must resolve (symlinks followed) inside the folder the data
allows (`inside`), only regular files are opened (a device, FIFO or socket never is:
`/dev/zero` would never end, a FIFO would block), and a file larger than the byte cap
(`RECSYS_AUDIO_MAX_BYTES`, default 1 GiB) is refused before a byte of it is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from recommender.core.files import special_kind
from recommender.errors import AudioDecodeError, InputError

MAX_BYTES_ENV = "RECSYS_AUDIO_MAX_BYTES"
DEFAULT_MAX_BYTES = 1 << 30


def max_audio_bytes() -> int:
    """The per-file byte cap: `RECSYS_AUDIO_MAX_BYTES` (a positive integer) or 1 GiB."""
    text = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise InputError(
            f"{MAX_BYTES_ENV}={text[:40]!r} is not a positive number of bytes;"
            f" set e.g. {MAX_BYTES_ENV}={DEFAULT_MAX_BYTES} or unset it"
        )
    return value


def inside(path: str | Path, root: str | Path) -> Path | None:
    """`path` with every symlink resolved, if that lies inside `root` (itself resolved);
    None for anything outside it or that is no path at all (a NUL byte)."""
    text = os.fspath(path)
    if "\x00" in text or "\x00" in os.fspath(root):
        return None
    try:
        resolved = Path(os.path.realpath(text))
        base = Path(os.path.realpath(root))
    except (OSError, ValueError):
        return None
    return resolved if resolved.is_relative_to(base) else None


def open_audio(
    path: str | Path, *, max_bytes: int | None = None, follow_symlinks: bool = True
) -> BinaryIO:
    """Open `path` for reading if it is a regular file of at most `max_bytes` (default: the
    configured cap); AudioDecodeError (naming the file) otherwise, before anything is read.

    Without `follow_symlinks`, a symlink as the last component is refused too.
    """
    limit = max_audio_bytes() if max_bytes is None else max_bytes
    try:
        info = os.stat(path, follow_symlinks=follow_symlinks)
    except FileNotFoundError:
        raise AudioDecodeError(f"{path}: no such audio file") from None
    except (OSError, ValueError) as exc:
        raise AudioDecodeError(f"{path}: cannot read ({_reason(exc)})") from None
    _check(path, info, limit)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise AudioDecodeError(f"{path}: cannot read ({_reason(exc)})") from None
    try:
        _check(path, os.fstat(fd), limit)  # what was opened, should it have changed since
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check(path: str | Path, info: os.stat_result, limit: int) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise AudioDecodeError(f"{path}: a symlink; audio is read only from the file itself")
    if not stat.S_ISREG(info.st_mode):
        kind = special_kind(info.st_mode) or "not a plain file"
        raise AudioDecodeError(f"{path}: not a regular file ({kind}); it is never read")
    if info.st_size > limit:
        raise AudioDecodeError(
            f"{path}: {info.st_size:,} bytes, over the {limit:,}-byte cap per audio file"
            f" (raise {MAX_BYTES_ENV} to read it)"
        )


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
