"""`etl.live.append_listens` (what `POST /listens` stores), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from etl.csv_source import load_csv
from etl.live import append_listens


def listens_table(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT u.external_id, t.external_id, l.play_count, l.last_played FROM listens l"
                " JOIN users u ON u.id = l.user_id JOIN tracks t ON t.id = l.track_id"
                " ORDER BY 1, 2"
            )
        ).all()


def table_rows(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {
            name: conn.execute(text(f"SELECT * FROM {name} ORDER BY 1")).all()
            for name in ("users", "listens", "listen_events", "user_updates")
        }


def loaded(engine, tmp_path: Path):
    """Two users' play counts (no events) over three tracks, as a counts file loads them."""
    listens = tmp_path / "listens.csv"
    listens.write_text("user,track,count\nu1,a,10\nu1,b,2\nu2,c,5\n")
    load_csv(engine, listens)
    return engine


def test_new_events_add_to_counts_and_retries_add_nothing(engine, tmp_path):
    loaded(engine, tmp_path)
    rows = [
        {"user": "u1", "track": "a", "timestamp": 1_700_000_000, "count": 3},
        {"user": "u1", "track": "a", "timestamp": 1_700_000_000},  # the same event again
        {"user": "u1", "track": "a", "timestamp": "2023-11-14T22:13:21Z"},  # 1 s later
        {"user": "u3", "track": "c", "timestamp": 1_600_000_000},  # a new user
        {"user": "u4", "track": "zzz", "timestamp": 1},  # unknown track: u4 is not created
        {"user": "u1", "track": "b", "timestamp": "later"},
        {"user": "u1", "track": "b", "timestamp": 5, "count": -1},
        {"user": "u\n1", "track": "b", "timestamp": 5},
    ]
    first = append_listens(engine, rows)
    assert (first.received, first.added, first.duplicates) == (8, 3, 1)
    assert [(r.row, r.reason) for r in first.rejected] == [
        (4, "unknown_track"),
        (5, "bad_timestamp"),
        (6, "bad_count"),
        (7, "line_break_in_id"),
    ]
    assert sorted(first.updates) == ["u1", "u3"]
    assert listens_table(engine) == [
        ("u1", "a", 10 + 3 + 1, 1_700_000_001),  # counts loaded from a file are kept
        ("u1", "b", 2, None),
        ("u2", "c", 5, None),
        ("u3", "c", 1, 1_600_000_000),
    ]
    stored = table_rows(engine)
    second = append_listens(engine, rows)
    assert (second.added, second.duplicates, second.updates) == (0, 4, {})
    assert table_rows(engine) == stored


def test_the_updates_sequence_orders_users_for_the_server(engine, tmp_path):
    from recommender.services.live import last_update, updated_since, updates_since

    loaded(engine, tmp_path)
    assert last_update(engine) == 0
    a = append_listens(engine, [{"user": "u1", "track": "b", "timestamp": 1}])
    b = append_listens(engine, [{"user": "u2", "track": "a", "timestamp": 1}])
    assert a.updates["u1"] < b.updates["u2"] == last_update(engine)
    assert updates_since(engine, 0) == [("u1", a.updates["u1"]), ("u2", b.updates["u2"])]
    assert updates_since(engine, a.updates["u1"]) == [("u2", b.updates["u2"])]
    assert updated_since(engine, "u1", 0) and not updated_since(engine, "u1", a.updates["u1"])
    assert not updated_since(engine, "nobody", 0)


def test_a_batch_of_only_bad_rows_changes_nothing(engine, tmp_path):
    loaded(engine, tmp_path)
    before = table_rows(engine)
    result = append_listens(engine, [{"user": "", "track": "a", "timestamp": 1}])
    assert [(r.row, r.reason, r.value) for r in result.rejected] == [(0, "empty_id", ",a,1,1")]
    assert result.added == 0 and table_rows(engine) == before
