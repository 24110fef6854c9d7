"""Bulk, idempotent writes: stage rows in a temp table, then merge with set-based SQL.

Staging goes through the raw DBAPI cursor - `executemany` in large batches on SQLite,
`COPY ... FROM STDIN` on PostgreSQL (etl.pg_copy: binary for integer columns, CSV
otherwise, both built in C) - and a merge is set-based SQL: `INSERT ... SELECT ... ON
CONFLICT` on SQLite, `UPDATE ... FROM` + `INSERT ... SELECT` on PostgreSQL. A big load
into an EMPTY table skips the merge (etl.empty_fill): rows go straight in with the
indexes (PostgreSQL: the primary key too) dropped and rebuilt once, under a lock that
keeps the table empty for anyone else until commit. All of it runs inside the caller's
transaction, so a load is visible completely or not at all, and a rollback restores
every index.

Merge rules (documented behaviour, relied on by tests):
- ids (users, tracks, tags) are created once and never renamed;
- catalogue rows update title/artist/audio_path when given (a missing value keeps the old);
- a listens row with a different count replaces the old count;
- raw events are set-unioned; `listens` for the touched (user, track) pairs is then
  recomputed from all stored events (count, latest timestamp);
- tag assignments are set-unioned; a new date replaces the old one.
Counts returned are rows inserted or changed, so reloading the same input reports 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pyarrow as pa
from sqlalchemy import Connection, Engine

from etl.empty_fill import claim_if_empty, fill_empty
from etl.pg_copy import copy_table
from etl.pg_copy import fits_binary as _fits  # noqa: F401  (the name tests import)
from recommender.storage.engine import begin_write

_SQLITE_BATCH = 100_000
_REBUILD_MIN_ROWS = 100_000  # below this, index DDL costs more than it saves

Advance = Callable[[int], None]


@contextmanager
def bulk_transaction(engine: Engine) -> Iterator[BulkWriter]:
    """One transaction for a whole source load, with a BulkWriter on it.

    Foreign-key checks are skipped for the load's own transaction where the database
    lets us: every id the writer inserts was looked up or created by `ensure_keys` in
    this same transaction, so the checks cannot fail, and they dominate merge time
    (SQLite ~1.7x; PostgreSQL's per-row RI triggers ~5x). SQLite: `foreign_keys=OFF` on
    this connection, back ON before it returns to the pool. PostgreSQL: `SET LOCAL
    session_replication_role = replica` when the role may set it (superuser, or granted
    SET on that parameter); otherwise the checks run and the load is just slower.
    """
    with engine.connect() as conn:
        writer = BulkWriter(conn)
        try:
            if not writer.postgres:
                writer.cursor.execute(
                    "PRAGMA foreign_keys=OFF"
                )  # only effective outside a transaction
            with conn.begin():
                if writer.postgres and writer.may_skip_triggers():
                    writer.cursor.execute("SET LOCAL session_replication_role = replica")
                if not writer.postgres and not writer.dbapi.in_transaction:
                    # Python's sqlite3 opens its transaction lazily, at the first DML: DDL
                    # before it (DROP INDEX of an empty-table fill) would autocommit. The
                    # write lock is taken now: a load reads before it writes, and SQLite
                    # fails such a transaction at once, not after the busy timeout, when
                    # another load committed meanwhile (storage.engine.begin_write).
                    begin_write(writer.cursor, str(engine.url.database))
                yield writer
        finally:
            if not writer.postgres:
                writer.cursor.execute("PRAGMA foreign_keys=ON")


class BulkWriter:
    """Staging and merging on one open transaction (SQLite or PostgreSQL)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.dbapi = conn.connection.driver_connection
        self.cursor = self.dbapi.cursor()
        self.placeholder = "%s" if self.postgres else "?"
        if not self.postgres:
            self.cursor.execute("PRAGMA temp_store=MEMORY")
            self.cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB for index-heavy merges

    def may_skip_triggers(self) -> bool:
        if self.dbapi.info.server_version >= 150000:
            self.cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
        else:
            self.cursor.execute("SELECT current_setting('is_superuser') = 'on'")
        return bool(self.cursor.fetchone()[0])

    # -- staging -----------------------------------------------------------------------
    def stage(
        self,
        name: str,
        columns: Sequence[tuple[str, str]],
        table: pa.Table,
        advance: Advance | None = None,
    ) -> None:
        """Create temp table `name` and fill it with `table` (columns in the same order)."""
        self.cursor.execute(f"DROP TABLE IF EXISTS {name}")
        ddl = ", ".join(f"{c} {t}" for c, t in columns)
        self.cursor.execute(f"CREATE TEMP TABLE {name} ({ddl})")
        names = ", ".join(c for c, _ in columns)
        if self.postgres:
            copy_table(self.cursor, name, columns, table, advance)
        else:
            marks = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {name} ({names}) VALUES ({marks})"
            for start in range(0, table.num_rows, _SQLITE_BATCH):
                batch = table.slice(start, _SQLITE_BATCH)
                cols = [_to_list(batch.column(i)) for i in range(batch.num_columns)]
                self.cursor.executemany(sql, zip(*cols, strict=True))
                if advance:
                    advance(batch.num_rows)

    def execute(self, sql: str, params: Sequence | None = None) -> int:
        self.cursor.execute(sql, params or ())
        return max(self.cursor.rowcount, 0)

    def drop(self, *names: str) -> None:
        for name in names:
            self.cursor.execute(f"DROP TABLE IF EXISTS {name}")

    # -- id mapping --------------------------------------------------------------------
    def ensure_keys(
        self, table: str, column: str, keys: pa.Array, *, create: bool = True
    ) -> tuple[np.ndarray, int]:
        """Internal ids for distinct `keys` (aligned), creating missing rows if `create`.

        Missing keys get id -1 when `create` is false. Returns (ids, rows created).
        """
        staged = pa.table({"pos": pa.array(np.arange(len(keys), dtype=np.int64)), "k": keys})
        self.stage("_etl_keys", [("pos", "BIGINT"), ("k", "TEXT")], staged)
        created = 0
        if create:
            created = self.execute(
                f"INSERT INTO {table} ({column}) SELECT k FROM _etl_keys s "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} x WHERE x.{column} = s.k) "
                f"ORDER BY pos ON CONFLICT ({column}) DO NOTHING"
            )
        self.cursor.execute(
            f"SELECT s.pos, x.id FROM _etl_keys s JOIN {table} x ON x.{column} = s.k"
        )
        found = np.array(self.cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
        ids = np.full(len(keys), -1, dtype=np.int64)
        ids[found[:, 0]] = found[:, 1]
        self.drop("_etl_keys")
        return ids, created

    # -- merges ------------------------------------------------------------------------
    def merge_tracks(self, table: pa.Table) -> int:
        """Upsert catalogue rows (external_id, title, artist, audio_path)."""
        self.stage(
            "_etl_tracks",
            [
                ("external_id", "TEXT"),
                ("title", "TEXT"),
                ("artist", "TEXT"),
                ("audio_path", "TEXT"),
            ],
            table.select(["external_id", "title", "artist", "audio_path"]),
        )
        fields = ("title", "artist", "audio_path")
        sets = ", ".join(f"{f} = COALESCE(excluded.{f}, tracks.{f})" for f in fields)
        changed = " OR ".join(
            f"(excluded.{f} IS NOT NULL AND tracks.{f} IS DISTINCT FROM excluded.{f})"
            for f in fields
        )
        count = self.execute(
            "INSERT INTO tracks (external_id, title, artist, audio_path) "
            "SELECT external_id, title, artist, audio_path FROM _etl_tracks WHERE true "
            f"ON CONFLICT (external_id) DO UPDATE SET {sets} WHERE {changed}"
        )
        self.drop("_etl_tracks")
        return count

    def merge_listens(self, table: pa.Table, advance: Advance | None = None) -> int:
        """Upsert aggregated listens (user_id, track_id, play_count, last_played)."""
        return self._upsert(
            "listens",
            [
                ("user_id", "INTEGER"),
                ("track_id", "INTEGER"),
                ("play_count", "BIGINT"),
                ("last_played", "BIGINT"),
            ],
            2,
            "play_count = excluded.play_count, "
            "last_played = COALESCE(excluded.last_played, listens.last_played)",
            "listens.play_count <> excluded.play_count OR (excluded.last_played IS NOT NULL "
            "AND listens.last_played IS DISTINCT FROM excluded.last_played)",
            table,
            advance,
        )

    def _upsert(
        self,
        target: str,
        columns: Sequence[tuple[str, str]],
        keys: int,
        sets: str,
        changed: str,
        table: pa.Table,
        advance: Advance | None,
    ) -> int:
        """Rows distinct on `target`'s key (the first `keys` columns) -> rows inserted or changed.

        `sets` and `changed` say how an existing row is updated and when, in ON CONFLICT
        terms (`excluded.x` is the new value). Into an empty table (big loads only) see
        `etl.empty_fill`. Otherwise stage, then merge: on SQLite one INSERT ... SELECT ...
        ON CONFLICT (measured 1.3-1.6x faster than executemany straight into the target:
        the upsert's per-row statement overhead is paid on a bare temp table); on
        PostgreSQL see `_merge_postgres`. All-null columns (e.g. last_played of a counts
        file) are not staged at all.
        """
        staged = [(c, t) for c, t in columns if table.column(c).null_count < table.num_rows]
        data = table.select([c for c, _ in staged])
        if table.num_rows >= _REBUILD_MIN_ROWS and claim_if_empty(self, target):
            count = fill_empty(self, target, staged, data, advance)
        else:
            names = ", ".join(c for c, _ in columns)
            kept = {c for c, _ in staged}
            values = ", ".join(c if c in kept else f"CAST(NULL AS {t}) AS {c}" for c, t in columns)
            key = [c for c, _ in columns[:keys]]
            stage = f"_etl_{target}"
            self.stage(stage, staged, data, advance)
            on_conflict = f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets} WHERE {changed}"
            select = f"SELECT {values} FROM {stage}"
            if self.postgres:
                count = self._merge_postgres(target, names, key, select, sets, changed, on_conflict)
            else:
                count = self.execute(
                    f"INSERT INTO {target} ({names}) {select} WHERE true {on_conflict}"
                )
            self.drop(stage)
        if advance:
            advance(table.num_rows)  # progress tasks count staging + merging: 2 x rows
        return count

    def _merge_postgres(
        self,
        target: str,
        names: str,
        key: list[str],
        select: str,
        sets: str,
        changed: str,
        on_conflict: str,
    ) -> int:
        """UPDATE ... FROM the changed rows, then INSERT the new ones: set-based joins.

        Measured on 2M staged rows all already present (a reload): ON CONFLICT upsert,
        which probes the primary key row by row, 3.1-3.7 s; these two statements (hash
        joins) 1.9-2.1 s. The INSERT keeps its ON CONFLICT clause, so a row another
        load commits in between is still merged by the same rule, never lost.
        """
        self.cursor.execute(f"ANALYZE _etl_{target}")  # temp tables get no autovacuum stats
        match = " AND ".join(f"{target}.{k} = excluded.{k}" for k in key)
        updated = self.execute(
            f"UPDATE {target} SET {sets} FROM ({select}) AS excluded WHERE {match} AND ({changed})"
        )
        absent = " AND ".join(f"t.{k} = s.{k}" for k in key)
        inserted = self.execute(
            f"INSERT INTO {target} ({names}) SELECT * FROM ({select}) AS s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {absent}) {on_conflict}"
        )
        return updated + inserted

    def merge_events(self, table: pa.Table, advance: Advance | None = None) -> tuple[int, int]:
        """Add raw events, then recompute listens of the touched pairs from all events.

        A big load into an empty `listen_events` is a fill (`etl.empty_fill`); then every
        stored event is this load's, so listens aggregate the table without a join, and
        fill `listens` too when that is empty. Measured on PostgreSQL, 2M events over 1M
        pairs into an empty database: the two upserts took 4.8 s + 11.5 s, the fills
        (COPY, keys, aggregate, index builds) 3.3 s.
        """
        columns = [("user_id", "INTEGER"), ("track_id", "INTEGER"), ("played_at", "BIGINT")]
        data = table.select([c for c, _ in columns])
        fresh = table.num_rows >= _REBUILD_MIN_ROWS and claim_if_empty(self, "listen_events")
        if fresh:
            events = fill_empty(self, "listen_events", columns, data, advance)
            touched = ""
        else:
            self.stage("_etl_events", columns, data, advance)
            if self.postgres:
                self.cursor.execute("ANALYZE _etl_events")  # temp tables get no auto stats
            events = self.execute(
                "INSERT INTO listen_events (user_id, track_id, played_at) "
                "SELECT user_id, track_id, played_at FROM _etl_events WHERE true "
                "ON CONFLICT (user_id, track_id, played_at) DO NOTHING"
            )
            touched = (
                "JOIN (SELECT DISTINCT user_id, track_id FROM _etl_events) p "
                "ON e.user_id = p.user_id AND e.track_id = p.track_id "
            )
        if advance:
            advance(table.num_rows)
        aggregate = (
            "SELECT e.user_id, e.track_id, COUNT(*), MAX(e.played_at) FROM listen_events e "
            f"{touched}WHERE true GROUP BY e.user_id, e.track_id"
        )
        if fresh and claim_if_empty(self, "listens"):
            listen_columns = [
                ("user_id", "INTEGER"),
                ("track_id", "INTEGER"),
                ("play_count", "BIGINT"),
                ("last_played", "BIGINT"),
            ]
            listens = fill_empty(self, "listens", listen_columns, aggregate)
        else:
            listens = self.execute(
                f"INSERT INTO listens (user_id, track_id, play_count, last_played) {aggregate} "
                "ON CONFLICT (user_id, track_id) DO UPDATE SET play_count = excluded.play_count, "
                "last_played = excluded.last_played "
                "WHERE listens.play_count <> excluded.play_count "
                "OR listens.last_played IS DISTINCT FROM excluded.last_played"
            )
        if not fresh:
            self.drop("_etl_events")
        return events, listens

    def merge_assignments(self, table: pa.Table, advance: Advance | None = None) -> int:
        """Upsert distinct (user_id, track_id, tag_id) with an optional tagged_at."""
        return self._upsert(
            "tag_assignments",
            [
                ("user_id", "INTEGER"),
                ("track_id", "INTEGER"),
                ("tag_id", "INTEGER"),
                ("tagged_at", "BIGINT"),
            ],
            3,
            "tagged_at = excluded.tagged_at",
            "excluded.tagged_at IS NOT NULL "
            "AND tag_assignments.tagged_at IS DISTINCT FROM excluded.tagged_at",
            table,
            advance,
        )

    def forget_rejects(self, file: str, reason: str, *, keep: Iterable[int]) -> int:
        """Delete `file`'s rejects for `reason` except those at lines `keep`: a reload
        forgets the rows fixed since, and changes nothing when nothing changed."""
        p = self.placeholder
        self.cursor.execute(
            f"SELECT line FROM rejects WHERE file = {p} AND reason = {p}", (file, reason)
        )
        stale = sorted({row[0] for row in self.cursor.fetchall()} - set(keep))
        self.cursor.executemany(
            f"DELETE FROM rejects WHERE file = {p} AND reason = {p} AND line = {p}",
            [(file, reason, line) for line in stale],
        )
        return len(stale)

    def insert_rejects(self, run_id: int, rejects: Sequence) -> int:
        """Quarantine rows; (file, line, reason) already present is left as it is."""
        if not rejects:
            return 0
        p = self.placeholder
        sql = (
            "INSERT INTO rejects (run_id, file, line, reason, raw) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}) "
            "ON CONFLICT (file, line, reason) DO NOTHING"
        )
        rows = [(run_id, r.file, r.line, r.reason, _clip(r.raw)) for r in rejects]
        before = self._count("rejects")
        self.cursor.executemany(sql, rows)
        return self._count("rejects") - before

    def _count(self, table: str) -> int:
        self.cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return int(self.cursor.fetchone()[0])


def _to_list(column: pa.ChunkedArray) -> list:
    if pa.types.is_integer(column.type) and column.null_count == 0:
        return column.to_numpy().tolist()
    return column.to_pylist()


def _clip(raw: str | None, limit: int = 4096) -> str | None:
    # Raw text is evidence, not data: keep enough to see the problem, never megabytes.
    if raw is None:
        return None
    raw = raw.replace("\x00", "\\x00")  # PostgreSQL text cannot hold NUL
    return raw if len(raw) <= limit else raw[:limit] + "..."
