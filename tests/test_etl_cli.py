"""`recsys etl csv` / `recsys etl lastfm-2k` as a user runs them: summaries, error paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli, shared_data


def one_line_error(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_csv_summary_as_json(recsys_env, tmp_path):
    listens = tmp_path / "plays.tsv"
    listens.write_text("user\ttrack\tcount\nu1\tt1\t3\nu2\tt1\tzero\n")
    result = run_cli(["--quiet", "etl", "csv", "--listens", str(listens), "--json"], recsys_env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["source"] == "csv"
    assert (summary["rows_in"], summary["rows_loaded"], summary["rows_rejected"]) == (2, 1, 1)
    assert summary["rejected_by_reason"] == {"bad_count": 1}
    assert summary["loaded_by_table"]["listens"] == 1

    table = run_cli(["etl", "csv", "--listens", str(listens), "--delimiter", "tab"], recsys_env)
    assert table.returncode == 0, table.stderr
    assert "rejected: bad_count" in table.stdout
    assert table.stderr == ""  # no progress bar when not on a terminal


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["etl", "csv", "--listens", "{tmp}/missing.csv"], "missing.csv: file not found"),
        (["etl", "csv", "--listens", "{tmp}"], "is a directory"),
        (
            ["etl", "csv", "--listens", "{tmp}/ok.csv", "--tags", "{tmp}/nope.csv"],
            "nope.csv: file not found",
        ),
        (["etl", "csv", "--listens", "{tmp}/noheader.csv"], "lacks column(s)"),
        (["etl", "lastfm-2k", "{tmp}/missing-dir"], "not a directory"),
        (["etl", "lastfm-2k", "{tmp}/ok.csv"], "not a directory"),
        (["etl", "lastfm-2k", "{tmp}"], "missing artists.dat"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(recsys_env, tmp_path, args, expected):
    (tmp_path / "ok.csv").write_text("user,track,count\nu,t,1\n")
    (tmp_path / "noheader.csv").write_text("u1,t1,3\n")
    result = run_cli([a.replace("{tmp}", str(tmp_path)) for a in args], recsys_env)
    assert expected in one_line_error(result)


def test_lastfm_2k_cli_loads_the_shared_data(recsys_env):
    directory = shared_data("hetrec2011-lastfm-2k")
    result = run_cli(["--quiet", "etl", "lastfm-2k", str(directory), "--json"], recsys_env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["loaded_by_table"]["listens"] == 92834
    # tag rows of the 390 artists that have no name in artists.dat are quarantined
    assert summary["rejected_by_reason"] == {"unknown_track": 1538}
    stats = json.loads(run_cli(["db", "stats", "--json"], recsys_env).stdout)
    assert stats["counts"]["tag_assignments"] == 184939
    assert stats["last_runs"][0]["status"] == "ok"


def test_make_etl_target_runs_the_cli(recsys_env, tmp_path):
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    listens = tmp_path / "l.csv"
    listens.write_text("user,track,count\nu1,t1,3\n")
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [
            "make",
            "-s",
            "-o",
            ".venv/.installed",
            "etl",
            "SOURCE=csv",
            f"ETL_ARGS=--listens {listens} --json",
        ],
        cwd=repo,
        env=recsys_env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows_loaded"] == 1
