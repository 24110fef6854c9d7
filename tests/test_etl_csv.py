"""Generic CSV/TSV/Parquet loading on SQLite and PostgreSQL: validation, idempotence, increments."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from etl.csv_source import load_csv
from etl.snapshot import content_snapshot
from recommender.errors import InputError
from recommender.storage.engine import make_engine

LONG = "x" * 256


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def rejects_of(engine, path: Path) -> set[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT line, reason FROM rejects WHERE file = :f"), {"f": str(path)}
        ).all()
    return {(line, reason) for line, reason in rows}


@pytest.fixture
def malformed(tmp_path: Path) -> dict[str, Path]:
    listens = write(
        tmp_path / "listens.csv",
        b"user,track,count\n"
        b"u1,t1,3\n"  # 2 good
        b"u2,t2\n"  # 3 wrong_column_count
        b"u3,t3,abc\n"  # 4 bad_count (not a number)
        b"u4,t4,0\n"  # 5 bad_count (not positive)
        b"u5,t5,-2\n"  # 6 bad_count
        b",t6,1\n"  # 7 empty_id (user)
        b"u7, ,1\n"  # 8 empty_id (track, whitespace only)
        + LONG.encode()
        + b",t8,1\n"  # 9 too_long
        b"u9,t\xff\xfe,1\n"  # 10 undecodable_text (broken UTF-8 in a UTF-8 file)
        b"u10,t\xc3\xabst,2\n"  # 11 good, UTF-8 non-ASCII
        b"u1,t2,4\n"  # 12 good
        b"u1,t1,3,4\n"  # 13 wrong_column_count (extra field)
        b"\n"  # 14 blank: ignored, not a reject
        b"u11,t11,1.5\n"  # 15 bad_count (not an integer)
        b" u12 ,t11,7\n",  # 16 good, ids stripped
    )
    (tmp_path / "audio").mkdir()
    write(tmp_path / "audio" / "t1.wav", b"RIFF")  # a load checks that it exists, not its sound
    catalogue = write(
        tmp_path / "catalogue.csv",
        "track,title,artist,audio_path\n"
        "t1,Title One,Artist A,audio/t1.wav\n"  # 2 good, relative path resolved
        ",No id,X,\n"  # 3 empty_id
        f"t12,{'y' * 1025},X,\n"  # 4 too_long title
        f"tcat,Catalogue Only,Artist B,{tmp_path}/audio/tcat.wav\n",  # 5 audio_missing: no audio
    )
    tags = write(
        tmp_path / "tags.csv",
        "user,track,tag\n"
        "u1,t1,Rock\n"  # 2 good
        "u1,tZ,jazz\n"  # 3 unknown_track
        "u1,t1,   \n"  # 4 empty_tag
        f"u1,t1,{LONG}\n"  # 5 too_long
        "u2,t1,  Seen   LIVE \n"  # 6 good (new user from a tag row)
        "u1,tcat,seen live\n",  # 7 good (track known from the catalogue)
    )
    return {"listens": listens, "catalogue": catalogue, "tags": tags}


def test_every_malformed_row_is_quarantined_and_every_good_row_loads(engine, malformed, tmp_path):
    summary = load_csv(engine, **malformed)

    assert rejects_of(engine, malformed["listens"]) == {
        (3, "wrong_column_count"),
        (4, "bad_count"),
        (5, "bad_count"),
        (6, "bad_count"),
        (7, "empty_id"),
        (8, "empty_id"),
        (9, "too_long"),
        (10, "undecodable_text"),
        (13, "wrong_column_count"),
        (15, "bad_count"),
    }
    assert rejects_of(engine, malformed["catalogue"]) == {
        (3, "empty_id"),
        (4, "too_long"),
        (5, "audio_missing"),
    }
    assert rejects_of(engine, malformed["tags"]) == {
        (3, "unknown_track"),
        (4, "empty_tag"),
        (5, "too_long"),
    }
    assert summary.rows_rejected == 16
    assert summary.rejected_by_reason == {
        "audio_missing": 1,
        "bad_count": 4,
        "empty_id": 3,
        "empty_tag": 1,
        "too_long": 3,
        "undecodable_text": 1,
        "unknown_track": 1,
        "wrong_column_count": 2,
    }
    assert summary.rows_in == 14 + 4 + 6  # blank line not counted
    assert summary.rows_loaded == summary.rows_in - summary.rows_rejected

    snap = content_snapshot(engine)
    assert snap["listens"] == sorted(
        [
            ("u1", "t1", 3, None),
            ("u10", "tëst", 2, None),
            ("u1", "t2", 4, None),
            ("u12", "t11", 7, None),
        ],
        key=repr,
    )
    assert snap["tracks"] == sorted(
        [
            ("t1", "Title One", "Artist A", str((tmp_path / "audio" / "t1.wav").resolve())),
            ("tcat", "Catalogue Only", "Artist B", None),
            ("t2", None, None, None),
            ("tëst", None, None, None),
            ("t11", None, None, None),
        ],
        key=repr,
    )
    assert snap["tags"] == [("rock",), ("seen live",)]
    assert snap["tag_assignments"] == sorted(
        [
            ("u1", "t1", "rock", None),
            ("u2", "t1", "seen live", None),
            ("u1", "tcat", "seen live", None),
        ],
        key=repr,
    )
    raw = dict(((r[1], r[2]), r[3]) for r in snap["rejects"] if r[0] == str(malformed["listens"]))
    assert raw[(10, "undecodable_text")] == "u9,t\\xff\\xfe,1"
    assert raw[(4, "bad_count")] == "u3,t3,abc"


def test_second_load_of_the_same_input_changes_nothing(engine, malformed):
    first = load_csv(engine, **malformed)
    before = content_snapshot(engine)
    second = load_csv(engine, **malformed)
    assert content_snapshot(engine) == before
    assert set(second.loaded_by_table.values()) == {0}
    assert first.loaded_by_table["listens"] == 4
    with engine.connect() as conn:
        statuses = conn.execute(
            text("SELECT status, rows_in, rows_rejected FROM etl_runs ORDER BY id")
        ).all()
    assert [tuple(s) for s in statuses] == [("ok", 24, 16), ("ok", 24, 16)]


def test_incremental_load_adds_new_rows_and_replaces_changed_counts(engine, tmp_path):
    base = "".join(f"u{i % 7},t{i},{i + 1}\n" for i in range(50))
    load_csv(engine, listens=write(tmp_path / "a.csv", "user,track,count\n" + base))
    grown = base.replace("u1,t1,2\n", "u1,t1,99\n") + "u100,t1,5\nu1,t200,1\n"
    summary = load_csv(engine, listens=write(tmp_path / "b.csv", "user,track,count\n" + grown))
    assert summary.loaded_by_table == {"users": 1, "tracks": 1, "listens": 3, "rejects": 0}
    listens = {(u, t): c for u, t, c, _ in content_snapshot(engine)["listens"]}
    assert len(listens) == 52
    assert listens[("u1", "t1")] == 99
    assert listens[("u100", "t1")] == 5
    assert listens[("u3", "t10")] == 11


def test_duplicate_pairs_in_one_count_file_are_summed(engine, tmp_path):
    load_csv(
        engine, listens=write(tmp_path / "l.csv", "user,track,count\nu1,t1,2\nu1,t1,3\nu2,t1,1\n")
    )
    assert {(u, t): c for u, t, c, _ in content_snapshot(engine)["listens"]} == {
        ("u1", "t1"): 5,
        ("u2", "t1"): 1,
    }


def test_events_are_kept_raw_and_aggregated_incrementally(engine, tmp_path):
    first = write(
        tmp_path / "e1.csv",
        "user,track,timestamp\n"
        "u1,t1,1700000000\n"
        "u1,t1,2023-11-14T22:13:21Z\n"  # ISO-8601 = 1700000001
        "u1,t1,1700000000\n"  # duplicate event: stored once
        "u2,t1,2023-11-14 22:13:30+00:00\n"
        "u2,t2,yesterday\n",  # line 6: bad_timestamp
    )
    load_csv(engine, listens=first)
    assert rejects_of(engine, first) == {(6, "bad_timestamp")}
    snap = content_snapshot(engine)
    assert snap["listen_events"] == [
        ("u1", "t1", 1700000000),
        ("u1", "t1", 1700000001),
        ("u2", "t1", 1700000010),
    ]
    assert snap["listens"] == [("u1", "t1", 2, 1700000001), ("u2", "t1", 1, 1700000010)]

    second = write(
        tmp_path / "e2.csv", "user,track,timestamp\nu1,t1,1700000500\nu1,t1,1700000000\n"
    )
    summary = load_csv(engine, listens=second)
    assert summary.loaded_by_table["listen_events"] == 1
    assert ("u1", "t1", 3, 1700000500) in content_snapshot(engine)["listens"]
    before = content_snapshot(engine)
    load_csv(engine, listens=second)
    assert content_snapshot(engine) == before


def test_latin1_tsv_catalogue_and_parquet_listens(engine, tmp_path):
    catalogue = write(
        tmp_path / "cat.tsv",
        "track\ttitle\tartist\nt1\tCaf\xe9 del Mar\tR\xf6yksopp\n".encode("latin-1"),
    )
    listens = tmp_path / "listens.parquet"
    pq.write_table(
        pa.table({"user": [1, 2, 2], "track": ["t1", "t1", "t2"], "count": [3, 1, 2]}), listens
    )
    summary = load_csv(engine, listens=listens, catalogue=catalogue)
    assert summary.rows_rejected == 0
    snap = content_snapshot(engine)
    assert ("t1", "Café del Mar", "Röyksopp", None) in snap["tracks"]
    assert snap["listens"] == [("1", "t1", 3, None), ("2", "t1", 1, None), ("2", "t2", 2, None)]


def test_explicit_delimiter_and_column_aliases(engine, tmp_path):
    listens = write(tmp_path / "plays.txt", "user_id;track_id;plays\na;b;4\n")
    load_csv(engine, listens=listens, delimiter=";")
    assert content_snapshot(engine)["listens"] == [("a", "b", 4, None)]


def test_sqlite_foreign_keys_are_back_on_after_a_load(sqlite_url, tmp_path):
    """The bulk load skips FK checks on its own connection; pooled ones must get them back."""
    engine = make_engine(sqlite_url)
    load_csv(engine, listens=write(tmp_path / "l.csv", "user,track,count\nu1,t1,1\n"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(Exception, match="FOREIGN KEY"):
            conn.exec_driver_sql(
                "INSERT INTO listens (user_id, track_id, play_count) VALUES (999, 999, 1)"
            )
    engine.dispose()


def test_missing_audio_is_quarantined_at_its_catalogue_line_until_the_file_is_there(
    engine, tmp_path
):
    (tmp_path / "audio").mkdir()
    write(tmp_path / "audio" / "a.wav", b"RIFF")
    catalogue = write(
        tmp_path / "catalogue.csv",
        "track,title,artist,audio_path\n"
        "a,Song A,X,audio/a.wav\n"  # 2 there
        "b,Song B,X,audio/b.wav\n"  # 3 not there
        "c,Song C,X,\n",  # 4 no audio: nothing to miss
    )
    summary = load_csv(engine, catalogue=catalogue)  # a catalogue alone loads
    assert summary.rejected_by_reason == {"audio_missing": 1}
    assert (summary.rows_in, summary.rows_loaded, summary.loaded_by_table["tracks"]) == (3, 2, 3)
    assert rejects_of(engine, catalogue) == {(3, "audio_missing")}
    paths = {t[0]: t[3] for t in content_snapshot(engine)["tracks"]}
    assert paths == {"a": str((tmp_path / "audio" / "a.wav").resolve()), "b": None, "c": None}

    again = load_csv(engine, catalogue=catalogue)  # still missing: the same one reject
    assert again.loaded_by_table["rejects"] == 0 and rejects_of(engine, catalogue) == {
        (3, "audio_missing")
    }
    write(tmp_path / "audio" / "b.wav", b"RIFF")  # the file arrives: reloading takes it
    fixed = load_csv(engine, catalogue=catalogue)
    assert fixed.rows_rejected == 0 and rejects_of(engine, catalogue) == set()
    paths = {t[0]: t[3] for t in content_snapshot(engine)["tracks"]}
    assert paths["b"] == str((tmp_path / "audio" / "b.wav").resolve())


def test_nothing_to_load_is_an_input_error(engine):
    with pytest.raises(InputError, match="nothing to load: give --listens FILE"):
        load_csv(engine)
