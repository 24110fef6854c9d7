"""SIGKILL mid-load, then a re-run: exactly a clean load's content, nothing partial visible."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from bench.synthetic import write_listens
from etl.csv_source import load_csv
from etl.snapshot import content_snapshot
from recommender.storage.engine import make_engine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_listens(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "listens.csv"
    return write_listens(path, users=20_000, items=8_000, rows=300_000, seed=7)


@pytest.fixture(scope="module")
def clean_content(big_listens, tmp_path_factory) -> dict:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('clean') / 'clean.db'}")
    load_csv(engine, listens=big_listens)
    content = content_snapshot(engine)
    engine.dispose()
    return content


def _writing(database_url: str) -> bool:
    """True once the loader holds the write side of its data transaction."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        probe = sqlite3.connect(url.database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True  # locked by the loader's open write transaction
        finally:
            probe.close()
    schema = unquote(url.query["options"]).split("search_path=")[1]
    engine = make_engine(database_url, create_schema=False)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT COUNT(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = :s AND c.relname = 'users' "
                        "AND l.mode = 'RowExclusiveLock'"
                    ),
                    {"s": schema},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _statuses(engine) -> list[str]:
    with engine.connect() as conn:
        return [s for (s,) in conn.execute(text("SELECT status FROM etl_runs ORDER BY id"))]


@pytest.mark.parametrize("kill_point", ["after_run_row", "mid_transaction"])
def test_sigkill_then_rerun_equals_a_clean_load(
    kill_point, database_url, recsys_env, big_listens, clean_content
):
    engine = make_engine(database_url)
    command = [
        sys.executable,
        "-m",
        "recommender.cli.app",
        "--quiet",
        "etl",
        "csv",
        "--listens",
        str(big_listens),
    ]
    proc = subprocess.Popen(
        command, env=recsys_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if _statuses(engine) == ["running"] and (
                kill_point == "after_run_row" or _writing(database_url)
            ):
                break
            time.sleep(0.01)
        if kill_point == "mid_transaction":
            time.sleep(0.2)
        assert proc.poll() is None, "the load finished before it could be killed; use a bigger file"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    # Nothing partial is visible: the data transaction never committed.
    assert _statuses(engine) == ["running"]
    after_crash = content_snapshot(engine)
    assert all(rows == [] for rows in after_crash.values()), {
        k: len(v) for k, v in after_crash.items()
    }
    # the load drops ix_listens_track to rebuild it at the end (empty table): rollback restores it
    assert "ix_listens_track" in {ix["name"] for ix in inspect(engine).get_indexes("listens")}

    rerun = subprocess.run(command, env=recsys_env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert _statuses(engine) == ["interrupted", "ok"]
    assert content_snapshot(engine) == clean_content
    assert len(clean_content["listens"]) == 300_000
    assert "ix_listens_track" in {ix["name"] for ix in inspect(engine).get_indexes("listens")}
    engine.dispose()
