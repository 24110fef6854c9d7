"""Bulk, idempotent writes: stage rows in a temp table, then merge with set-based SQL.

Staging goes through the raw DBAPI cursor - `executemany` in large batches on SQLite,
`COPY ... FROM STDIN` on PostgreSQL (binary for integer columns, CSV otherwise, both
built in C) - and a merge is set-based SQL: `INSERT ... SELECT ... ON CONFLICT` on
SQLite, `UPDATE ... FROM` + `INSERT ... SELECT` on PostgreSQL. A big load into an
EMPTY table skips the merge: rows go straight in with the indexes (PostgreSQL: the
primary key too) dropped and rebuilt once, under a lock that keeps the table empty
for anyone else until commit. All of it runs inside the caller's transaction, so a
load is visible completely or not at all, and a rollback restores every index.

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

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pyarrow as pa
from sqlalchemy import Connection, Engine
from sqlalchemy.schema import CreateIndex, DropIndex

_SQLITE_BATCH = 100_000
_REBUILD_MIN_ROWS = 100_000  # below this, index DDL costs more than it saves
_COPY_CHUNK_ROWS = 500_000

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
                    # before it (DROP INDEX of an empty-table fill) would autocommit.
                    writer.cursor.execute("BEGIN")
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
            self._copy(name, columns, table, advance)
        else:
            marks = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {name} ({names}) VALUES ({marks})"
            for start in range(0, table.num_rows, _SQLITE_BATCH):
                batch = table.slice(start, _SQLITE_BATCH)
                cols = [_to_list(batch.column(i)) for i in range(batch.num_columns)]
                self.cursor.executemany(sql, zip(*cols, strict=True))
                if advance:
                    advance(batch.num_rows)

    def _copy(
        self,
        name: str,
        columns: Sequence[tuple[str, str]],
        table: pa.Table,
        advance: Advance | None,
    ) -> None:
        """COPY `table` into `name`: binary for null-free integer columns, else CSV.

        Both payloads are built in C (numpy / pyarrow), never row by row in Python
        (psycopg's write_row is ~10x slower). Binary spares the server the text parsing.
        """
        import pyarrow.csv as pcsv

        names = ", ".join(c for c, _ in columns)
        binary = all(_BINARY_WIDTH.get(t) and _fits(table.column(c), t) for c, t in columns)
        kind = "binary" if binary else "csv"
        options = pcsv.WriteOptions(include_header=False, quoting_style="needed")
        with self.cursor.copy(f"COPY {name} ({names}) FROM STDIN (FORMAT {kind})") as copy:
            if binary:
                copy.write(_PGCOPY_HEADER)
            for start in range(0, table.num_rows, _COPY_CHUNK_ROWS):
                batch = table.slice(start, _COPY_CHUNK_ROWS)
                if binary:
                    copy.write(_binary_rows(batch, [t for _, t in columns]))
                else:
                    buffer = io.BytesIO()
                    pcsv.write_csv(batch, buffer, options)
                    copy.write(buffer.getbuffer())
                if advance:
                    advance(batch.num_rows)
            if binary:
                copy.write(b"\xff\xff")  # file trailer: a tuple with -1 fields

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
        `_fill_empty`. Otherwise stage, then merge: on SQLite one INSERT ... SELECT ...
        ON CONFLICT (measured 1.3-1.6x faster than executemany straight into the target:
        the upsert's per-row statement overhead is paid on a bare temp table); on
        PostgreSQL see `_merge_postgres`. All-null columns (e.g. last_played of a counts
        file) are not staged at all.
        """
        staged = [(c, t) for c, t in columns if table.column(c).null_count < table.num_rows]
        data = table.select([c for c, _ in staged])
        if table.num_rows >= _REBUILD_MIN_ROWS and self._claim_if_empty(target):
            count = self._fill_empty(target, staged, data, advance)
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

    def _claim_if_empty(self, target: str) -> bool:
        """True if `target` is empty and stays so until commit (nobody else can fill it).

        PostgreSQL: ACCESS EXCLUSIVE lock (`_fill_empty` drops indexes, which takes it
        anyway), then look again: a concurrent load may have committed rows meanwhile
        (READ COMMITTED: each statement sees the latest commits). A non-empty table is
        never locked beyond what its upsert takes. SQLite: one writer at a time, and a
        write on a stale read snapshot fails (SQLITE_BUSY_SNAPSHOT) rather than mixing.
        """
        if not self._is_empty(target):
            return False
        if not self.postgres:
            return True
        self.cursor.execute(f"LOCK TABLE {target} IN ACCESS EXCLUSIVE MODE")
        return self._is_empty(target)

    def _is_empty(self, target: str) -> bool:
        self.cursor.execute(f"SELECT 1 FROM {target} LIMIT 1")
        return self.cursor.fetchone() is None

    def _fill_empty(
        self,
        target: str,
        columns: Sequence[tuple[str, str]],
        data: pa.Table | str,
        advance: Advance | None = None,
    ) -> int:
        """Bulk-load an EMPTY, claimed table from rows or a SELECT; indexes built at the end.

        Maintaining a B-tree row by row costs far more than one sorted build; and with no
        row to conflict with, ON CONFLICT is pure overhead. Measured on PostgreSQL, 2M
        listens: upsert with the primary key kept 9.9 s + index 1.5 s; COPY straight into
        the table without any index, then primary key + index builds, 4.3 s. PostgreSQL
        loses no check: rebuilding the primary key re-verifies uniqueness (and the rows
        were made distinct by the caller), NOT NULL and CHECK constraints stay on. SQLite
        cannot drop a primary key, so there the rows go through a temp table and a plain
        INSERT ... SELECT (its PK check still runs). DDL is transactional on both, so a
        crash or failure restores every index with the rollback.
        """
        from recommender.storage.schema import Base

        meta = Base.metadata.tables[target]
        indexes = sorted(meta.indexes, key=lambda i: i.name)
        for index in indexes:
            self.cursor.execute(str(DropIndex(index).compile(dialect=self.conn.dialect)))
        names = ", ".join(c for c, _ in columns)
        if self.postgres:
            self.cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
                (target,),
            )
            (pkey,) = self.cursor.fetchone()
            self.cursor.execute(f"ALTER TABLE {target} DROP CONSTRAINT {pkey}")
            if isinstance(data, str):
                count = self.execute(f"INSERT INTO {target} ({names}) {data}")
            else:
                self._copy(target, columns, data, advance)
                count = data.num_rows
            key = ", ".join(c.name for c in meta.primary_key.columns)
            self.cursor.execute(f"ALTER TABLE {target} ADD CONSTRAINT {pkey} PRIMARY KEY ({key})")
        elif isinstance(data, str):
            count = self.execute(f"INSERT INTO {target} ({names}) {data}")
        else:
            self.stage(f"_etl_{target}", columns, data, advance)
            count = self.execute(
                f"INSERT INTO {target} ({names}) SELECT {names} FROM _etl_{target}"
            )
            self.drop(f"_etl_{target}")
        for index in indexes:
            self.cursor.execute(str(CreateIndex(index).compile(dialect=self.conn.dialect)))
        return count

    def merge_events(self, table: pa.Table, advance: Advance | None = None) -> tuple[int, int]:
        """Add raw events, then recompute listens of the touched pairs from all events.

        A big load into an empty `listen_events` is a fill (`_fill_empty`); then every
        stored event is this load's, so listens aggregate the table without a join, and
        fill `listens` too when that is empty. Measured on PostgreSQL, 2M events over 1M
        pairs into an empty database: the two upserts took 4.8 s + 11.5 s, the fills
        (COPY, keys, aggregate, index builds) 3.3 s.
        """
        columns = [("user_id", "INTEGER"), ("track_id", "INTEGER"), ("played_at", "BIGINT")]
        data = table.select([c for c, _ in columns])
        fresh = table.num_rows >= _REBUILD_MIN_ROWS and self._claim_if_empty("listen_events")
        if fresh:
            events = self._fill_empty("listen_events", columns, data, advance)
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
        if fresh and self._claim_if_empty("listens"):
            listen_columns = [
                ("user_id", "INTEGER"),
                ("track_id", "INTEGER"),
                ("play_count", "BIGINT"),
                ("last_played", "BIGINT"),
            ]
            listens = self._fill_empty("listens", listen_columns, aggregate)
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


