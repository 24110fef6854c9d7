"""The columnar reader gives exactly what SQL gives, on SQLite and PostgreSQL, across chunks."""

import numpy as np
from sqlalchemy import insert, text

from recommender.services.int_columns import NULL_INT, read_int_columns
from recommender.storage.schema import Listen, Track, User


def _fill(engine, n_users: int = 7, n_tracks: int = 5) -> list[dict]:
    rows = [
        {
            "user_id": u + 1,
            "track_id": t + 1,
            "play_count": (u * 31 + t * 7) % 1000 + 1 + (2**40 if u == 0 and t == 0 else 0),
            "last_played": None if (u + t) % 3 == 0 else 1_600_000_000 + u * 100 + t,
        }
        for u in range(n_users)
        for t in range(n_tracks)
        if (u + 2 * t) % 4 != 1
    ]
    with engine.begin() as conn:
        conn.execute(insert(User), [{"id": u + 1, "external_id": f"u{u}"} for u in range(n_users)])
        conn.execute(
            insert(Track), [{"id": t + 1, "external_id": f"t{t}"} for t in range(n_tracks)]
        )
        conn.execute(insert(Listen), rows)
    return rows


def _sorted(columns: dict[str, np.ndarray]) -> list[tuple]:
    return sorted(zip(*(columns[c].tolist() for c in columns), strict=True))


def test_reads_every_row_with_nulls_and_big_values_in_any_chunk_size(engine):
    rows = _fill(engine)
    expected = sorted(
        (
            r["user_id"],
            r["track_id"],
            r["play_count"],
            NULL_INT if r["last_played"] is None else r["last_played"],
        )
        for r in rows
    )
    names = ["user_id", "track_id", "play_count", "last_played"]
    for chunk_rows in (1, 3, len(rows), 10_000):
        with engine.connect() as conn:
            got = read_int_columns(conn, "listens", names, chunk_rows=chunk_rows)
        assert list(got) == names
        assert all(a.dtype == np.int64 for a in got.values())
        assert _sorted(got) == expected


def test_empty_table_gives_empty_arrays(engine):
    with engine.connect() as conn:
        got = read_int_columns(conn, "tag_assignments", ["user_id", "track_id", "tag_id"])
        # the connection is still usable afterwards (the COPY / cursor was closed)
        assert conn.execute(text("SELECT COUNT(*) FROM listens")).scalar() == 0
    assert {k: v.shape for k, v in got.items()} == {
        "user_id": (0,),
        "track_id": (0,),
        "tag_id": (0,),
    }
