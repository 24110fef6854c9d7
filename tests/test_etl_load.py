"""BulkWriter fast paths: the empty-table fill and binary COPY give the same rows as the upsert."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pytest
from sqlalchemy import inspect

import etl.load
from etl.csv_source import load_csv
from etl.ingest import sum_by_pair
from etl.load import _fits, bulk_transaction
from etl.snapshot import content_snapshot
from recommender.storage.engine import make_engine


def _listens_file(path: Path, *, rows: int = 3000, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 300, rows)
    tracks = rng.integers(0, 200, rows)
    counts = rng.integers(1, 1000, rows)
    lines = ["user,track,count"] + [
        f"u{u},t{t},{c}" for u, t, c in zip(users, tracks, counts, strict=True)
    ]
    lines.append("u1,t1,0")  # one reject: quarantined on both paths
    path.write_text("\n".join(lines) + "\n")
    return path


def _constraints(engine) -> tuple[dict, set[str]]:
    inspector = inspect(engine)
    return inspector.get_pk_constraint("listens"), {
        ix["name"] for ix in inspector.get_indexes("listens")
    }


def test_empty_table_fill_matches_the_upsert_path(database_url, tmp_path, monkeypatch):
    """Same file into an empty database through each path: identical contents and counts."""
    listens = _listens_file(tmp_path / "listens.csv")
    results = {}
    for name, threshold in (("fill", 1), ("upsert", 10**12)):
        monkeypatch.setattr(etl.load, "_REBUILD_MIN_ROWS", threshold)
        url = database_url
        if database_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / name}.db"
        engine = make_engine(url)
        before = _constraints(engine)
        summary = load_csv(engine, listens)
        snapshot = content_snapshot(engine)
        assert _constraints(engine) == before  # primary key and index are back, same names
        results[name] = (summary.loaded_by_table, summary.rows_rejected, snapshot)
        if not database_url.startswith("sqlite"):  # one private schema: empty it again
            with engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM listens")
                conn.exec_driver_sql("DELETE FROM rejects")
                conn.exec_driver_sql("DELETE FROM users")
                conn.exec_driver_sql("DELETE FROM tracks")
        engine.dispose()
    fill, upsert = results["fill"], results["upsert"]
    assert fill[0] == upsert[0]
    assert fill[0]["listens"] == len(fill[2]["listens"]) > 2000
    assert fill[1] == upsert[1] == 1
    assert fill[2] == upsert[2]


def test_fill_then_incremental_load_upserts(engine, tmp_path, monkeypatch):
    """After a fast fill the table is not empty: the next load merges (changed counts only)."""
    monkeypatch.setattr(etl.load, "_REBUILD_MIN_ROWS", 1)
    first = load_csv(engine, _listens_file(tmp_path / "a.csv", seed=1))
    again = load_csv(engine, _listens_file(tmp_path / "a.csv", seed=1))
    assert first.loaded_by_table["listens"] > 2000
    assert again.loaded_by_table["listens"] == 0
    (tmp_path / "b.csv").write_text("user,track,count\nu1,t1,123456\nunew,tnew,2\n")
    changed = load_csv(engine, tmp_path / "b.csv")
    assert changed.loaded_by_table["listens"] == 2
    rows = {(u, t): c for u, t, c, _ in content_snapshot(engine)["listens"]}
    assert rows[("u1", "t1")] == 123456 and rows[("unew", "tnew")] == 2


def test_failed_fill_rolls_back_to_an_empty_indexed_table(engine, monkeypatch):
    """Duplicate keys break the contract of _fill_empty: the load fails, nothing is left."""
    monkeypatch.setattr(etl.load, "_REBUILD_MIN_ROWS", 1)
    before = _constraints(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO users (id, external_id) VALUES (1, 'u')")
        conn.exec_driver_sql("INSERT INTO tracks (id, external_id) VALUES (1, 't')")
    duplicated = pa.table(
        {
            "user_id": [1, 1],
            "track_id": [1, 1],
            "play_count": [2, 3],
            "last_played": pa.nulls(2, pa.int64()),
        }
    )
    with pytest.raises((sqlite3.IntegrityError, psycopg.errors.IntegrityError)):
        with bulk_transaction(engine) as writer:
            writer.merge_listens(duplicated)
    assert _constraints(engine) == before
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM listens").scalar() == 0


def test_binary_copy_round_trips_integer_edge_values(engine):
    """Staged INTEGER/BIGINT values (negative, extreme) come back exactly (binary on PostgreSQL)."""
    table = pa.table(
        {
            "a": pa.array([0, -1, 2**31 - 1, -(2**31)], pa.int64()),
            "b": pa.array([2**63 - 1, -(2**63), 7, -7], pa.int64()),
        }
    )
    with bulk_transaction(engine) as writer:
        writer.stage("_t", [("a", "INTEGER"), ("b", "BIGINT")], table)
        writer.cursor.execute("SELECT a, b FROM _t ORDER BY b")
        rows = [tuple(r) for r in writer.cursor.fetchall()]
        writer.drop("_t")
    assert rows == sorted(
        zip(table.column("a").to_pylist(), table.column("b").to_pylist(), strict=True),
        key=lambda r: r[1],
    )


def test_binary_copy_only_for_null_free_in_range_integers():
    assert _fits(pa.chunked_array([[1, 2**31 - 1]]), "INTEGER")
    assert not _fits(pa.chunked_array([[1, 2**31]]), "INTEGER")  # CSV path: server says why
    assert _fits(pa.chunked_array([[1, 2**31]]), "BIGINT")
    assert not _fits(pa.chunked_array([[1, None]]), "BIGINT")
    assert not _fits(pa.chunked_array([["1"]]), "BIGINT")


def test_sum_by_pair_sums_duplicates_in_key_order():
    users = np.array([3, 1, 3, 2, 1, 3])
    tracks = np.array([5, 9, 5, 2**31 - 1, 9, 1])
    counts = np.array([1, 10, 100, 1000, 10000, 7])
    u, t, c = sum_by_pair(users, tracks, counts)
    assert u.tolist() == [1, 2, 3, 3]
    assert t.tolist() == [9, 2**31 - 1, 1, 5]
    assert c.tolist() == [10010, 1000, 7, 101]
    u, t, c = sum_by_pair(np.array([2, 1]), np.array([1, 1]), np.array([4, 5]))  # no duplicates
    assert (u.tolist(), t.tolist(), c.tolist()) == ([1, 2], [1, 1], [5, 4])


@pytest.mark.postgres
def test_concurrent_loads_into_an_empty_table_serialise(postgres_url, tmp_path, monkeypatch):
    """Two loads race for the empty-table fill: one fills, the other merges after it."""
    import threading

    monkeypatch.setattr(etl.load, "_REBUILD_MIN_ROWS", 1)
    files = [_listens_file(tmp_path / f"{n}.csv", seed=n) for n in (1, 2)]
    engines = [make_engine(postgres_url) for _ in files]
    errors: list[Exception] = []

    def load(engine, path: Path) -> None:
        try:
            load_csv(engine, path)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [
        threading.Thread(target=load, args=pair) for pair in zip(engines, files, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    got = {(u, t): c for u, t, c, _ in content_snapshot(engines[0])["listens"]}
    expected = []
    for path in files:
        rows: dict[tuple[str, str], int] = {}
        for line in path.read_text().splitlines()[1:]:
            user, track, count = line.split(",")
            if int(count) > 0:
                rows[(user, track)] = rows.get((user, track), 0) + int(count)
        expected.append(rows)
    # whichever committed last wins on shared pairs, as if the loads ran one after the other
    assert got in ({**expected[0], **expected[1]}, {**expected[1], **expected[0]})
    for engine in engines:
        engine.dispose()


def _events_file(path: Path, *, rows: int = 3000, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = ["user,track,timestamp"] + [
        f"u{u},t{t},{ts}"
        for u, t, ts in zip(
            rng.integers(0, 100, rows),
            rng.integers(0, 50, rows),
            rng.integers(1_000_000, 1_000_400, rows),
            strict=True,
        )
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("counts_first", [False, True])
def test_events_fill_matches_the_upsert_path(database_url, tmp_path, monkeypatch, counts_first):
    """Events (with repeats) into empty event tables: fills give the upserts' contents,
    also when `listens` already holds counts from an earlier load (merged, not filled)."""
    events = _events_file(tmp_path / "events.csv")
    counts = tmp_path / "counts.csv"
    counts.write_text("user,track,count\nu1,t1,999\nu1,t999,5\n")
    results = {}
    for name, threshold in (("fill", 1), ("upsert", 10**12)):
        url = database_url
        if database_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / name}.db"
        engine = make_engine(url)
        if counts_first:
            monkeypatch.setattr(etl.load, "_REBUILD_MIN_ROWS", 10**12)
            load_csv(engine, counts)
        monkeypatch.setattr(etl.load, "_REBUILD_MIN_ROWS", threshold)
        summary = load_csv(engine, events)
        results[name] = (summary.loaded_by_table, content_snapshot(engine))
        assert load_csv(engine, events).loaded_by_table["listens"] == 0  # idempotent
        if not database_url.startswith("sqlite"):
            with engine.begin() as conn:
                for table in ("listen_events", "listens", "rejects", "users", "tracks"):
                    conn.exec_driver_sql(f"DELETE FROM {table}")
        engine.dispose()
    assert results["fill"] == results["upsert"]
    listens = results["fill"][1]["listens"]
    assert len(results["fill"][1]["listen_events"]) > len(listens) > 1000
    if counts_first:  # events replace the counts of the pairs they touch, others stay
        assert ("u1", "t999", 5, None) in listens
