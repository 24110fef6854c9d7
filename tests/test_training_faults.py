"""`recsys train` SIGKILLed at named points (RECSYS_FAULT) leaves nothing behind.

After every kill the current recommender bundle is whole and the current tagger is the one
it was trained with; the next run removes the killed run's temp folders, unpublished
bundles and their predicted_tags, so only predictions of existing tagger bundles remain.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from recommender.services.bundles import (
    RECOMMENDER,
    TAGGER,
    current_path,
    kind_dir,
    read_recommender,
    recommender_tagger,
)
from recommender.storage.schema import PredictedTag, TrackNovelty
from tests.conftest import run_cli

TRAIN = ["--quiet", "train", "--no-validate", "--tagger", "linear", "--json"]


@pytest.fixture
def demo_env(recsys_env, engine, tmp_path):
    from etl.audio_scan import scan_catalogue
    from etl.demo import load_demo

    home = Path(recsys_env["RECSYS_HOME"])
    load_demo(engine, home, users=24, tracks=24, seed=1, clip_seconds=1.0)
    scan_catalogue(engine, workers=1, base_dir=home)
    return recsys_env


def _train(env: dict[str, str], fault: str | None = None):
    return run_cli(TRAIN, {**env, "RECSYS_FAULT": fault} if fault else env, timeout=300)


def _versions(engine) -> set[str]:
    with engine.connect() as conn:
        predicted = set(conn.execute(select(PredictedTag.model_version).distinct()).scalars())
        flagged = set(conn.execute(select(TrackNovelty.model_version).distinct()).scalars())
    return predicted | flagged


def _hidden(models: Path) -> list[str]:
    return sorted(
        p.name
        for folder in (models, *models.glob("*"))
        if folder.is_dir()
        for p in folder.iterdir()
        if p.name.startswith(".")
    )


def _assert_whole_and_agreeing(models: Path, published: str) -> None:
    """The current recommender is `published`, reads back verified, and names the tagger."""
    path = current_path(models, RECOMMENDER)
    assert path.name == published
    read_recommender(path, mmap=False)  # every checksum verified, every array read
    named = recommender_tagger(models)
    assert named is not None and current_path(models, TAGGER).name == named


def _run_kills(env, engine, faults: list[str]) -> None:
    models = Path(env["RECSYS_HOME"]) / "models"
    first = _train(env)
    assert first.returncode == 0, first.stderr
    published = json.loads(first.stdout)["version"]
    for fault in faults:
        killed = _train(env, fault)
        assert killed.returncode == -signal.SIGKILL, (fault, killed.stderr)
        if fault == "after-publish":  # the commit happened: the new bundle and its tagger
            published = max(p.name for p in kind_dir(models, RECOMMENDER).iterdir() if p.is_dir())
        _assert_whole_and_agreeing(models, published)
    final = _train(env)
    assert final.returncode == 0 and final.stderr == "", final.stderr
    report = json.loads(final.stdout)
    _assert_whole_and_agreeing(models, report["version"])
    assert report["tagger"]["model_version"] == recommender_tagger(models)
    assert (models / TAGGER / "current").read_text().strip() == recommender_tagger(models)
    assert _hidden(models) == []  # no temp folder, pointer temp or lease survives
    taggers = {p.name for p in kind_dir(models, TAGGER).iterdir() if p.is_dir()}
    assert _versions(engine) == taggers  # only predictions of bundles that exist
    # no unpublished bundle of a killed run is kept: every one is at most the current
    assert max(taggers) == report["tagger"]["model_version"]
    assert (
        max(p.name for p in kind_dir(models, RECOMMENDER).iterdir() if p.is_dir())
        == (report["version"])
    )


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_killed_train_leaves_nothing_behind_sqlite(demo_env, engine):
    _run_kills(
        demo_env,
        engine,
        [
            "after-tagger",  # between the tagger and the recommender bundle
            "bundle-write:recommender",  # inside the recommender's bundle write
            "after-publish",  # after the commit, before the tagger pointer caught up
        ],
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_killed_train_leaves_nothing_behind_postgres(demo_env, engine):
    _run_kills(demo_env, engine, ["bundle-write:tagger", "tagger-stored", "before-publish"])


def test_retention_keeps_the_newest_and_the_current(tmp_path, monkeypatch):
    """RECSYS_KEEP_MODELS bundles per kind, newest first; the current one always."""
    from recommender.errors import InputError
    from recommender.services.bundles import KEEP_VARIABLE, keep_setting, publish, tidy

    folder = kind_dir(tmp_path, TAGGER)
    names = [f"tagger-2026010{i}T000000000000-linear-abcd" for i in range(1, 6)]
    for name in names:
        (folder / name).mkdir(parents=True)
    publish(tmp_path, TAGGER, names[0])  # an old tagger made current again by hand
    assert tidy(tmp_path, keep=2) == {names[0]}  # newer than current: never published
    for name in names[1:]:
        (folder / name).mkdir()
    publish(tmp_path, TAGGER, names[4])
    assert tidy(tmp_path, keep=2) == {names[4], names[3]}
    monkeypatch.setenv(KEEP_VARIABLE, "0")
    with pytest.raises(InputError, match="RECSYS_KEEP_MODELS='0' is not a whole number >= 1"):
        keep_setting()
