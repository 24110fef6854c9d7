"""Delimited text and Parquet files -> an Arrow table of string columns, with line numbers.

Columns are found by header name (case-insensitive, with a few common aliases), every
value is read as a string (validation decides what is a number), and rows with the
wrong number of fields are set aside with their 1-based physical line by pyarrow's
`invalid_row_handler` (serial parsing, which is what makes the line numbers exact).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from etl.encoding import DecodedFile, decode_file
from etl.long_lines import BLOCK_SIZE, BlankedReader, preview
from recommender.core.files import regular_file
from recommender.errors import DataFileError, shown

PARQUET_SUFFIXES = (".parquet", ".pq")
_DELIMITER_CANDIDATES = (",", "\t", ";", "|")


@dataclass
class StructuralReject:
    line: int
    reason: str  # wrong_column_count | undecodable_text | too_long
    raw: str


@dataclass
class RawTable:
    """One input file as strings, plus what the parser already had to reject."""

    path: Path
    table: pa.Table  # canonical column names, all string
    encoding: str
    delimiter: str
    first_line: int  # physical line of table row 0
    skipped_lines: np.ndarray  # sorted physical lines the parser dropped (no table row)
    rejects: list[StructuralReject] = field(default_factory=list)
    # per table row, line breaks inside its quoted values (None: there are none)
    extra_lines: np.ndarray | None = None
    # table rows that lost a too-long line inside a quoted value: already rejected, so
    # validation treats them like blank rows (etl.long_lines)
    dropped_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def lines_of(self, rows: np.ndarray) -> np.ndarray:
        """Physical 1-based line numbers of table rows (vectorised).

        Row r starts `first_line + r + E(r)` lines in, E(r) being the quoted line
        breaks of the rows before it, plus the parser-skipped rows before it: the
        k-th skipped row (logical number N_k) sits before table row `N_k - first_line - k`.
        """
        rows = np.asarray(rows, dtype=np.int64)
        lines = rows + self.first_line + self._breaks_before(rows)
        if self.skipped_lines.size:
            lines = lines + np.searchsorted(self._skipped_positions(), rows, side="right")
        return lines

    def physical_skipped_line(self, logical: int) -> int:
        """The physical line of a row the parser skipped, from its logical row number."""
        position = int(np.searchsorted(self.skipped_lines, logical))
        before_row = logical - self.first_line - position
        return logical + int(self._breaks_before(np.array([before_row]))[0])

    def _skipped_positions(self) -> np.ndarray:
        return self.skipped_lines - self.first_line - np.arange(self.skipped_lines.size)

    def _breaks_before(self, rows: np.ndarray) -> np.ndarray:
        if self.extra_lines is None:
            return np.zeros(len(rows), dtype=np.int64)
        cumulative = np.concatenate(([0], np.cumsum(self.extra_lines)))
        return cumulative[np.clip(rows, 0, len(self.extra_lines))]


def _check_readable(path: Path) -> None:
    regular_file(path)


def _sniff_delimiter(header: str, path: Path) -> str:
    counts = {d: header.count(d) for d in _DELIMITER_CANDIDATES}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        return ","  # single-column file: the column check will explain what is missing
    return best


def _map_columns(
    names: Sequence[str], aliases: Mapping[str, Sequence[str]], required: Sequence[str], path: Path
) -> dict[str, str]:
    """{canonical name: name in file} for the columns we know, erroring on missing ones."""
    lowered = {n.strip().lstrip("\ufeff").lower(): n for n in names}
    found: dict[str, str] = {}
    for canonical, options in aliases.items():
        for option in (canonical, *options):
            if option.lower() in lowered:
                found[canonical] = lowered[option.lower()]
                break
    missing = [c for c in required if c not in found]
    if missing:
        raise DataFileError(
            f"{path}: line 1: header {list(names)} lacks column(s) {missing}; "
            "a header row naming the columns is required"
        )
    return found


def read_table(
    path: Path,
    *,
    aliases: Mapping[str, Sequence[str]],
    required: Sequence[str],
    delimiter: str | None = None,
    quoting: bool = True,
    encoding: str | None = None,
    dictionary: Sequence[str] = (),
) -> RawTable:
    """Read `path` (CSV/TSV by content, Parquet by extension) into canonical string columns.

    Columns named in `dictionary` (ids: few distinct values, many rows) come back
    dictionary-encoded, which cuts memory several-fold and lets validation look at each
    distinct value once.
    """
    _check_readable(path)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        raw = _read_parquet(path, aliases=aliases, required=required)
    else:
        raw = _read_delimited(
            path,
            aliases=aliases,
            required=required,
            delimiter=delimiter,
            quoting=quoting,
            encoding=encoding,
            dictionary=dictionary,
        )
    if dictionary and raw.table.num_rows:
        columns = [
            raw.table.column(n).dictionary_encode()
            if n in dictionary and not pa.types.is_dictionary(raw.table.column(n).type)
            else raw.table.column(n)
            for n in raw.table.column_names
        ]
        raw.table = (
            pa.table(columns, names=raw.table.column_names).unify_dictionaries().combine_chunks()
        )
    return raw


def _read_parquet(path: Path, *, aliases, required) -> RawTable:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        columns = _map_columns(schema.names, aliases, required, path)
        table = pq.read_table(path, columns=list(columns.values()))
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataFileError(f"{path}: not a readable Parquet file ({exc})") from None
    arrays = [table.column(src).cast(pa.string()) for src in columns.values()]
    return RawTable(
        path=path,
        table=pa.table(arrays, names=list(columns)),
        encoding="parquet",
        delimiter="",
        first_line=1,  # Parquet has no lines: "line" is the 1-based row number
        skipped_lines=np.empty(0, dtype=np.int64),
    )


def _read_delimited(
    path, *, aliases, required, delimiter, quoting, encoding, dictionary
) -> RawTable:
    import pyarrow.csv as pcsv

    decoded = decode_file(path, encoding=encoding)
    if decoded.long_lines and decoded.long_lines[0].line == 1:
        raise DataFileError(
            f"{path}: line 1 is over {BLOCK_SIZE >> 20} MiB; "
            "a header row naming the columns is required"
        )
    if decoded.data is not None:
        source = decoded.data[:65536]
    else:
        with path.open("rb") as handle:
            source = handle.read(65536)
    header_bytes = source.split(b"\n", 1)[0].rstrip(b"\r")
    header = header_bytes.decode("utf-8", "replace").lstrip("\ufeff")
    if not header.strip():
        raise DataFileError(f"{path}: line 1 is empty; a header row naming the columns is required")
    delim = delimiter or _sniff_delimiter(header, path)
    if len(delim) != 1:
        raise DataFileError(
            f"delimiter {shown(delim)} must be a single character (e.g. ',' or '\\t')"
        )
    names = [n.strip().strip('"') for n in header.split(delim)]
    columns = _map_columns(names, aliases, required, path)
    # Unique placeholder names keep duplicate/blank header cells from confusing pyarrow.
    placeholders = [f"c{i}" for i in range(len(names))]
    wanted = {canonical: placeholders[names.index(src)] for canonical, src in columns.items()}

    invalid: list[tuple[int, str]] = []

    def on_invalid(row) -> str:
        invalid.append((row.number, row.text))
        return "skip"

    read_options = pcsv.ReadOptions(
        use_threads=False, skip_rows=1, column_names=placeholders, block_size=BLOCK_SIZE
    )
    parse_options = pcsv.ParseOptions(
        delimiter=delim,
        quote_char='"' if quoting else False,
        ignore_empty_lines=False,
        invalid_row_handler=on_invalid,
    )
    convert_options = pcsv.ConvertOptions(
        include_columns=list(wanted.values()),
        column_types={
            p: pa.dictionary(pa.int32(), pa.string()) if c in dictionary else pa.string()
            for c, p in wanted.items()
        },
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    with ExitStack() as stack:
        stream, long_rejects = _parser_input(decoded, stack)
        try:
            table = pcsv.read_csv(stream, read_options, parse_options, convert_options)
        except pa.ArrowInvalid as exc:
            raise DataFileError(f"{path}: cannot parse as delimited text ({exc})") from None
    table = pa.table([table.column(p) for p in wanted.values()], names=list(wanted))
    # With serial parsing pyarrow numbers rows from the header (1), so exactly.
    skipped = np.array(sorted(n for n, _ in invalid), dtype=np.int64)
    rejects = [StructuralReject(line, "undecodable_text", raw) for line, raw in decoded.undecodable]
    raw = RawTable(
        path=path,
        table=table,
        encoding=decoded.encoding,
        delimiter=delim,
        first_line=2,
        skipped_lines=skipped,
        extra_lines=_quoted_line_breaks(table) if quoting else None,
    )
    if long_rejects:
        long_rejects = _attach_to_rows(raw, long_rejects)
    # pyarrow numbers skipped rows logically (a quoted line break does not count)
    raw.rejects = rejects + long_rejects + [
        StructuralReject(raw.physical_skipped_line(n), "wrong_column_count", text)
        for n, text in invalid
    ]
    return raw


def _parser_input(decoded: DecodedFile, stack: ExitStack) -> tuple[object, list[StructuralReject]]:
    """What pyarrow reads: the file (or its transcoded bytes) without too-long lines.

    Each too-long line is read as an empty line (a blank row, skipped by validation)
    and becomes a `too_long` reject with the start of its text.
    """
    if decoded.data is not None:
        if not decoded.long_lines:
            return io.BytesIO(decoded.data), []
        handle: BinaryIO = io.BytesIO(decoded.data)
    elif not decoded.long_lines:
        return str(decoded.path), []
    else:
        handle = stack.enter_context(decoded.path.open("rb"))
    rejects = [
        StructuralReject(line.line, "too_long", preview(handle, line))
        for line in decoded.long_lines
    ]
    return io.BufferedReader(BlankedReader(handle, decoded.long_lines), 1 << 20), rejects


def _attach_to_rows(raw: RawTable, rejects: list[StructuralReject]) -> list[StructuralReject]:
    """Move a too-long line inside a quoted multi-line value to the row it belongs to.

    Its blanking shortened that row's value, so the row must not load: it is dropped
    and the reject names the line where the row starts.
    """
    if raw.extra_lines is None:
        return rejects
    starts = raw.lines_of(np.arange(raw.table.num_rows))
    moved, dropped = [], []
    for reject in rejects:
        row = int(np.searchsorted(starts, reject.line, side="right")) - 1
        if row >= 0 and starts[row] < reject.line <= starts[row] + raw.extra_lines[row]:
            dropped.append(row)
            reject = StructuralReject(int(starts[row]), reject.reason, reject.raw)
        moved.append(reject)
    raw.dropped_rows = np.array(dropped, dtype=np.int64)
    return moved


def _quoted_line_breaks(table: pa.Table) -> np.ndarray | None:
    """Line breaks inside each row's values (only quoted values can hold them)."""
    import pyarrow.compute as pc

    counts = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.cast(pa.string())
        counts += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False).astype(np.int64)
    return counts if counts.any() else None
