"""The tagger's out-of-distribution check: known answers on Gaussian samples, the bundle round
trip, and the demo tagger against real speech and birdsong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recommender.tagging.novelty import NoveltyConfig, NoveltyDetector
from tests.conftest import run_cli, shared_data


def gaussian(n: int = 400, d: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * np.arange(1, d + 1) + 10.0  # scales 1..d, mean 10


def test_mean_scores_zero_and_a_far_point_exceeds_the_threshold():
    X = gaussian()
    detector = NoveltyDetector().fit(X)
    assert detector.score(X.mean(axis=0)[None, :])[0] == pytest.approx(0.0, abs=1e-9)
    far = X.mean(axis=0) + 20 * X.std(axis=0)  # 20 standard deviations along every axis
    assert detector.score(far[None, :])[0] > 3 * detector.threshold
    assert not detector.in_distribution(detector.score(far[None, :]))[0]


def test_score_is_the_mahalanobis_distance_when_shrinkage_is_negligible():
    # n >> d: Ledoit-Wolf barely shrinks, so the score is the plain Mahalanobis distance.
    X = gaussian(n=20_000, d=3, seed=1)
    detector = NoveltyDetector().fit(X)
    point = X.mean(axis=0) + np.array([2.0, 0.0, 0.0]) * X.std(axis=0)
    assert detector.score(point[None, :])[0] == pytest.approx(2.0, rel=0.02)
    # squared distances of the clips themselves average d (the chi-square mean)
    assert np.mean(detector.score(X) ** 2) == pytest.approx(3.0, rel=0.02)


def test_threshold_is_the_quantile_of_the_calibration_scores():
    X = gaussian()
    detector = NoveltyDetector(NoveltyConfig(quantile=0.9)).fit(X)
    assert detector.calibration == "out-of-fold" and len(detector.calibration_scores_) == len(X)
    assert detector.threshold == np.quantile(detector.calibration_scores_, 0.9)
    # out-of-fold scores are honest: about 10% of new clips from the distribution exceed it
    fresh = gaussian(n=4000, seed=7)
    rate = 1 - detector.in_distribution(detector.score(fresh)).mean()
    assert 0.05 < rate < 0.15

    held = gaussian(n=50, seed=3)
    explicit = NoveltyDetector().fit(X, held_out=held)
    assert explicit.calibration == "held-out"
    np.testing.assert_allclose(explicit.calibration_scores_, explicit.score(held))
    assert explicit.threshold == np.quantile(explicit.score(held), 0.99)


def test_more_features_than_clips_and_constant_features():
    rng = np.random.default_rng(2)
    X = np.hstack([rng.normal(size=(30, 80)), np.ones((30, 2))])  # d > n, two constant columns
    detector = NoveltyDetector().fit(X)
    scores = detector.score(X)
    assert np.all(np.isfinite(scores)) and np.isfinite(detector.threshold)
    assert detector.score(X[:1] + 50.0)[0] > detector.threshold


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.zeros((3, 2)), ">= 4 clips"),
        (np.zeros(5), "(n, d) matrix"),
        (np.full((5, 2), np.nan), "NaN"),
    ],
)
def test_bad_input_is_a_value_error(X, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        NoveltyDetector().fit(X)


def test_scoring_a_matrix_of_another_width_is_refused():
    detector = NoveltyDetector().fit(gaussian(d=4))
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        detector.score(np.zeros((1, 5)))


def test_bundle_round_trip_is_arrays_only(tmp_path):
    X = gaussian()
    detector = NoveltyDetector(NoveltyConfig(quantile=0.95, seed=3)).fit(X)
    detector.save(tmp_path / "novelty")
    assert sorted(p.name for p in (tmp_path / "novelty" / "arrays").iterdir()) == [
        "calibration_scores.npy",
        "mean.npy",
        "precision.npy",
        "scale.npy",
    ]
    loaded = NoveltyDetector.load(tmp_path / "novelty")
    assert loaded.config == detector.config
    assert (loaded.threshold, loaded.calibration) == (detector.threshold, "out-of-fold")
    probe = gaussian(n=20, seed=9)
    np.testing.assert_array_equal(loaded.score(probe), detector.score(probe))


# ---- in the tagger bundle ---------------------------------------------------------------------
def strip_novelty(bundle: Path) -> None:
    """Rewrite tagger bundle `bundle` as written before novelty detection: no novelty part, no
    novelty in its config or manifest, checksums to match."""
    import hashlib
    import shutil

    shutil.rmtree(bundle / "parts" / "novelty")
    component = json.loads((bundle / "component.json").read_text())
    del component["config"]["novelty"]
    component["parts"].remove("novelty")
    (bundle / "component.json").write_text(json.dumps(component, indent=2, sort_keys=True))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest.pop("novelty", None)
    manifest["files"] = {
        name: digest
        for name, digest in manifest["files"].items()
        if not name.startswith("parts/novelty/")
    }
    manifest["files"]["component.json"] = hashlib.sha256(
        (bundle / "component.json").read_bytes()
    ).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


@pytest.fixture(scope="module")
def small_pipeline(tmp_path_factory):
    """A tagger pipeline fitted on 18 rendered clips of three kinds, and a clip of each kind."""
    from recommender.audio.config import FeatureConfig
    from recommender.audio.song_vector import extract_file
    from recommender.core.registry import Spec
    from recommender.tagging.features import CodebookConfig
    from recommender.tagging.pipeline import PipelineConfig, TaggerPipeline
    from tests.audio_signals import KINDS, render, write

    folder = tmp_path_factory.mktemp("novelty-clips")
    rng = np.random.default_rng(0)
    config = FeatureConfig(frame_sample=16)
    songs, Y = [], []
    for i in range(18):
        kind = KINDS[i % 3]
        songs.append(extract_file(write(folder / f"{i}.wav", render(kind, rng)), config))
        Y.append([k == kind for k in KINDS])
    pipeline = TaggerPipeline(
        PipelineConfig(
            tagger=Spec.of("linear"),
            codebook=CodebookConfig(k=4, pca_components=4),
            features=config,
        )
    ).fit(
        np.array([s.summary for s in songs]),
        [s.frames for s in songs],
        np.array(Y, dtype=np.float64),
        list(KINDS),
    )
    clip = write(folder / "new.wav", render("tonal", rng))
    return pipeline, clip


def test_pipeline_carries_the_detector_through_its_bundle(small_pipeline, tmp_path):
    from recommender.tagging.pipeline import TaggerPipeline

    pipeline, clip = small_pipeline
    assert pipeline.novelty.calibration == "out-of-fold"
    tagged = pipeline.tag_file(clip)
    assert tagged.novelty is not None and tagged.in_distribution == (
        tagged.novelty <= pipeline.novelty.threshold
    )
    assert tagged.tags == pipeline.predict_file(clip)
    pipeline.save(tmp_path / "tagger")
    loaded = TaggerPipeline.load(tmp_path / "tagger")
    assert loaded.tag_file(clip) == tagged
    assert loaded.novelty.threshold == pipeline.novelty.threshold


def test_a_bundle_from_before_novelty_detection_still_tags(small_pipeline, tmp_path):
    from recommender.tagging.pipeline import TaggerPipeline

    pipeline, clip = small_pipeline
    pipeline.save(tmp_path / "old")
    strip_novelty(tmp_path / "old")
    assert "novelty" not in (tmp_path / "old" / "component.json").read_text()
    old = TaggerPipeline.load(tmp_path / "old")
    assert old.novelty is None
    tagged = old.tag_file(clip)
    assert (tagged.novelty, tagged.in_distribution) == (None, None)
    assert tagged.tags == pipeline.predict_file(clip)


# ---- the demo tagger against real recordings ------------------------------------------------
LIBROSA = ("librosa-examples",)
SPEECH_AND_BIRD = ("libri1", "libri2", "libri3", "robin")


def librosa_example(key: str) -> Path:
    index = json.loads(shared_data(*LIBROSA, "index.json").read_text())
    return shared_data(*LIBROSA, index[key]["path"] + ".ogg")


@pytest.fixture(scope="module")
def demo_tagger(tmp_path_factory) -> dict:
    """The demo catalogue (synthetic audio, as tests/test_tagging_demo.py) and `recsys train
    tagger` on it, the default MLP."""
    import os

    from etl.audio_scan import scan_catalogue
    from etl.demo import load_demo
    from recommender.storage.engine import make_engine

    home = tmp_path_factory.mktemp("novelty-demo") / "home"
    url = f"sqlite:///{home / 'recsys.db'}"
    engine = make_engine(url)
    load_demo(engine, home, users=80, tracks=150, seed=0, clip_seconds=4.0, workers=2)
    assert scan_catalogue(engine, workers=2).failed == 0
    engine.dispose()
    env = dict(os.environ, RECSYS_HOME=str(home), RECSYS_DATABASE_URL=url)
    env.pop("RECSYS_DEBUG", None)
    trained = run_cli(["-q", "train", "tagger", "--json"], env)
    assert trained.returncode == 0, trained.stderr
    return {"env": env, "url": url, "report": json.loads(trained.stdout)}


@pytest.mark.slow
@pytest.mark.shared_data
def test_demo_tagger_flags_speech_and_birdsong(demo_tagger):
    files = [str(librosa_example(key)) for key in SPEECH_AND_BIRD]
    tagged = run_cli(["tag", *files, "--json"], demo_tagger["env"])
    assert tagged.returncode == 0, tagged.stderr
    body = json.loads(tagged.stdout)
    threshold = body["novelty_threshold"]
    assert threshold == pytest.approx(demo_tagger["report"]["novelty"]["threshold"], abs=1e-4)
    assert [r["file"] for r in body["results"]] == files
    for result in body["results"]:
        assert result["in_distribution"] is False and result["novelty"] > threshold, result
    warnings = tagged.stderr.strip().splitlines()
    assert len(warnings) == len(files)
    for file, line in zip(files, warnings, strict=True):
        assert line.startswith(f"warning: {file} is unlike the audio this tagger was trained on")
        assert line.endswith("its tags are unreliable")

    table = run_cli(["tag", files[-1]], demo_tagger["env"])  # the robin, as a person reads it
    assert table.returncode == 0 and "probability" in table.stdout  # its tags, still shown
    line = table.stderr.strip()
    novelty = body["results"][-1]["novelty"]
    assert f"(novelty {novelty:.1f} > {threshold:.1f}); its tags are unreliable" in line


@pytest.mark.slow
def test_held_out_demo_clips_are_in_distribution(demo_tagger):
    """>= 95% of demo clips no detector has seen are within the distribution: those the trainer
    holds out (scored by a pipeline fitted on its train part) and the untagged cold tracks
    (scored by the published tagger, stored with its predictions)."""
    from sqlalchemy import select

    from recommender.services.audio_features import load_features
    from recommender.services.datasets import load_dataset
    from recommender.services.labels import LabelConfig, crowd_labels
    from recommender.storage.engine import make_engine
    from recommender.storage.schema import Track, TrackNovelty
    from recommender.tagging.evaluation import held_out_split
    from recommender.tagging.pipeline import PipelineConfig, TaggerPipeline

    engine = make_engine(demo_tagger["url"])
    stored = load_features(engine)
    labels = crowd_labels(engine, LabelConfig())
    row_of = {int(t): i for i, t in enumerate(stored.track_ids)}
    labelled = [i for i, t in enumerate(labels.track_ids) if int(t) in row_of]
    rows = np.array([row_of[int(labels.track_ids[i])] for i in labelled])
    train, test = held_out_split(stored.track_ids[rows], test_fraction=0.2, seed=0)  # as trained
    held = TaggerPipeline(PipelineConfig()).fit(
        stored.summaries[rows[train]],
        [stored.frames[r] for r in rows[train]],
        labels.Y[labelled][train].astype(np.float64),
        labels.tag_names,
    )
    unseen = np.setdiff1d(np.arange(len(stored.track_ids)), rows[train])
    scores = held.novelty_scores(stored.summaries[unseen], [stored.frames[r] for r in unseen])
    assert len(unseen) >= 50
    assert held.novelty.in_distribution(scores).mean() >= 0.95

    cold = sorted(set(stored.track_ids.tolist()) - set(stored.track_ids[rows].tolist()))
    version = demo_tagger["report"]["model_version"]
    with engine.connect() as conn:
        flags = dict(
            conn.execute(
                select(TrackNovelty.track_id, TrackNovelty.in_distribution).where(
                    TrackNovelty.model_version == version
                )
            ).all()
        )
        cold_clip = conn.execute(select(Track.audio_path).where(Track.id == cold[0])).scalar_one()
    assert len(flags) == len(stored.track_ids) and len(cold) >= 20
    assert np.mean([flags[t] for t in cold]) >= 0.95
    dataset = load_dataset(engine)
    assert dataset.predicted_ood is not None and len(dataset.predicted_ood) == dataset.n_items
    assert dataset.predicted_ood.sum() == sum(not ok for ok in flags.values())
    engine.dispose()

    tagged = run_cli(["tag", cold_clip, "--json"], demo_tagger["env"])
    assert tagged.returncode == 0 and "warning" not in tagged.stderr
    assert json.loads(tagged.stdout)["results"][0]["in_distribution"] is flags[cold[0]]
