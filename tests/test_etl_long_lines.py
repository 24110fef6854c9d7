"""Lines too long for the parser: found exactly, skipped while streaming, rows kept."""

from __future__ import annotations

import io

import pytest

from etl.csv_source import TAG_COLUMNS, check_tags
from etl.long_lines import BlankedReader, LineScanner, LongLine, scan_bytes
from etl.reader import read_table

MB = 1 << 20


def scan(data: bytes, limit: int, chunk: int) -> list[tuple[int, int, int]]:
    scanner = LineScanner(limit)
    for start in range(0, len(data), chunk):
        scanner.feed(data[start : start + chunk])
    return [(x.line, x.start, x.end) for x in scanner.finish()]


@pytest.mark.parametrize("chunk", [8, 16, 64, 1024])  # multiples of the window (limit / 2)
def test_scanner_finds_every_long_line_across_chunks(chunk):
    data = b"ab\n" + b"x" * 20 + b"\nok\n" + b"y" * 9 + b"\n" + b"z" * 30  # no final newline
    # line 2 (20 bytes) and line 5 (30 bytes, last) exceed 8; line 4 (9 bytes) too
    assert scan(data, limit=8, chunk=chunk) == [(2, 3, 23), (4, 27, 36), (5, 37, 67)]


def test_scanner_accepts_lines_at_the_limit_and_blank_reader_skips_long_ones():
    data = b"h\n" + b"a" * 8 + b"\n" + b"b" * 9 + b"\nc\n"
    found = scan_bytes(data, limit=8)
    assert found == [LongLine(3, 11, 20)]
    assert io.BufferedReader(BlankedReader(io.BytesIO(data), found)).read() == b"h\naaaaaaaa\n\nc\n"


def test_a_long_line_inside_a_quoted_value_drops_its_row(tmp_path):
    path = tmp_path / "tags.csv"
    with path.open("wb") as handle:  # row 3 spans lines 3-5, line 4 is 20 MB of NULs
        handle.write(b'user,track,tag\nu1,t1,rock\nu2,t2,"abc\n')
        handle.seek(20 * MB, 1)
        handle.write(b'\nxyz"\nu3,t3,pop\n')
    checked = check_tags(read_table(path, aliases=TAG_COLUMNS, required=["user", "track", "tag"]))
    assert checked.table.column("tag").to_pylist() == ["rock", "pop"]
    assert [(r.line, r.reason) for r in checked.rejects] == [(3, "too_long")]
    assert checked.raw.lines_of(checked.rows).tolist() == [2, 6]
