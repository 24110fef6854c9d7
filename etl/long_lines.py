"""Lines longer than the CSV parser's block: found while streaming, blanked, quarantined.

pyarrow parses delimited text in blocks of `BLOCK_SIZE` bytes; a row much longer than a
block cannot be parsed ("straddling object straddles two block boundaries") and used to
cost the whole file. No row we load is anywhere near that long (ids are at most 255
characters, text 1024), so such a line is handed to the parser as an empty line - a
blank row, which validation skips, so every later line keeps its number - and is
quarantined as `too_long` with its first bytes as the raw text. The file is never held
in memory for this: the scan rides along the encoding check's chunked read, and the
parser reads the file through `BlankedReader`, which skips the long lines' bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

BLOCK_SIZE = 1 << 24  # the parser's block; a longer line is quarantined unparsed
RAW_PREVIEW_BYTES = 4097  # enough for the rejects table's clipped raw text (4096 + "...")
_WINDOW = BLOCK_SIZE // 2  # any line over BLOCK_SIZE holds a whole aligned window


@dataclass(frozen=True)
class LongLine:
    line: int  # 1-based physical line
    start: int  # offset of its first byte
    end: int  # offset just past its last byte (before the newline, if any)


class LineScanner:
    """Finds lines longer than `limit` bytes in a stream fed chunk by chunk.

    Cheap on ordinary files: per aligned half-limit window one `find` of a newline
    (memchr speed); only a window without any newline gets an exact numpy scan. Every
    chunk but the last must be a multiple of the window size.
    """

    def __init__(self, limit: int = BLOCK_SIZE) -> None:
        self.limit = limit
        self.window = max(limit // 2, 1)
        self.offset = 0  # bytes fed so far
        self.newlines = 0  # newlines fed so far
        self.line_start = 0  # offset where the current (unfinished) line starts
        self.found: list[LongLine] = []

    def feed(self, chunk: bytes | memoryview) -> None:
        data = bytes(chunk) if isinstance(chunk, memoryview) else chunk
        size = len(data)
        suspicious = any(
            data.find(b"\n", i, i + self.window) < 0 for i in range(0, size, self.window)
        )
        if suspicious:
            self._exact(data)
        else:  # every line ending here is short, except perhaps the one carried in
            first = data.find(b"\n")
            self._check(self.newlines + 1, self.line_start, self.offset + first)
            self.newlines += data.count(b"\n")
            self.line_start = self.offset + data.rfind(b"\n") + 1
        self.offset += size

    def finish(self) -> list[LongLine]:
        """The long lines, including a last line without a newline."""
        self._check(self.newlines + 1, self.line_start, self.offset)
        return self.found

    def _exact(self, data: bytes) -> None:
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + self.offset
        if ends.size == 0:
            return
        starts = np.concatenate(([self.line_start], ends[:-1] + 1))
        for k in np.flatnonzero(ends - starts > self.limit).tolist():
            self.found.append(LongLine(self.newlines + k + 1, int(starts[k]), int(ends[k])))
        self.newlines += int(ends.size)
        self.line_start = int(ends[-1]) + 1

    def _check(self, line: int, start: int, end: int) -> None:
        if end - start > self.limit:
            self.found.append(LongLine(line, start, end))


def scan_bytes(data: bytes, limit: int = BLOCK_SIZE) -> list[LongLine]:
    """Long lines of an in-memory file."""
    scanner = LineScanner(limit)
    view = memoryview(data)
    step = scanner.window * 2
    for start in range(0, len(data), step):
        scanner.feed(view[start : start + step])
    return scanner.finish()


def preview(handle: BinaryIO, line: LongLine) -> str:
    """The first bytes of a long line, as text for the rejects table."""
    handle.seek(line.start)
    return (
        handle.read(min(RAW_PREVIEW_BYTES, line.end - line.start)).decode(
            "utf-8", "backslashreplace"
        )
        + "..."
    )


class BlankedReader(io.RawIOBase):
    """`handle` with the bytes of `lines` left out (their newlines stay: empty lines)."""

    def __init__(self, handle: BinaryIO, lines: list[LongLine]) -> None:
        self.handle = handle
        self.skips = sorted((line.start, line.end) for line in lines)
        self.position = 0
        handle.seek(0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self.skips and self.position >= self.skips[0][0]:
            self.position = max(self.position, self.skips.pop(0)[1])
            self.handle.seek(self.position)
        want = len(buffer)
        if self.skips:
            want = min(want, self.skips[0][0] - self.position)
        data = self.handle.read(want)
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)
