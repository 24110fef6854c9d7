"""Generic CSV/TSV/Parquet source: listens (counts or events), tags, catalogue.

Files need a header row; columns are found by name (see the alias tables below), the
delimiter is sniffed from the header unless given. Listens are counts
(`user,track,count`) or play events (`user,track,timestamp`, Unix seconds or ISO-8601):
events are kept in `listen_events` and aggregated into `listens`. Tag rows whose track
is in neither the catalogue, the listens nor the database are rejected as
`unknown_track`; users are created from any file.

Catalogue `audio_path`s resolve against the audio root: the configured one
(`RECSYS_AUDIO_ROOT`, `Settings.audio_root`) or else the catalogue file's own folder.
They are stored absolute with every symlink resolved, and a path that resolves outside
the root (`../../etc/passwd`, `/dev/zero`, a symlink pointing out) is quarantined as
`audio_outside_root`, its track not loaded; the scan (etl.audio_scan) reads nothing else.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
from sqlalchemy import Engine

from etl.audio_scan import OUTSIDE_ROOT
from etl.ingest import LoadContext, ingest_catalogue, ingest_events, ingest_listens, ingest_tags
from etl.load import bulk_transaction
from etl.reader import RawTable, read_table
from etl.runs import RunSummary, record, tracked_run
from etl.validate import Checked, RowChecks
from recommender.audio.files import inside
from recommender.core.files import regular_file
from recommender.errors import DataFileError, InputError
from recommender.services.audio_steps import AUDIO_MISSING
from recommender.storage.schema import MAX_ID_LENGTH, MAX_TEXT_LENGTH

LISTEN_COLUMNS = {
    "user": ("user_id", "userid"),
    "track": ("track_id", "trackid", "item", "item_id"),
    "count": ("play_count", "playcount", "plays", "weight"),
    "timestamp": ("played_at", "time", "ts", "datetime"),
}
TAG_COLUMNS = {
    "user": ("user_id", "userid"),
    "track": ("track_id", "trackid", "item", "item_id"),
    "tag": ("tag_name", "tagvalue", "name"),
    "timestamp": ("tagged_at", "time", "ts", "datetime"),
}
CATALOGUE_COLUMNS = {
    "track": ("track_id", "trackid", "item", "item_id", "id", "external_id"),
    "title": ("name", "track_name"),
    "artist": ("artist_name",),
    "audio_path": ("path", "audio", "file"),
}


def check_listens(raw: RawTable) -> tuple[Checked, bool]:
    """Rows of a listens file; returns (checked, is_events)."""
    checks = RowChecks(raw)
    user = checks.ids("user", max_length=MAX_ID_LENGTH)
    track = checks.ids("track", max_length=MAX_ID_LENGTH)
    if "count" in raw.table.column_names:
        counts = checks.positive_ints("count")
        return checks.result({"user": user, "track": track, "play_count": counts}), False
    if "timestamp" not in raw.table.column_names:
        raise DataFileError(
            f"{raw.path}: line 1: listens need a 'count' column (user,track,count) "
            "or a 'timestamp' column (user,track,timestamp)"
        )
    played_at = checks.timestamps("timestamp")
    return checks.result({"user": user, "track": track, "played_at": played_at}), True


def check_tags(raw: RawTable) -> Checked:
    checks = RowChecks(raw)
    user = checks.ids("user", max_length=MAX_ID_LENGTH)
    track = checks.ids("track", max_length=MAX_ID_LENGTH)
    tag = checks.tags("tag", max_length=MAX_ID_LENGTH)
    if "timestamp" in raw.table.column_names:
        tagged_at = pa.array(checks.timestamps("timestamp"), pa.int64())
    else:
        tagged_at = pa.nulls(raw.table.num_rows, pa.int64())
    return checks.result({"user": user, "track": track, "tag": tag, "tagged_at": tagged_at})


def check_catalogue(raw: RawTable, audio_root: Path | None = None) -> Checked:
    """Catalogue rows; audio paths confined to `audio_root` (default: the file's folder)."""
    checks = RowChecks(raw)
    track = checks.ids("track", max_length=MAX_ID_LENGTH)
    columns = {"external_id": track}
    for name in ("title", "artist", "audio_path"):
        if name in raw.table.column_names:
            limit = MAX_TEXT_LENGTH if name != "audio_path" else 4096
            columns[name] = checks.text(name, max_length=limit)
        else:
            columns[name] = pa.nulls(raw.table.num_rows, pa.string())
    root = raw.path.parent if audio_root is None else audio_root
    confined = _confined_paths(columns["audio_path"], root)
    checks.fail(
        confined.is_null().to_numpy(zero_copy_only=False) & ~_nulls(columns["audio_path"]),
        OUTSIDE_ROOT,
    )
    columns["audio_path"] = confined
    return _quarantine_missing_audio(checks.result(columns))


def _quarantine_missing_audio(checked: Checked) -> Checked:
    """A row naming an audio file that is not there is reported as `audio_missing` (catalogue
    file and line); its track loads without audio, so `recsys etl audio` skips it. Reloading
    the fixed catalogue sets the path."""
    paths = checked.table.column("audio_path").to_pylist()
    missing = np.array([p is not None and not Path(p).exists() for p in paths], dtype=bool)
    if not missing.any():
        return checked
    checked.flagged = checked.flag(missing, AUDIO_MISSING)
    audio = pa.array([None if gone else p for p, gone in zip(paths, missing, strict=True)])
    index = checked.table.column_names.index("audio_path")
    checked.table = checked.table.set_column(index, "audio_path", audio.cast(pa.string()))
    return checked


def _nulls(values: pa.Array):
    return values.is_null().to_numpy(zero_copy_only=False)


def _confined_paths(paths: pa.Array, root: Path) -> pa.Array:
    """Each path resolved against `root` (symlinks too), or null where it lands outside it;
    resolved once per distinct path."""
    resolved: dict[str, str | None] = {}
    for p in paths.to_pylist():
        if p is not None and p not in resolved:
            where = inside(root / p, root)  # an absolute p replaces root: still checked
            resolved[p] = None if where is None else str(where)
    return pa.array([None if p is None else resolved[p] for p in paths.to_pylist()], pa.string())


def load_csv(
    engine: Engine,
    listens: Path | None = None,
    tags: Path | None = None,
    catalogue: Path | None = None,
    delimiter: str | None = None,
    progress=None,
    audio_root: Path | None = None,
    *,
    source: str = "csv",
) -> RunSummary:
    """Load listens, tags and a catalogue (any of them; at least one) in one transaction.

    `source` names the run (`etl_runs.source`, the summary's title): "demo" for the demo.
    `audio_root`: the folder catalogue audio must stay inside (default: the catalogue's).
    """
    if audio_root is not None and not Path(audio_root).is_dir():
        raise DataFileError(
            f"audio root {audio_root}: no such folder; check RECSYS_AUDIO_ROOT or unset it"
        )
    files = {"listens": listens, "tags": tags, "catalogue": catalogue}
    files = {k: Path(v).absolute() for k, v in files.items() if v is not None}
    if not files:
        raise InputError(
            "nothing to load: give --listens FILE, --tags FILE and/or --catalogue FILE"
        )
    for path in files.values():
        regular_file(path)
    with tracked_run(
        engine, source, {k: str(v) for k, v in files.items()} | {"delimiter": delimiter}
    ) as summary:
        run_id = summary.run_id
        with bulk_transaction(engine) as writer:
            ctx = LoadContext(writer, summary, progress)
            if "catalogue" in files:
                with ctx.step(f"reading {files['catalogue'].name}"):
                    raw = read_table(
                        files["catalogue"],
                        aliases=CATALOGUE_COLUMNS,
                        required=["track"],
                        delimiter=delimiter,
                    )
                    checked = check_catalogue(raw, audio_root)
                ingest_catalogue(ctx, checked)
                writer.forget_rejects(  # audio files that are there now
                    str(files["catalogue"]), AUDIO_MISSING, keep=[r.line for r in checked.flagged]
                )
            if "listens" in files:
                _load_listens(ctx, files["listens"], delimiter)
            if "tags" in files:
                with ctx.step(f"reading {files['tags'].name}"):
                    raw = read_table(
                        files["tags"],
                        aliases=TAG_COLUMNS,
                        required=["user", "track", "tag"],
                        delimiter=delimiter,
                        dictionary=("user", "track", "tag"),
                    )
                    checked = check_tags(raw)
                ingest_tags(ctx, checked, label=files["tags"].name, unknown_tracks="reject")
            summary.add_loaded("rejects", ctx.writer.insert_rejects(run_id, ctx.rejects))
            summary.add_rejects(ctx.rejects)
            summary.rows_loaded = summary.rows_in - summary.rows_rejected
            record(writer.conn, summary)  # 'ok' commits with the rows, or neither does
    return summary


def _load_listens(ctx: LoadContext, path: Path, delimiter: str | None) -> None:
    """Read, check and ingest a listens file (counts or play events)."""
    with ctx.step(f"reading {path.name}"):
        raw = read_table(
            path,
            aliases=LISTEN_COLUMNS,
            required=["user", "track"],
            delimiter=delimiter,
            dictionary=("user", "track"),
        )
        checked, is_events = check_listens(raw)
    del raw
    if is_events:
        ingest_events(ctx, checked, label=path.name)
    else:
        ingest_listens(ctx, checked, label=path.name)
