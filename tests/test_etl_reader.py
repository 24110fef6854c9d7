"""Physical line numbers survive quoted values that span lines."""

from __future__ import annotations

from sqlalchemy import text

from etl.csv_source import load_csv


def test_quoted_line_break_is_rejected_and_later_lines_stay_exact(sqlite_url, tmp_path):
    from recommender.storage.engine import make_engine

    engine = make_engine(sqlite_url)
    listens = tmp_path / "listens.csv"
    listens.write_text(
        "user,track,count\n"  # line 1
        'u1,"t\n1",3\n'  # lines 2-3: an id with a line break
        "u2,t2,4\n"  # line 4
        "u3,t3\n"  # line 5: wrong column count
        'u4,"multi\nline\ntrack",2\n'  # lines 6-8
        "u5,t5,-1\n"  # line 9: bad count
        "u6,t6,7\n"  # line 10
    )
    summary = load_csv(engine, listens=listens)
    with engine.connect() as conn:
        rejects = conn.execute(text("SELECT line, reason FROM rejects ORDER BY line")).all()
        loaded = conn.execute(
            text(
                "SELECT u.external_id, t.external_id FROM listens l"
                " JOIN users u ON u.id = l.user_id JOIN tracks t ON t.id = l.track_id"
                " ORDER BY u.external_id"
            )
        ).all()
    assert [tuple(r) for r in rejects] == [
        (2, "line_break_in_id"),
        (5, "wrong_column_count"),
        (6, "line_break_in_id"),
        (9, "bad_count"),
    ]
    assert [tuple(r) for r in loaded] == [("u2", "t2"), ("u6", "t6")]
    assert summary.rows_rejected == 4