_BINARY_WIDTH = {"INTEGER": 4, "BIGINT": 8}
_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no extension


def _fits(column: pa.ChunkedArray, sql_type: str) -> bool:
    """True if `column` is integer, null-free and in range of `sql_type` (INTEGER/BIGINT)."""
    if not pa.types.is_integer(column.type) or column.null_count:
        return False
    if sql_type == "BIGINT" or len(column) == 0:
        return True
    import pyarrow.compute as pc

    bounds = pc.min_max(column)
    return -(2**31) <= bounds["min"].as_py() and bounds["max"].as_py() < 2**31


def _binary_rows(batch: pa.Table, types: Sequence[str]) -> bytes:
    """PostgreSQL binary COPY tuples for integer columns: one numpy record per row."""
    fields = [("n", ">i2")]
    for i, sql_type in enumerate(types):
        width = _BINARY_WIDTH[sql_type]
        fields += [(f"len{i}", ">i4"), (f"v{i}", f">i{width}")]
    rows = np.empty(batch.num_rows, dtype=np.dtype(fields))
    rows["n"] = len(types)
    for i, sql_type in enumerate(types):
        rows[f"len{i}"] = _BINARY_WIDTH[sql_type]
        rows[f"v{i}"] = batch.column(i).to_numpy()
    return rows.tobytes()


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
