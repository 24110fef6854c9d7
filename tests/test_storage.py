from sqlalchemy import inspect

from recommender.storage.stats import database_stats
from tests.conftest import run_cli


def test_schema_has_every_table_of_the_data_model(engine):
    tables = set(inspect(engine).get_table_names())
    assert {
        "users",
        "tracks",
        "listens",
        "listen_events",
        "tags",
        "tag_assignments",
        "track_features",
        "predicted_tags",
        "etl_runs",
        "rejects",
    } <= tables


def test_empty_database_stats(engine):
    stats = database_stats(engine)
    assert stats["counts"]["users"] == 0
    assert stats["last_runs"] == []


def test_sqlite_uses_wal(tmp_path):
    from recommender.storage.engine import make_engine

    eng = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_unreachable_database_is_one_line_exit_1(tmp_path):
    env = {
        "RECSYS_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none",
        "PATH": "/usr/bin",
    }
    result = run_cli(["db", "stats"], env)
    assert result.returncode == 1
    assert result.stderr.startswith("error: database error")
    assert "Traceback" not in result.stderr
