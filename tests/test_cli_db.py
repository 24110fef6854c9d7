"""`recsys db rejects` and `recsys db stats` after a load with bad rows."""

from __future__ import annotations

import json

from tests.conftest import run_cli


def test_db_rejects_lists_quarantined_rows(recsys_env, tmp_path):
    listens = tmp_path / "l.csv"
    listens.write_text("user,track,count\nu1,t1,3\nu2,t2,-1\nu3\n,t4,2\n")
    assert run_cli(["--quiet", "etl", "csv", "--listens", str(listens)], recsys_env).returncode == 0

    result = run_cli(["db", "rejects", "--json"], recsys_env)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["total"] == 3
    assert payload["by_reason"] == {"bad_count": 1, "empty_id": 1, "wrong_column_count": 1}
    rows = {(r["line"], r["reason"], r["raw"]) for r in payload["rejects"]}
    assert rows == {
        (3, "bad_count", "u2,t2,-1"),
        (4, "wrong_column_count", "u3"),
        (5, "empty_id", ",t4,2"),
    }
    assert all(r["file"] == str(listens) for r in payload["rejects"])

    limited = json.loads(run_cli(["db", "rejects", "--json", "-n", "1"], recsys_env).stdout)
    assert len(limited["rejects"]) == 1 and limited["total"] == 3

    table = run_cli(["db", "rejects"], recsys_env)
    assert table.returncode == 0
    assert "wrong_column_count" in table.stdout and "u2,t2,-1" in table.stdout

    stats = json.loads(run_cli(["db", "stats", "--json"], recsys_env).stdout)
    assert stats["counts"]["rejects"] == 3
    assert stats["counts"]["listens"] == 1
    assert stats["last_runs"][0]["rows_rejected"] == 3


def test_db_rejects_on_an_empty_database(recsys_env):
    result = run_cli(["db", "rejects", "--json"], recsys_env)
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"total": 0, "by_reason": {}, "rejects": []}
