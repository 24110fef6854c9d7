"""Generic CSV/TSV/Parquet source: listens (counts or events), tags, catalogue.

Files need a header row; columns are found by name (see the alias tables below), the
delimiter is sniffed from the header unless given. Listens are counts
(`user,track,count`) or play events (`user,track,timestamp`, Unix seconds or ISO-8601):
events are kept in `listen_events` and aggregated into `listens`. Tag rows whose track
is in neither the catalogue, the listens nor the database are rejected as
`unknown_track`; users are created from any file. Catalogue `audio_path`s relative to
the catalogue file's folder are stored absolute.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from sqlalchemy import Engine

from etl.ingest import LoadContext, ingest_catalogue, ingest_events, ingest_listens, ingest_tags
from etl.load import bulk_transaction
from etl.normalize import normalize_tags
from etl.reader import RawTable, read_table
from etl.runs import RunSummary, record, tracked_run
from etl.validate import Checked, RowChecks
from recommender.errors import DataFileError, regular_file
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
    tag = normalize_tags(checks.column("tag"))
    checks.fail(checks_lengths(tag) == 0, "empty_tag")
    checks.fail(checks_lengths(tag) > MAX_ID_LENGTH, "too_long")
    if "timestamp" in raw.table.column_names:
        tagged_at = pa.array(checks.timestamps("timestamp"), pa.int64())
    else:
        tagged_at = pa.nulls(raw.table.num_rows, pa.int64())
    return checks.result({"user": user, "track": track, "tag": tag, "tagged_at": tagged_at})


def check_catalogue(raw: RawTable) -> Checked:
    checks = RowChecks(raw)
    track = checks.ids("track", max_length=MAX_ID_LENGTH)
    columns = {"external_id": track}
    for name in ("title", "artist", "audio_path"):
        if name in raw.table.column_names:
            limit = MAX_TEXT_LENGTH if name != "audio_path" else 4096
            columns[name] = checks.text(name, max_length=limit)
        else:
            columns[name] = pa.nulls(raw.table.num_rows, pa.string())
    columns["audio_path"] = _absolute_paths(columns["audio_path"], raw.path.parent)
    return checks.result(columns)


def checks_lengths(values: pa.Array):
    import pyarrow.compute as pc

    return pc.utf8_length(values).to_numpy(zero_copy_only=False)


def _absolute_paths(paths: pa.Array, base: Path) -> pa.Array:
    """Resolve relative audio paths against the catalogue's folder (once per distinct path)."""
    values = paths.to_pylist()
    return pa.array(
        [
            None if p is None else str((base / p).resolve()) if not Path(p).is_absolute() else p
            for p in values
        ],
        pa.string(),
    )


def load_csv(
    engine: Engine,
    listens: Path,
    tags: Path | None = None,
    catalogue: Path | None = None,
    delimiter: str | None = None,
    progress=None,
) -> RunSummary:
    """Load generic listens (+ tags, catalogue) files in one transaction; see module docs."""
    files = {"listens": listens, "tags": tags, "catalogue": catalogue}
    files = {k: Path(v).absolute() for k, v in files.items() if v is not None}
    for path in files.values():
        regular_file(path)
    with tracked_run(
        engine, "csv", {k: str(v) for k, v in files.items()} | {"delimiter": delimiter}
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
                    checked = check_catalogue(raw)
                ingest_catalogue(ctx, checked)
            with ctx.step(f"reading {files['listens'].name}"):
                raw = read_table(
                    files["listens"],
                    aliases=LISTEN_COLUMNS,
                    required=["user", "track"],
                    delimiter=delimiter,
                    dictionary=("user", "track"),
                )
                checked, is_events = check_listens(raw)
            del raw
            if is_events:
                ingest_events(ctx, checked, label=files["listens"].name)
            else:
                ingest_listens(ctx, checked, label=files["listens"].name)
            del checked
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
