"""HetRec 2011 Last.fm 2K: artists are the items (one track row per artist).

Files (tab-separated, header row, no quoting): artists.dat (UTF-8), tags.dat (Latin-1),
user_artists.dat (listen counts), user_taggedartists.dat (assignments with a
day/month/year date, stored as Unix seconds at 00:00 UTC).

Unknown references, decided from the data: 1,538 assignments (390 artist ids) in
user_taggedartists.dat name artists that are in neither artists.dat nor
user_artists.dat. They are real Last.fm artists, but the dataset has no name for them and
nobody played them: loaded, they are cold items that the content model recommends (two of
user 1697's top ten were such blank rows), and nobody can look up or play an artist known
only as "9842". So by default (`unknown_artists="reject"`) their rows are quarantined as
`unknown_track` (file, line, reason in `recsys db rejects`): 0.8% of the assignments, by
292 users, one of whom tagged nothing else (their listens load as usual).
`unknown_artists="create"` keeps them as tracks without title/artist (all 186,479
assignments load; lists show such an item by its id). An assignment with a tag id absent
from tags.dat would be rejected as `unknown_tag` (none in the published files). Tag names
are normalised, which merges 6 spelling variants: 11,946 tag ids -> 11,940 tags, and 2
assignments that become duplicates fold into one (186,477 rows in tag_assignments with
"create", 184,939 by default).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine

from etl.ingest import LoadContext, ingest_catalogue, ingest_listens, ingest_tags, map_ids
from etl.load import bulk_transaction
from etl.options import UNKNOWN_ARTISTS
from etl.reader import RawTable, read_table
from etl.runs import RunSummary, record, tracked_run
from etl.validate import Checked, RowChecks
from recommender.errors import DataFileError, InputError, shown
from recommender.storage.schema import MAX_ID_LENGTH, MAX_TEXT_LENGTH

FILES = ("artists.dat", "tags.dat", "user_artists.dat", "user_taggedartists.dat")


def _read(
    directory: Path, name: str, columns: list[str], dictionary: tuple[str, ...] = ()
) -> RawTable:
    return read_table(
        directory / name,
        aliases={c: () for c in columns},
        required=columns,
        delimiter="\t",
        quoting=False,  # artist names contain bare quotes
        dictionary=dictionary,
    )


def _check_artists(raw: RawTable) -> Checked:
    checks = RowChecks(raw)
    ids = checks.ids("id", max_length=MAX_ID_LENGTH)
    name = checks.text("name", max_length=MAX_TEXT_LENGTH)
    return checks.result(
        {
            "external_id": ids,
            "title": name,
            "artist": name,
            "audio_path": pa.nulls(len(ids), pa.string()),
        }
    )


def _check_tag_names(raw: RawTable) -> Checked:
    checks = RowChecks(raw)
    tag_id = checks.ids("tagID", max_length=MAX_ID_LENGTH)
    name = checks.tags("tagValue", max_length=MAX_ID_LENGTH)
    return checks.result({"tag_id": tag_id, "name": name})


def _check_listens(raw: RawTable) -> Checked:
    checks = RowChecks(raw)
    user = checks.ids("userID", max_length=MAX_ID_LENGTH)
    track = checks.ids("artistID", max_length=MAX_ID_LENGTH)
    counts = checks.positive_ints("weight")
    return checks.result({"user": user, "track": track, "play_count": counts})


def _check_assignments(raw: RawTable, tag_names: Checked) -> Checked:
    checks = RowChecks(raw)
    user = checks.ids("userID", max_length=MAX_ID_LENGTH)
    track = checks.ids("artistID", max_length=MAX_ID_LENGTH)
    tag_id = checks.ids("tagID", max_length=MAX_ID_LENGTH)
    known = tag_names.table
    position = pc.index_in(tag_id, value_set=known.column("tag_id").combine_chunks())
    checks.fail(position.is_null().to_numpy(zero_copy_only=False), "unknown_tag")
    name = known.column("name").combine_chunks().take(pc.fill_null(position, 0))
    parts = {}
    for part in ("year", "month", "day"):
        values, ok = _ints(checks.column(part))
        checks.fail(~ok, "bad_timestamp")
        parts[part] = np.where(ok, values, 1)
    tagged_at = _dates_to_seconds(parts)
    checks.fail(np.isnan(tagged_at), "bad_timestamp")
    seconds = np.where(np.isnan(tagged_at), 0, tagged_at).astype(np.int64)
    return checks.result({"user": user, "track": track, "tag": name, "tagged_at": seconds})


def _ints(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    values = pd.to_numeric(pd.Series(column.to_numpy(zero_copy_only=False)), errors="coerce")
    ok = values.notna().to_numpy()
    return values.fillna(1).to_numpy().astype(np.int64), ok


def _dates_to_seconds(parts: dict[str, np.ndarray]) -> np.ndarray:
    """Unix seconds (float, NaN for impossible dates like 31 February) at 00:00 UTC."""
    import pandas as pd

    dates = pd.to_datetime(pd.DataFrame(parts), errors="coerce", utc=True)
    seconds = (
        dates.to_numpy(dtype="datetime64[s]", na_value=np.datetime64("NaT"))
        .astype("int64")
        .astype(float)
    )
    seconds[dates.isna().to_numpy()] = np.nan
    return seconds


def load_lastfm_2k(
    engine: Engine, directory: Path, progress=None, *, unknown_artists: str = "reject"
) -> RunSummary:
    """Load the HetRec 2011 Last.fm 2K folder in one transaction (see module docs)."""
    directory = Path(directory).absolute()
    if not directory.is_dir():
        raise DataFileError(f"{directory}: not a directory; give the hetrec2011-lastfm-2k folder")
    try:
        next(directory.iterdir(), None)
    except OSError as exc:
        raise DataFileError(
            f"{directory}: cannot read directory ({exc.strerror}); check permissions"
        ) from None
    missing = [name for name in FILES if not (directory / name).exists()]
    if missing:
        raise DataFileError(
            f"{directory}: missing {', '.join(missing)}; is this the hetrec2011-lastfm-2k folder?"
        )
    if unknown_artists not in UNKNOWN_ARTISTS:
        raise InputError(
            f"--unknown-artists must be {' or '.join(map(repr, UNKNOWN_ARTISTS))},"
            f" not {shown(unknown_artists)}"
        )
    with tracked_run(
        engine, "lastfm-2k", {"directory": str(directory), "unknown_artists": unknown_artists}
    ) as summary:
        run_id = summary.run_id
        artists = _check_artists(_read(directory, "artists.dat", ["id", "name"]))
        tag_names = _check_tag_names(_read(directory, "tags.dat", ["tagID", "tagValue"]))
        listens = _check_listens(
            _read(
                directory,
                "user_artists.dat",
                ["userID", "artistID", "weight"],
                ("userID", "artistID"),
            )
        )
        columns = ["userID", "artistID", "tagID", "day", "month", "year"]
        assignments = _check_assignments(
            _read(directory, "user_taggedartists.dat", columns, ("userID", "artistID")), tag_names
        )
        with bulk_transaction(engine) as writer:
            ctx = LoadContext(writer, summary, progress)
            ingest_catalogue(ctx, artists)
            ctx.account(tag_names)
            map_ids(
                ctx, "tags", tag_names.table.column("name")
            )  # the whole vocabulary, used or not
            ingest_listens(ctx, listens, label="user_artists.dat")
            ingest_tags(
                ctx, assignments, label="user_taggedartists.dat", unknown_tracks=unknown_artists
            )
            summary.add_loaded("rejects", ctx.writer.insert_rejects(run_id, ctx.rejects))
            summary.add_rejects(ctx.rejects)
            summary.rows_loaded = summary.rows_in - summary.rows_rejected
            record(writer.conn, summary)  # 'ok' commits with the rows, or neither does
    return summary
