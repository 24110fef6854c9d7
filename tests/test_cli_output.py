"""Output for people, as a user meets it: numbers with thousands separators, a line that
says why instead of an empty table, cells folded rather than cut; and the dead ends on the
way to a tagger, each of which now names the next step."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from recommender.cli.output import number
from tests.conftest import run_cli


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A fresh home on SQLite; output as wide as a pipe gets (80 columns)."""
    env = dict(os.environ, RECSYS_HOME=str(tmp_path / "home"))
    env["RECSYS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'home' / 'recsys.db'}"
    for name in ("RECSYS_DEBUG", "COLUMNS"):
        env.pop(name, None)
    return env


def ok(result) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def error_line(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_number_formats_counts_and_measures_for_people():
    assert number(1538) == "1,538"
    assert number(0) == "0"
    assert number(1234567.891, 1) == "1,234,567.9"
    assert number(12.5, 0) == "12"  # round half to even, as format does
    assert number(True) == "True"


def test_every_count_shown_has_thousands_separators(env, tmp_path):
    good = "".join(f"u{i % 40},t{i},{i % 5 + 1}\n" for i in range(1200))
    bad = "".join(f"u{i},t{i},zero\n" for i in range(1538))
    plays = tmp_path / "plays.csv"
    plays.write_text("user,track,count\n" + good + bad)
    summary = ok(run_cli(["etl", "csv", "--listens", str(plays)], env))
    for row in ("rows in 2,738", "rows loaded 1,200", "rows rejected 1,538"):
        assert row in " ".join(summary.split()), summary
    assert "rejected: bad_count 1,538" in " ".join(summary.split())
    stats = " ".join(ok(run_cli(["db", "stats"], env)).split())
    assert "tracks 1,200" in stats and "listens 1,200" in stats and "rejects 1,538" in stats
    assert re.search(r"csv ok \S+ 2,738 1,200 1,538", stats), stats
    rejects = " ".join(ok(run_cli(["db", "rejects", "-n", "2"], env)).split())
    assert "rejects (1,538 in total, newest first)" in rejects and "bad_count 1,538" in rejects
    for shown in (summary, stats, rejects):
        assert not re.search(r"\b(1538|1200|2738)\b", shown), shown


def test_empty_results_say_why(env):
    assert ok(run_cli(["db", "rejects"], env)).strip() == (
        "no rejects: every row loaded so far was accepted"
    )
    stats = ok(run_cli(["db", "stats"], env))
    assert stats.strip().endswith(
        "last ETL runs: none yet (load data with `recsys etl demo`, `recsys etl csv` or"
        " `recsys etl lastfm-2k`)"
    )


def test_empty_model_answers_say_why(env, tmp_path):
    plays = tmp_path / "plays.csv"
    plays.write_text("user,track,count\nu1,t1,3\nu2,t1,2\nu3,t1,1\nu1,t2,1\n")
    ok(run_cli(["-q", "etl", "csv", "--listens", str(plays)], env))
    ok(run_cli(["-q", "train", "--no-validate"], env))
    cases = {
        ("recommend", "--user", "u1"): "recommendations for u1: nothing to list (every"
        " candidate is already played or filtered out)",
        ("user-tags", "--user", "u1"): "tag profile of u1: no tags (none applied by this"
        " user, none on the tracks they played)",
        ("audience", "--track", "t1"): "audience for t1: no user to reach (every user the"
        " model knows has already played it)",
    }
    for args, why in cases.items():
        result = run_cli(list(args), env)
        assert ok(result).strip() == why and result.stderr == "", args
    assert json.loads(ok(run_cli(["recommend", "--user", "u1", "--json"], env))) == []


def test_long_paths_are_folded_whole_in_tables(env, tmp_path):
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "catalogue-with-a-long-name.csv"
    deep.parent.mkdir()
    deep.write_text("track,title,artist,audio_path\nt1,One,Someone,audio/t1.wav\n")
    ok(run_cli(["etl", "csv", "--catalogue", str(deep)], env))
    table = ok(run_cli(["db", "rejects"], env))
    assert "…" not in table
    lines = table.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["run", "file"])
    start, end = lines[header].index("file"), lines[header].index("line")
    rows = lines[header + 2 :]
    rows = rows[: next(i for i, line in enumerate(rows) if not line.strip())]  # the table's end
    file_cell = "".join(line[start:end].strip() for line in rows)
    assert file_cell == str(deep)


def test_tag_in_a_new_home_says_how_to_get_a_tagger(env, tmp_path):
    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF")
    line = error_line(run_cli(["tag", str(song)], env))
    assert line == (
        f"error: no trained tagger in {Path(env['RECSYS_HOME']) / 'models' / 'tagger'}; no"
        " track in the database has an audio file: list your audio files in a catalogue"
        " (columns track,audio_path; paths relative to it) and load it with `recsys etl csv"
        " --catalogue FILE`, then scan it with `recsys etl audio`, then train one with"
        " `recsys train tagger --labels FILE` (your labels: columns track,tag)"
    )
    trained = error_line(run_cli(["-q", "train", "tagger"], env))
    assert trained.startswith(
        "error: no audio features to train a tagger on: no track in the database has an"
        " audio file: list your audio files in a catalogue"
    )
    assert trained.endswith("then scan it with `recsys etl audio`")


def test_etl_audio_with_nothing_to_scan_says_what_to_do(env):
    result = run_cli(["etl", "audio"], env)
    assert ok(result).strip() == (
        "nothing to scan: no track in the database has an audio file; list your audio files"
        " in a catalogue (columns track,audio_path; paths relative to it) and load it with"
        " `recsys etl csv --catalogue FILE` (or try `recsys etl demo`)"
    )
    assert json.loads(ok(run_cli(["etl", "audio", "--json"], env)))["tracks"] == 0


def test_catalogue_alone_loads_and_missing_audio_is_quarantined_at_its_line(env, tmp_path):
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "a.wav").write_bytes(b"RIFF")
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text("track,title,artist,audio_path\na,A,X,audio/a.wav\nb,B,X,audio/b.wav\n")
    loaded = json.loads(ok(run_cli(["etl", "csv", "--catalogue", str(catalogue), "--json"], env)))
    assert (loaded["source"], loaded["rows_in"], loaded["rows_rejected"]) == ("csv", 2, 1)
    assert loaded["loaded_by_table"]["tracks"] == 2
    rejects = json.loads(ok(run_cli(["db", "rejects", "--json"], env)))
    assert [(r["file"], r["line"], r["reason"], r["raw"]) for r in rejects["rejects"]] == [
        (str(catalogue), 3, "audio_missing", "b,B,X,audio/b.wav")
    ]
    # one track has audio now: the hint moves on to scanning it
    line = error_line(run_cli(["tag", str(tmp_path / "audio" / "a.wav")], env))
    assert line.endswith(
        "no audio scanned yet (1 track(s) have audio files): run `recsys etl audio`, then"
        " train one with `recsys train tagger --labels FILE` (your labels: columns track,tag)"
    )
    nothing = error_line(run_cli(["etl", "csv"], env))
    assert nothing == (
        "error: nothing to load: give --listens FILE, --tags FILE and/or --catalogue FILE"
    )


def test_table_cells_are_text_not_markup(env, tmp_path):
    plays = tmp_path / "[live] plays.csv"
    plays.write_text("user,track,count\n[bold]u1[/bold],t1,zero\n")
    ok(run_cli(["etl", "csv", "--listens", str(plays)], env))
    table = ok(run_cli(["db", "rejects"], env))
    assert "[bold]u1[/bold],t1,zero" in table and "[live]" in table
