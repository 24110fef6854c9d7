"""Text encoding of input files: UTF-8, or Latin-1 for a whole file that is not UTF-8.

A file that is valid UTF-8 is streamed to the parser untouched (checked in chunks, so a
multi-gigabyte log is never held twice). Otherwise the file is read once and classified
line by line: if most of its non-ASCII lines are not UTF-8 it is a legacy Latin-1 file
(like HetRec's tags.dat) and is transcoded whole; if it is a UTF-8 file with a few broken
lines, only those lines are blanked out and reported as `undecodable_text`, keeping the
physical line numbering of everything else intact. Lines too long to parse are found
in the same pass (etl.long_lines).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path

from etl.long_lines import LineScanner, LongLine, scan_bytes

_CHUNK = 16 * 1024 * 1024


@dataclass
class DecodedFile:
    path: Path
    encoding: str  # "utf-8" or "latin-1"
    # UTF-8 bytes to parse instead of the file (None: parse the file itself, it is clean UTF-8).
    data: bytes | None = None
    # (1-based physical line, raw text with undecodable bytes escaped) of blanked lines.
    undecodable: list[tuple[int, str]] = field(default_factory=list)
    # Lines of the bytes to parse that are too long for the parser (etl.long_lines).
    long_lines: list[LongLine] = field(default_factory=list)


def _is_utf8(path: Path, scanner: LineScanner) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
                scanner.feed(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def decode_file(path: Path, *, encoding: str | None = None) -> DecodedFile:
    """Detect the encoding of `path` (or force `encoding`) and return parseable UTF-8."""
    decoded = _decode(path, encoding)
    if decoded.data is not None:
        decoded.long_lines = scan_bytes(decoded.data)
    return decoded


def _decode(path: Path, encoding: str | None) -> DecodedFile:
    if encoding is not None and codecs.lookup(encoding).name != "utf-8":
        return DecodedFile(path, encoding, path.read_bytes().decode(encoding).encode("utf-8"))
    scanner = LineScanner()
    if _is_utf8(path, scanner):
        return DecodedFile(path, "utf-8", long_lines=scanner.finish())
    raw = path.read_bytes()
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    lines = raw.split(b"\n")
    bad: list[int] = []
    good_non_ascii = 0
    for index, line in enumerate(lines):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            good_non_ascii += 1
        except UnicodeDecodeError:
            bad.append(index)
    if encoding is None and len(bad) > good_non_ascii:
        return DecodedFile(path, "latin-1", raw.decode("latin-1").encode("utf-8"))
    undecodable = [(i + 1, lines[i].decode("utf-8", "backslashreplace").rstrip("\r")) for i in bad]
    for i in bad:
        lines[i] = b""
    return DecodedFile(path, "utf-8", b"\n".join(lines), undecodable)
