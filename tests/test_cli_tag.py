"""`recsys tag`, `recsys train tagger` and `recsys etl audio` as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.audio_signals import make_catalogue, render, wav_with_header, write
from tests.conftest import run_cli, shared_data


def _one_error_line(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    # warnings about files that were tagged (out of distribution) are not errors
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture
def sqlite_env(tmp_path, sqlite_url):
    import os

    env = dict(os.environ, RECSYS_HOME=str(tmp_path / "home"), RECSYS_DATABASE_URL=sqlite_url)
    env.pop("RECSYS_DEBUG", None)
    return env


def test_tag_without_a_model_is_one_line(sqlite_env, tmp_path):
    line = _one_error_line(run_cli(["tag", str(tmp_path / "missing.wav")], sqlite_env))
    assert "recsys train tagger" in line


def test_scan_train_and_tag(sqlite_env, sqlite_url, tmp_path):
    from recommender.storage.engine import make_engine

    make_catalogue(make_engine(sqlite_url), tmp_path / "audio", tracks=30)
    scan = run_cli(["--quiet", "etl", "audio", "--workers", "1", "--json"], sqlite_env)
    assert scan.returncode == 0, scan.stderr
    assert json.loads(scan.stdout)["extracted"] == 30
    train = run_cli(["train", "tagger", "--model", "linear", "--json"], sqlite_env)
    assert train.returncode == 0, train.stderr
    report = json.loads(train.stdout)
    assert (
        report["tags"] == ["noisy", "percussive", "tonal"]
        and report["held_out"]["macro_roc_auc"] > 0.9
    )
    bad = run_cli(["train", "tagger", "--model", "svm"], sqlite_env)
    assert "svm" in _one_error_line(bad)

    rng = np.random.default_rng(5)
    tone = write(tmp_path / "tone.wav", render("tonal", rng))
    noise = write(tmp_path / "noise.flac", render("noisy", rng))
    ok = run_cli(["tag", str(tone), str(noise), "--top", "2", "--json"], sqlite_env)
    assert ok.returncode == 0, ok.stderr
    body = json.loads(ok.stdout)
    results = body["results"]
    assert [r["tags"][0]["tag"] for r in results] == ["tonal", "noisy"]
    assert all(len(r["tags"]) == 2 for r in results)
    # each file says how unlike the training audio it is, and a file unlike it gets a warning
    # (with 27 training clips the noise is typical, this tone a rare draw: 35.0 > 28.9)
    assert body["novelty_threshold"] > 0
    assert all(r["in_distribution"] == (r["novelty"] <= body["novelty_threshold"]) for r in results)
    flagged = [r["file"] for r in results if not r["in_distribution"]]
    warnings = [line for line in ok.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == len(flagged)
    assert all(f in w for f, w in zip(flagged, warnings, strict=True))
    table = run_cli(["tag", str(tone)], sqlite_env)
    assert table.returncode == 0 and "tonal" in table.stdout

    missing = run_cli(["tag", str(tmp_path / "missing.wav")], sqlite_env)
    assert "missing.wav" in _one_error_line(missing)
    stub = tmp_path / "stub.ogg"
    stub.write_text("not audio\n")
    mixed = run_cli(["tag", str(tone), str(stub), "--json"], sqlite_env)  # good data is not lost
    assert "stub.ogg" in _one_error_line(mixed)
    assert json.loads(mixed.stdout)["results"][0]["file"] == str(tone)

    # malformed headers, FIFOs, devices and files over the byte cap: one line each, exit 2,
    # and the good file beside them is still printed
    import os

    sr0 = wav_with_header(tmp_path / "sr0.wav", sample_rate=0)
    fifo = tmp_path / "fifo.wav"
    os.mkfifo(fifo)
    long = write(tmp_path / "long.wav", render("tonal", np.random.default_rng(9), seconds=6.0))
    bad = [sr0, fifo, "/dev/zero", long]
    capped = dict(sqlite_env, RECSYS_AUDIO_MAX_BYTES=str(tone.stat().st_size))
    hostile = run_cli(["tag", str(tone), *map(str, bad), "--json"], capped, timeout=120)
    assert hostile.returncode == 2 and "Traceback" not in hostile.stderr, hostile.stderr
    assert [r["file"] for r in json.loads(hostile.stdout)["results"]] == [str(tone)]
    errors = [line for line in hostile.stderr.splitlines() if not line.startswith("warning: ")]
    assert all(e.startswith("error: ") for e in errors)
    assert [e.split(": ")[1] for e in errors] == list(map(str, bad))
    assert "malformed header (sample rate 0 Hz" in errors[0]
    assert "not a regular file" in errors[1] and "not a regular file" in errors[2]
    assert "-byte cap per audio file" in errors[3]

    # a tagger bundle written before novelty detection still tags: nulls, no warning
    from recommender.services.bundles import TAGGER, current_path
    from tests.test_tagging_novelty import strip_novelty

    strip_novelty(current_path(tmp_path / "home" / "models", TAGGER))
    old = run_cli(["tag", str(tone), str(noise), "--top", "2", "--json"], sqlite_env)
    assert old.returncode == 0 and "warning" not in old.stderr, old.stderr
    old_body = json.loads(old.stdout)
    assert old_body["novelty_threshold"] is None
    assert [(r["novelty"], r["in_distribution"]) for r in old_body["results"]] == [(None, None)] * 2
    assert [r["tags"] for r in old_body["results"]] == [r["tags"] for r in results]


@pytest.mark.shared_data
def test_tag_the_librosa_stub(sqlite_env, sqlite_url, tmp_path):
    stub = shared_data("librosa-examples", "Karissa_Hobbs_-_Let's_Go_Fishin'.ogg")
    from etl.audio_scan import scan_catalogue
    from recommender.services.tagger_training import train_tagger
    from recommender.storage.engine import make_engine

    engine = make_engine(sqlite_url)
    make_catalogue(engine, tmp_path / "audio", tracks=24)
    scan_catalogue(engine, workers=1)
    train_tagger(engine, tmp_path / "home" / "models", kind="linear")
    line = _one_error_line(run_cli(["tag", str(stub)], sqlite_env))
    assert "Let's_Go_Fishin'.ogg" in line and "cannot decode" in line
