"""Play events arriving one request at a time (`POST /listens`): checked like a file, kept once.

The rows go through the same `RowChecks` as a listens file (ids, timestamps, counts),
tracks must already exist (a live play of an unknown track is most likely a typo:
`unknown_track`), and users are created. An event is (user, track, timestamp): one
already stored adds nothing, so a retried request leaves the database as it was. A
new event adds its count to the user's listens for that track (listens loaded as
counts keep their counts), and each user with new events gets a `user_updates` row,
whose `seq` tells a running server to fold that user in from the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from etl.ingest import LoadContext, map_ids
from etl.load import bulk_transaction
from etl.reader import RawTable
from etl.runs import RunSummary
from etl.validate import Checked, RowChecks
from recommender.storage.schema import MAX_ID_LENGTH

FIELDS = ("user", "track", "timestamp", "count")


@dataclass(frozen=True)
class RowError:
    row: int  # 0-based position in the request's list
    reason: str  # a reason code of the ETL (bad_timestamp, unknown_track, ...)
    value: str  # the row as received, comma-joined


@dataclass
class LiveLoad:
    received: int
    added: int = 0  # new events stored
    duplicates: int = 0  # events already stored (a retried request)
    rejected: list[RowError] = field(default_factory=list)
    updates: dict[str, int] = field(default_factory=dict)  # user id -> user_updates.seq

    def to_dict(self) -> dict:
        return {
            "received": self.received,
            "added": self.added,
            "duplicates": self.duplicates,
            "rejected": [vars(r) for r in self.rejected],
            "users_updated": sorted(self.updates),
        }


def raw_rows(rows: Sequence[Mapping[str, object]]) -> RawTable:
    """A request's rows as the string table a file reader would give (row i -> "line" i)."""

    def text(row: Mapping[str, object], name: str) -> str:
        value = row.get(name)
        if name == "count" and value in (None, ""):
            return "1"  # an event without a count is one play
        return "" if value is None else str(value)

    columns = {name: pa.array([text(row, name) for row in rows], pa.string()) for name in FIELDS}
    return RawTable(
        path=Path("request"),
        table=pa.table(columns),
        encoding="utf-8",
        delimiter=",",
        first_line=0,
        skipped_lines=np.empty(0, dtype=np.int64),
    )


def check_events(raw: RawTable) -> Checked:
    """The listens-file checks for events with an optional count (missing count = 1)."""
    checks = RowChecks(raw)
    user = checks.ids("user", max_length=MAX_ID_LENGTH)
    track = checks.ids("track", max_length=MAX_ID_LENGTH)
    played_at = checks.timestamps("timestamp")
    counts = checks.positive_ints("count")
    return checks.result({"user": user, "track": track, "played_at": played_at, "count": counts})


def append_listens(engine, rows: Sequence[Mapping[str, object]]) -> LiveLoad:
    """Check and store `rows` ({user, track, timestamp[, count]}) in one transaction."""
    load = LiveLoad(received=len(rows))
    checked = check_events(raw_rows(rows))
    with bulk_transaction(engine) as writer:
        ctx = LoadContext(writer=writer, summary=RunSummary(run_id=0, source="live"))
        tracks = map_ids(ctx, "tracks", checked.table.column("track"), create=False)
        table, unknown = checked.reject(tracks < 0, "unknown_track")
        load.rejected = [
            RowError(r.line, r.reason, r.raw or "") for r in [*checked.rejects, *unknown]
        ]
        load.rejected.sort(key=lambda r: r.row)
        if table.num_rows:
            _store(writer, ctx, table, load)
    return load


def _store(writer, ctx: LoadContext, table: pa.Table, load: LiveLoad) -> None:
    users = map_ids(ctx, "users", table.column("user"))
    tracks = map_ids(ctx, "tracks", table.column("track"), create=False)
    played = table.column("played_at").to_numpy()
    counts = table.column("count").to_numpy()
    first: dict[tuple[int, int, int], int] = {}  # the first row of an event in this request
    rows = zip(users.tolist(), tracks.tolist(), played.tolist(), counts.tolist(), strict=True)
    for u, t, p, c in rows:
        first.setdefault((u, t, p), c)
    events = np.array(list(first), dtype=np.int64).reshape(-1, 3)
    columns = [("user_id", "INTEGER"), ("track_id", "INTEGER"), ("played_at", "BIGINT")]
    writer.stage(
        "_live_events", columns, pa.table({c: events[:, i] for i, (c, _) in enumerate(columns)})
    )
    writer.cursor.execute(
        "INSERT INTO listen_events (user_id, track_id, played_at) "
        "SELECT user_id, track_id, played_at FROM _live_events WHERE true "
        "ON CONFLICT (user_id, track_id, played_at) DO NOTHING "
        "RETURNING user_id, track_id, played_at"
    )
    added = [tuple(row) for row in writer.cursor.fetchall()]
    writer.drop("_live_events")
    load.added = len(added)
    load.duplicates = table.num_rows - len(added)
    if added:
        _add_to_listens(writer, added, first)
        load.updates = _record_updates(writer, added)


def _add_to_listens(
    writer, added: list[tuple[int, int, int]], counts: dict[tuple[int, int, int], int]
) -> None:
    """Each new event's count onto its (user, track) listens row, latest time kept."""
    totals: dict[tuple[int, int], list[int]] = {}  # (user, track) -> [count, last played]
    for u, t, p in added:
        entry = totals.setdefault((u, t), [0, p])
        entry[0] += counts[(u, t, p)]
        entry[1] = max(entry[1], p)
    pairs = np.array([(u, t, c, p) for (u, t), (c, p) in sorted(totals.items())], dtype=np.int64)
    names = [
        ("user_id", "INTEGER"),
        ("track_id", "INTEGER"),
        ("play_count", "BIGINT"),
        ("last_played", "BIGINT"),
    ]
    writer.stage(
        "_live_listens", names, pa.table({c: pairs[:, i] for i, (c, _) in enumerate(names)})
    )
    writer.execute(
        "INSERT INTO listens (user_id, track_id, play_count, last_played) "
        "SELECT user_id, track_id, play_count, last_played FROM _live_listens WHERE true "
        "ON CONFLICT (user_id, track_id) DO UPDATE SET "
        "play_count = listens.play_count + excluded.play_count, "
        "last_played = CASE WHEN listens.last_played IS NULL "
        "OR excluded.last_played > listens.last_played "
        "THEN excluded.last_played ELSE listens.last_played END"
    )
    writer.drop("_live_listens")


def _record_updates(writer, added: list[tuple[int, int, int]]) -> dict[str, int]:
    """One user_updates row per user with new events: {external id: seq}."""
    changed = pa.table({"user_id": np.unique(np.array([u for u, _, _ in added], np.int64))})
    writer.stage("_live_users", [("user_id", "INTEGER")], changed)
    writer.cursor.execute(
        "INSERT INTO user_updates (user_id) SELECT user_id FROM _live_users ORDER BY user_id "
        "RETURNING seq, user_id"
    )
    seqs = {int(user): int(seq) for seq, user in writer.cursor.fetchall()}
    writer.cursor.execute(
        "SELECT u.id, u.external_id FROM users u JOIN _live_users s ON s.user_id = u.id"
    )
    updates = {str(external): seqs[int(user)] for user, external in writer.cursor.fetchall()}
    writer.drop("_live_users")
    return updates
