"""Vectorised row checks: each row gets the first reason it fails, good rows go on.

Checks run over whole Arrow columns (no per-row Python); only the rejected rows -
normally a handful - are materialised for the `rejects` table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl.normalize import normalize_tags
from etl.reader import RawTable

_INT_PATTERN = r"^\s*\+?[0-9]{1,18}\s*$"
_SIGNED_INT_PATTERN = r"^\s*[-+]?[0-9]{1,18}\s*$"


@dataclass
class Reject:
    file: str
    line: int
    reason: str
    raw: str | None


@dataclass
class Checked:
    """The rows of one file that passed every check, plus the rejects of that file."""

    table: pa.Table
    rows: np.ndarray  # index of each kept row in the raw table (for later checks)
    raw: RawTable
    rejects: list[Reject] = field(default_factory=list)
    # kept rows quarantined in part (e.g. a catalogue row whose audio file is missing):
    # they load, and they are also reported, with their file and line, in `rejects`
    flagged: list[Reject] = field(default_factory=list)

    def reject(self, mask: np.ndarray, reason: str) -> tuple[pa.Table, list[Reject]]:
        """Set aside kept rows failing a check that needed the database (e.g. unknown_track)."""
        found = self.flag(mask, reason)
        if not found:
            return self.table, []
        return self.table.filter(pa.array(~mask)), found

    def flag(self, mask: np.ndarray, reason: str) -> list[Reject]:
        """A Reject (file, physical line, raw text) for each kept row in `mask`."""
        bad = np.nonzero(mask)[0]
        if bad.size == 0:
            return []
        raw_rows = self.raw.table.take(pa.array(self.rows[bad])).to_pylist()
        sep = self.raw.delimiter or ","
        return [
            Reject(str(self.raw.path), line, reason, sep.join(row.values()))
            for line, row in zip(self.raw.lines_of(self.rows[bad]).tolist(), raw_rows, strict=True)
        ]


class RowChecks:
    """Accumulate failure masks over one RawTable; first failing check wins."""

    def __init__(self, raw: RawTable) -> None:
        self.raw = raw
        self.n = raw.table.num_rows
        self.reason = np.zeros(self.n, dtype=np.int16)  # 0 = ok
        self.codes: list[str] = [""]
        self.values: dict[str, pa.Array] = {}
        # A line with only delimiters or nothing at all is padding, not data.
        blank = np.ones(self.n, dtype=bool)
        for name in raw.table.column_names:
            blank &= _per_row(raw.table.column(name), lambda v: _np(pc.binary_length(v)) == 0)
        blank[raw.dropped_rows] = True  # rejected by the reader already
        self.blank = blank

    def fail(self, mask: np.ndarray, reason: str) -> None:
        if reason not in self.codes:
            self.codes.append(reason)
        code = self.codes.index(reason)
        self.reason[(self.reason == 0) & mask & ~self.blank] = code

    def column(self, name: str) -> pa.Array:
        return _flat(self.raw.table.column(name))

    def ids(self, name: str, *, max_length: int) -> pa.Array:
        """Stripped external ids; empty, too long or with a line break fails (see the reasons).

        Dictionary-encoded columns are checked once per distinct value.
        """
        column = self.column(name)
        if pa.types.is_dictionary(column.type):
            values = pc.utf8_trim_whitespace(column.dictionary)
            lengths = _char_lengths(values, max_length)
            indices = column.indices.to_numpy(zero_copy_only=False)
            self.fail(_has_nul(values)[indices], "undecodable_text")
            self.fail(_has_line_break(values)[indices], "line_break_in_id")
            self.fail(lengths[indices] == 0, "empty_id")
            self.fail(lengths[indices] > max_length, "too_long")
            return pa.DictionaryArray.from_arrays(column.indices, values)
        values = pc.utf8_trim_whitespace(column)
        lengths = _char_lengths(values, max_length)
        self.fail(_has_nul(values), "undecodable_text")
        self.fail(_has_line_break(values), "line_break_in_id")
        self.fail(lengths == 0, "empty_id")
        self.fail(lengths > max_length, "too_long")
        return values

    def text(self, name: str, *, max_length: int) -> pa.Array:
        """Optional free text (titles, names, paths): empty -> null, too long -> too_long.

        A value with a NUL byte fails and comes back null, so later per-value work on
        the column (resolving audio paths) never meets a NUL ("embedded null byte").
        """
        values = pc.utf8_trim_whitespace(self.column(name))
        lengths = _char_lengths(values, max_length)
        nul = _has_nul(values)
        self.fail(nul, "undecodable_text")
        self.fail(lengths > max_length, "too_long")
        empty = pc.or_(pc.equal(lengths, 0), pa.array(nul))
        return pc.if_else(empty, pa.scalar(None, pa.string()), values)

    def tags(self, name: str, *, max_length: int) -> pa.Array:
        """Tag names spelled by `normalize_tag`, checked once per distinct value.

        NUL fails before normalising (it would otherwise be dropped as an invisible
        control character, hiding a corrupt field); a tag that is blank or only
        invisible characters normalises to "" and fails as empty_tag.
        """
        column = self.column(name)
        self.fail(_per_row(column, _has_nul), "undecodable_text")
        values = normalize_tags(column)
        lengths = _np(pc.utf8_length(values))
        self.fail(lengths == 0, "empty_tag")
        self.fail(lengths > max_length, "too_long")
        return values

    def positive_ints(self, name: str, *, reason: str = "bad_count") -> np.ndarray:
        """Strictly positive integers; anything else fails with `reason` (value 0 where bad)."""
        values, ok = _parse_ints(self.column(name), pattern=_INT_PATTERN)
        ok &= values > 0
        self.fail(~ok, reason)
        return np.where(ok, values, 0)

    def timestamps(self, name: str) -> np.ndarray:
        """Unix seconds, or ISO-8601 (with or without zone; naive means UTC) -> Unix seconds."""
        column = self.column(name)
        values, ok = _parse_ints(column, pattern=_SIGNED_INT_PATTERN)
        rest = np.nonzero(~ok)[0]
        if rest.size:
            import pandas as pd

            text = pd.Series(column.take(pa.array(rest)).to_pylist(), dtype="object")
            parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
            good = parsed.notna().to_numpy()
            seconds = parsed[good].to_numpy(dtype="datetime64[s]").astype(np.int64)
            values[rest[good]] = seconds
            ok[rest[good]] = True
        self.fail(~ok, "bad_timestamp")
        return values

    def result(self, names: dict[str, pa.Array | np.ndarray]) -> Checked:
        """Keep the rows that passed; materialise rejects with their physical lines."""
        keep = (self.reason == 0) & ~self.blank
        rows = np.nonzero(keep)[0]
        table = pa.table({k: _take(v, rows) for k, v in names.items()})
        bad = np.nonzero(self.reason != 0)[0]
        rejects = []
        if bad.size:
            lines = self.raw.lines_of(bad)
            raw_rows = self.raw.table.take(pa.array(bad)).to_pylist()
            file = str(self.raw.path)
            sep = self.raw.delimiter or ","
            for line, code, row in zip(
                lines.tolist(), self.reason[bad].tolist(), raw_rows, strict=True
            ):
                rejects.append(Reject(file, line, self.codes[code], sep.join(row.values())))
        rejects += [Reject(str(self.raw.path), r.line, r.reason, r.raw) for r in self.raw.rejects]
        return Checked(table=table, rows=rows, raw=self.raw, rejects=rejects)


def _per_row(column, fn) -> np.ndarray:
    """fn(values) -> numpy per row; for dictionary columns evaluated per distinct value."""
    column = _flat(column)
    if pa.types.is_dictionary(column.type):
        return fn(column.dictionary)[column.indices.to_numpy(zero_copy_only=False)]
    return fn(column)


def _char_lengths(values: pa.Array, max_length: int) -> np.ndarray:
    """Character lengths, exact where it matters: bytes >= characters, so only long values pay."""
    lengths = _np(pc.binary_length(values))
    if (lengths > max_length).any():
        lengths = _np(pc.utf8_length(values))
    return lengths


def _has_nul(values: pa.Array) -> np.ndarray:
    # NUL is valid UTF-8 but no database text column accepts it.
    return _np(pc.match_substring(values, "\x00"))


def _has_line_break(values: pa.Array) -> np.ndarray:
    # A quoted id spanning lines is almost always a broken quote, never a real id.
    return _np(pc.match_substring_regex(values, "[\r\n]"))


def _flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _np(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return _flat(values).to_numpy(zero_copy_only=False)


def _take(values: pa.Array | np.ndarray, rows: np.ndarray):
    if isinstance(values, np.ndarray):
        return pa.array(values[rows])
    return values.take(pa.array(rows, type=pa.int64()))


def _parse_ints(column: pa.Array, *, pattern: str) -> tuple[np.ndarray, np.ndarray]:
    """int64 values and an ok-mask; the all-good case costs one cast."""
    try:
        values = pc.cast(pc.utf8_trim_whitespace(column), pa.int64())
        return values.to_numpy(zero_copy_only=False).copy(), np.ones(len(column), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    ok = _np(pc.match_substring_regex(column, pattern))
    trimmed = pc.replace_substring_regex(pc.utf8_trim_whitespace(column), r"^\+", "")
    cleaned = pc.if_else(pa.array(ok), trimmed, pa.scalar("0"))
    values = pc.cast(cleaned, pa.int64()).to_numpy(zero_copy_only=False).copy()
    return values, ok
