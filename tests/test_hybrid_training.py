"""`train_bundle` on the demo with audio: validation grades with leak-free predicted tags, and the
bundle reads the predictions of the tagger it just trained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import insert, select

pytestmark = pytest.mark.slow

STALE_VERSION = "tagger-99991231T235959999999-stale"  # sorts after any real tagger version


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import recommender.services.split_tagger as split_tagger
    from etl.audio_scan import scan_catalogue
    from etl.demo import load_demo
    from recommender.services.training import train_bundle
    from recommender.storage.engine import make_engine
    from recommender.storage.schema import PredictedTag, Tag, Track

    home: Path = tmp_path_factory.mktemp("hybrid-training")
    engine = make_engine(f"sqlite:///{home / 'recsys.db'}")
    load_demo(engine, home, users=50, tracks=60, seed=2, clip_seconds=2.0)
    scan_catalogue(engine, workers=1, base_dir=home)
    with engine.begin() as conn:  # predictions of some other, later-stamped tagger run
        tag = conn.execute(select(Tag.id).order_by(Tag.id)).scalars().first()
        tracks = conn.execute(select(Track.id)).scalars().all()
        conn.execute(
            insert(PredictedTag),
            [
                {"track_id": t, "tag_id": tag, "model_version": STALE_VERSION, "probability": 1.0}
                for t in tracks
            ],
        )

    refits = []  # training tag events of every split the validation refit the tagger on
    original = split_tagger.refit_predicted_tags

    def recording_refit(engine, split, **kwargs):
        refits.append(len(split.train.tag_events))
        return original(engine, split, **kwargs)

    patch = pytest.MonkeyPatch()
    patch.setattr(split_tagger, "refit_predicted_tags", recording_refit)
    try:
        report = train_bundle(
            engine,
            home / "models",
            model="als",
            cf_params={"factors": 8},
            seed=3,
            tagger=True,
            reranker=True,
        )
    finally:
        patch.undo()
    manifest = json.loads((Path(report.path) / "manifest.json").read_text())
    yield report, manifest, refits
    engine.dispose()


def test_bundle_reads_the_predictions_of_the_tagger_it_trained(trained):
    report, manifest, _ = trained
    assert report.tagger and report.tagger["model_version"] != STALE_VERSION
    assert manifest["data"]["predicted_tags_model"] == report.tagger["model_version"]


def test_validation_refits_the_tagger_on_the_split_training_tags(trained):
    report, manifest, refits = trained
    assert len(refits) == 1 and 0 < refits[0] < manifest["data"]["tag_assignments"]
    notes = manifest["metrics"]["notes"]
    assert "refit on training tags only" in notes[0]
    assert notes[1] == "predicted tags: split-refit-linear-seed3"
    assert set(manifest["metrics"]) == {"split", "seed", "notes", "hybrid", "rerank"}
    for ranker in ("hybrid", "rerank"):
        assert manifest["metrics"][ranker]["ndcg@10"] >= 0, manifest["metrics"][ranker]
    assert report.metrics == manifest["metrics"]
    # the re-ranker is served exactly when it beat the blend on held-out plays
    won = manifest["metrics"]["rerank"]["ndcg@10"] > manifest["metrics"]["hybrid"]["ndcg@10"]
    assert manifest["ranker"] == ("rerank" if won else "hybrid") == report.ranker
    assert manifest["ranker_reason"].startswith("re-ranker:" if won else "blend:")
    served = json.loads((Path(report.path) / "parts" / "ranker" / "component.json").read_text())
    assert served["component"] == report.ranker
    hybrid = served["config"]["hybrid"] if won else served["config"]
    assert hybrid["cf"]["name"] == "als"
    assert hybrid["cf"]["config"]["factors"] == 8  # the CF parameters given, never dropped
    assert hybrid["cf"]["config"]["seed"] == 3


def test_the_readme_example_trains_and_recommends(tmp_path):
    """README "Loading your own files", run as written, then `recsys train`: two users and one
    track are too few to validate on, which is said in one line, not a crash."""
    import os
    import re
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("### Loading your own files") :]
    script = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    env = dict(os.environ, RECSYS_HOME=str(tmp_path / "home"))
    env.pop("RECSYS_DATABASE_URL", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    loaded = subprocess.run(
        ["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert loaded.returncode == 0, loaded.stderr
    trained = subprocess.run(
        ["recsys", "train", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    assert report["ranker"] == "hybrid" and report["users"] == 2 and report["items"] == 1
    assert report["metrics"]["skipped"].startswith("validation skipped: ")
    listed = subprocess.run(
        ["recsys", "recommend", "--user", "bob", "--include-listened", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0, listed.stderr
    assert [r["item_id"] for r in json.loads(listed.stdout)] == ["t1"]
