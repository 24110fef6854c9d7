"""End to end: scan a small audible catalogue, train, evaluate, store predictions, tag new files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import func, select

from etl.audio_scan import scan_catalogue
from recommender.audio.config import FeatureConfig
from recommender.errors import InputError, ModelBundleError
from recommender.services.bundles import TAGGER, current_path, current_tagger
from recommender.services.tagger_training import train_tagger
from recommender.storage.schema import PredictedTag, Tag, TrackNovelty
from recommender.tagging.features import CodebookConfig
from tests.audio_signals import make_catalogue, render, write

CONFIG = FeatureConfig(frame_sample=24)


@pytest.fixture
def catalogue(engine, tmp_path):
    truth = make_catalogue(engine, tmp_path / "audio", tracks=36, unlabelled=3)
    scan_catalogue(engine, workers=1, config=CONFIG)
    return truth


def test_train_evaluate_store_and_tag(engine, catalogue, tmp_path):
    models = tmp_path / "models"
    report = train_tagger(
        engine,
        models,
        kind="linear",
        seed=0,
        feature_config=CONFIG,
        codebook=CodebookConfig(k=8, pca_components=8),
    )
    assert report.tags == ["noisy", "percussive", "tonal"]
    assert "seen live" in report.excluded_tags
    assert report.labelled_tracks == 33 and report.test_tracks + report.train_tracks == 33
    assert report.held_out["macro_roc_auc"] > 0.95
    assert report.baseline["macro_roc_auc"] == pytest.approx(0.5)
    assert report.predicted_tracks == 36  # cold-start tracks (no tags) included

    with engine.connect() as conn:
        rows = conn.execute(
            select(PredictedTag.track_id, Tag.name, PredictedTag.probability)
            .join(Tag, Tag.id == PredictedTag.tag_id)
            .where(PredictedTag.model_version == report.model_version)
        ).all()
    assert len(rows) == 36 * 3
    best = {}
    for track_id, name, p in rows:
        if p > best.get(track_id, ("", -1))[1]:
            best[track_id] = (name, p)
    for track_id in (34, 35, 36):  # the untagged tracks get their audible kind
        assert best[track_id][0] == catalogue[f"track-{track_id - 1:03d}"]
    with engine.connect() as conn:
        novelty = conn.execute(
            select(TrackNovelty.track_id, TrackNovelty.novelty, TrackNovelty.in_distribution).where(
                TrackNovelty.model_version == report.model_version
            )
        ).all()
    # every track with predictions has its novelty, flagged against the bundle's threshold
    assert sorted(t for t, _, _ in novelty) == sorted(best)
    threshold = report.novelty["threshold"]
    assert all(ok == (score <= threshold) for _, score, ok in novelty)
    assert report.novelty["out_of_distribution"] == sum(not ok for _, _, ok in novelty)

    path = current_path(models, TAGGER)
    assert path.name == report.model_version == report.model_dir.split("/")[-1]
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["version"] == report.model_version
    assert manifest["novelty"] == report.novelty
    component = json.loads((path / "component.json").read_text())
    assert component["config"]["features"] == CONFIG.to_dict()
    assert component["config"]["tagger"]["name"] == "linear"
    assert set(component["meta"]["thresholds"]) == set(report.tags)
    bundle = current_tagger(models)
    assert bundle.model_version == report.model_version
    assert bundle.novelty.threshold == threshold
    rng = np.random.default_rng(99)
    for kind in ("tonal", "noisy", "percussive"):
        path = write(tmp_path / f"new-{kind}.wav", render(kind, rng))
        assert next(iter(bundle.predict_file(path))) == kind

    again = train_tagger(
        engine,
        models,
        kind="linear",
        seed=0,
        feature_config=CONFIG,
        codebook=CodebookConfig(k=8, pca_components=8),
    )
    with engine.connect() as conn:
        versions = conn.execute(
            select(func.count(func.distinct(PredictedTag.model_version)))
        ).scalar_one()
    assert versions == 2 and again.model_version >= report.model_version
    assert current_path(models, TAGGER).name == again.model_version
    assert not list((models / TAGGER).glob(".*"))  # no temp directory left behind


def test_training_needs_features_and_labels(engine, tmp_path):
    with pytest.raises(InputError, match="recsys etl audio"):
        train_tagger(engine, tmp_path / "models")
    with pytest.raises(ModelBundleError, match="recsys train tagger"):
        current_tagger(tmp_path / "models")


def _stored_versions(engine) -> set[str]:
    with engine.connect() as conn:
        predicted = set(conn.execute(select(PredictedTag.model_version).distinct()).scalars())
        flagged = set(conn.execute(select(TrackNovelty.model_version).distinct()).scalars())
    assert flagged == predicted  # novelty rows come and go with the predictions
    return predicted


def test_bundle_and_stored_predictions_never_disagree(engine, catalogue, tmp_path, monkeypatch):
    """A crash while storing leaves no bundle; a crash while saving leaves no rows."""
    import recommender.services.tagger_training as training
    from recommender.tagging.pipeline import TaggerPipeline

    settings = dict(kind="linear", seed=0, feature_config=CONFIG, codebook=CodebookConfig(k=8))
    models = tmp_path / "models"

    def broken_store(*args, **kwargs):
        raise OSError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr(training, "store_predictions", broken_store)
        with pytest.raises(OSError, match="went away"):
            train_tagger(engine, models, **settings)
    assert not (models / TAGGER).exists()  # no bundle naming a version without rows
    assert _stored_versions(engine) == set()

    def broken_save(self, directory, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(TaggerPipeline, "save", broken_save)
        with pytest.raises(OSError, match="disk full"):
            train_tagger(engine, models, **settings)
    with pytest.raises(ModelBundleError):
        current_path(models, TAGGER)
    assert _stored_versions(engine) == set()  # the unpublished version's rows were removed

    report = train_tagger(engine, models, **settings)
    assert (
        _stored_versions(engine) == {report.model_version} == {current_tagger(models).model_version}
    )
