"""The labels file of `recsys etl demo --audio-dir DIR`: which recordings, with what true tags.

Contract: `DIR/labels.csv`, UTF-8, comma-separated, with a header row.

- `path` (required): the audio file, relative to DIR (or absolute), inside DIR once
  symlinks are resolved (it is the demo's audio root). Every audio
  file under DIR needs a row, and no file may be listed twice.
- `artist`, `title` (optional): catalogue fields. Without `artist`, each run of
  `ARTIST_RUN` neighbouring files (in path order) with the same first label is
  taken as one artist: collections such as GTZAN number an artist's clips
  consecutively, and the artist is what a grouped evaluation keeps together.
  Without `title`, the file name (without its suffix) is the title.
- Every other column is a label column (at least one), e.g. `genre`, `mood` or
  `tags`; a cell holds one value or several separated by `;` (`rock;guitar`), or
  is empty. Values are normalised like crowd tags (case, whitespace). A label
  may not be one of the noise tags (`etl.demo_world.UNINFORMATIVE`) nor appear
  in two columns, and every row needs at least one label.

Any violation is a `DataFileError` of one line naming the file and line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from etl.demo_world import UNINFORMATIVE
from recommender.core.files import regular_file
from recommender.errors import DataFileError, shown
from recommender.tagging.genre_data import AUDIO_SUFFIXES
from recommender.tags.normalize import normalize_tag

LABELS_FILE = "labels.csv"
ARTIST_RUN = 5
RESERVED = ("path", "artist", "title")
CONTRACT = (
    "path and one or more label columns (e.g. path,genre, or path,tags with ;-separated tags)"
)


@dataclass(frozen=True)
class LabelledAudio:
    """Labelled recordings in path order (the order of the demo's track ids)."""

    directory: Path
    labels_file: Path
    paths: list[Path]  # absolute
    relative: list[str]  # as written in the labels file
    titles: list[str]
    artists: list[str]
    columns: dict[str, tuple[str, ...]]  # label column -> its distinct values, sorted
    labels: list[dict[str, tuple[str, ...]]]  # per file: label column -> its values
    artist_source: str  # "column" or how artists were derived


def read_labelled_audio(directory: Path, *, min_files: int = 1) -> LabelledAudio:
    """Read and check `directory/labels.csv` against the files under `directory`."""
    directory = Path(directory).expanduser().absolute()
    if not directory.is_dir():
        raise DataFileError(f"--audio-dir {directory}: no such folder")
    source = directory / LABELS_FILE
    if not source.exists():
        raise DataFileError(f"{source}: no labels file; --audio-dir needs one with {CONTRACT}")
    regular_file(source, "labels file")
    header, rows = _read_rows(source)
    where = f"{source}:1"
    names = [normalize_tag(name) for name in header]
    if "path" not in names:
        raise DataFileError(
            f"{where}: no 'path' column (header: {','.join(header)}); need {CONTRACT}"
        )
    seen: set[str] = set()
    for name in names:
        if not name:
            raise DataFileError(f"{where}: an empty column name; need {CONTRACT}")
        if name in seen:
            raise DataFileError(f"{where}: column {shown(name)} appears twice")
        seen.add(name)
    label_columns = [name for name in names if name not in RESERVED]
    if not label_columns:
        raise DataFileError(
            f"{where}: no label column besides {'/'.join(RESERVED)}; need {CONTRACT}"
        )

    noise = UNINFORMATIVE
    column_of: dict[str, str] = {}  # label value -> the column it was first seen in
    records: list[tuple[str, Path, dict[str, str], dict[str, tuple[str, ...]]]] = []
    by_path: dict[Path, int] = {}
    for line, fields in rows:
        where = f"{source}:{line}"
        if len(fields) != len(names):
            raise DataFileError(
                f"{where}: {len(fields)} fields, expected {len(names)} ({','.join(names)})"
            )
        row = dict(zip(names, fields, strict=True))
        relative = row["path"].strip()
        if not relative:
            raise DataFileError(f"{where}: empty path")
        path = (directory / relative).resolve()
        if not path.is_relative_to(directory.resolve()):
            raise DataFileError(
                f"{where}: {relative!r} resolves to {path}, outside {directory};"
                " every labelled file must be inside the audio folder"
            )
        if not path.is_file():
            raise DataFileError(
                f"{where}: audio file {shown(relative)} not found under {directory}"
            )
        if path in by_path:
            raise DataFileError(
                f"{where}: {shown(relative)} is listed twice (also line {by_path[path]})"
            )
        by_path[path] = line
        labels: dict[str, tuple[str, ...]] = {}
        for column in label_columns:
            values = tuple(
                dict.fromkeys(v for v in map(normalize_tag, row[column].split(";")) if v)
            )
            for value in values:
                if value in noise:
                    raise DataFileError(
                        f"{where}: label {shown(value)} is one of the noise tags"
                        f" ({', '.join(noise)})"
                    )
                first = column_of.setdefault(value, column)
                if first != column:
                    raise DataFileError(
                        f"{where}: label {shown(value)} is in columns {shown(first)}"
                        f" and {shown(column)};"
                        " a tag belongs to one column"
                    )
            labels[column] = values
        if not any(labels.values()):
            raise DataFileError(f"{where}: {shown(relative)} has no label")
        records.append((relative, path, row, labels))

    if len(records) < min_files:
        raise DataFileError(f"{source}: {len(records)} labelled files; at least {min_files} needed")
    unlisted = sorted(
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file() and p.resolve() not in by_path
    )
    if unlisted:
        raise DataFileError(
            f"{source}: {len(unlisted)} audio file(s) under {directory} have no row,"
            f" e.g. {shown(unlisted[0])}; every audio file needs its labels"
        )

    records.sort(key=lambda record: (record[1].as_posix(), record[0]))
    has_artist = "artist" in names
    first_column = label_columns[0]
    artists = (
        [record[2]["artist"].strip() for record in records]
        if has_artist
        else _artist_runs([record[3][first_column] for record in records])
    )
    return LabelledAudio(
        directory=directory,
        labels_file=source,
        paths=[record[1] for record in records],
        relative=[record[0] for record in records],
        titles=[(record[2].get("title") or "").strip() or record[1].stem for record in records],
        artists=artists,
        columns={
            column: tuple(sorted({v for record in records for v in record[3][column]}))
            for column in label_columns
        },
        labels=[record[3] for record in records],
        artist_source="column"
        if has_artist
        else f"runs of {ARTIST_RUN} neighbouring files with the same {first_column}",
    )


def _read_rows(source: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line number, fields)]) of a UTF-8 CSV; blank lines skipped."""
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise DataFileError(f"{source}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataFileError(f"{source}:{line}: not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    try:
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue
            if header is None:
                header = fields
            else:
                rows.append((reader.line_num, fields))
    except csv.Error as exc:
        raise DataFileError(f"{source}:{reader.line_num}: malformed CSV: {exc}") from None
    if header is None:
        raise DataFileError(f"{source}:1: empty; need a header with {CONTRACT}")
    return header, rows


def _artist_runs(primary: list[tuple[str, ...]]) -> list[str]:
    """Pseudo-artists: runs of ARTIST_RUN consecutive files sharing their first label."""
    artists: list[str] = []
    counters: dict[tuple[str, ...], int] = {}
    run_length = 0
    for i, key in enumerate(primary):
        if i == 0 or key != primary[i - 1] or run_length == ARTIST_RUN:
            counters[key] = counters.get(key, 0) + 1
            run_length = 0
        run_length += 1
        artists.append(f"{'/'.join(key) or 'unlabelled'} artist {counters[key]}")
    return artists
