"""The etl_runs lifecycle: how a load's end (ok, error, Ctrl-C) is recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import text

import etl.csv_source
import etl.runs
from etl.csv_source import load_csv
from etl.runs import tracked_run


def _runs(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("SELECT source, status, message, rows_in FROM etl_runs ORDER BY id")
            )
        ]


def test_ok_run_records_counts_seconds_and_message(engine):
    with tracked_run(engine, "test", {"x": 1}, ok_message=lambda: "all good") as run:
        assert _runs(engine) == [("test", "running", None, 0)]
        run.rows_in = 7
    assert run.seconds > 0
    assert _runs(engine) == [("test", "ok", "all good", 7)]


def test_error_is_failed_with_its_first_line_and_reraised(engine):
    with pytest.raises(ValueError, match="bad value") as caught:
        with tracked_run(engine, "test", {}) as run:
            run.rows_in = 3
            raise ValueError("bad value in x.csv line 4\nmore detail")
    # nothing committed: the run log counts no rows and says so
    assert _runs(engine) == [
        ("test", "failed", "bad value in x.csv line 4 (nothing committed)", 0)
    ]
    assert not getattr(caught.value, "__notes__", None)


def test_ctrl_c_is_interrupted_not_failed(engine):
    with pytest.raises(KeyboardInterrupt):
        with tracked_run(engine, "test", {}):
            raise KeyboardInterrupt
    assert _runs(engine) == [("test", "interrupted", "KeyboardInterrupt (nothing committed)", 0)]


def test_ctrl_c_during_a_real_load_is_interrupted_and_loads_nothing(engine, tmp_path, monkeypatch):
    listens = tmp_path / "listens.csv"
    listens.write_text("user,track,count\nu1,t1,3\n")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(etl.csv_source, "read_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_csv(engine, listens=listens)
    assert [(source, status) for source, status, *_ in _runs(engine)] == [("csv", "interrupted")]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM listens")).scalar_one() == 0


def test_original_error_survives_a_failing_finish_run(engine, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(etl.runs, "finish_run", broken)
    with pytest.raises(ValueError, match="the real problem") as caught:
        with tracked_run(engine, "test", {}):
            raise ValueError("the real problem")
    notes = caught.value.__notes__
    assert len(notes) == 1 and "database went away" in notes[0] and "'failed'" in notes[0]
    assert "database went away" in caplog.text
    # the row could not be finished; the next run's stale-run check is what retires it
    assert _runs(engine) == [("test", "running", None, 0)]
