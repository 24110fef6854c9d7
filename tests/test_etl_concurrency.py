"""Concurrent writers wait for each other, or say so in one line (exit 2).

Two `recsys etl csv` loads into one new database both load everything (SQLite: the
schema is created once, and a load takes the write lock at BEGIN; PostgreSQL waits by
itself). A load that waits longer than RECSYS_LOCK_TIMEOUT stops with "another load is
running", never a traceback-class "unexpected OperationalError".
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from recommender.storage.engine import make_engine
from tests.conftest import run_cli


def _listens(path: Path, prefix: str, rows: int = 4000) -> set[tuple[str, str]]:
    pairs = [(f"{prefix}u{i % 150}", f"{prefix}t{i % 170}") for i in range(rows)]
    path.write_text("user,track,count\n" + "".join(f"{u},{t},2\n" for u, t in pairs))
    return set(pairs)


def _stored(url: str) -> int:
    engine = make_engine(url, create_schema=False)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT COUNT(*) FROM listens")).scalar_one()
    engine.dispose()
    return count


def test_two_loads_into_a_new_database_both_load(recsys_env, database_url, tmp_path):
    expected = _listens(tmp_path / "a.csv", "a") | _listens(tmp_path / "b.csv", "b")
    loads = [
        subprocess.Popen(
            [sys.executable, "-m", "recommender.cli.app", "--quiet", "etl", "csv",
             "--listens", str(tmp_path / f"{name}.csv")],
            env=recsys_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name in ("a", "b")
    ]  # fmt: skip
    results = [(load.wait(timeout=120), load.stderr.read()) for load in loads]
    for load in loads:
        load.stdout.close()
        load.stderr.close()
    assert results == [(0, ""), (0, "")]
    assert _stored(database_url) == len(expected)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_load_blocked_too_long_says_another_load_is_running(recsys_env, sqlite_url, tmp_path):
    first = _listens(tmp_path / "a.csv", "a", rows=300)
    _listens(tmp_path / "b.csv", "b", rows=300)
    env = {**recsys_env, "RECSYS_DATABASE_URL": sqlite_url, "RECSYS_LOCK_TIMEOUT": "0.5"}
    assert (
        run_cli(["--quiet", "etl", "csv", "--listens", str(tmp_path / "a.csv")], env).returncode
        == 0
    )
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer, mid-load
    try:
        blocked = run_cli(["--quiet", "etl", "csv", "--listens", str(tmp_path / "b.csv")], env)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert blocked.returncode == 2
    assert blocked.stderr.count("\n") == 1 and "Traceback" not in blocked.stderr
    assert blocked.stderr.startswith("error: another load is running: the database ")
    assert "stayed locked by another writer for 0.5 s" in blocked.stderr
    assert _stored(sqlite_url) == len(first)  # the earlier load's rows are all kept


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("value", ["soon", "-1"])
def test_a_bad_lock_timeout_is_a_usage_error(recsys_env, sqlite_url, tmp_path, value):
    _listens(tmp_path / "a.csv", "a", rows=10)
    env = {**recsys_env, "RECSYS_DATABASE_URL": sqlite_url, "RECSYS_LOCK_TIMEOUT": value}
    result = run_cli(["--quiet", "etl", "csv", "--listens", str(tmp_path / "a.csv")], env)
    assert (result.returncode, result.stderr) == (
        2,
        f"error: RECSYS_LOCK_TIMEOUT={value!r} is not a number of seconds between 0 and 86400;"
        " set it to how long a write waits for another load (default 30)\n",
    )
