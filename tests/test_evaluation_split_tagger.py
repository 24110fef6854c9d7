"""Leak-free audio-predicted tags: a tagger refit on the split's training tags only."""

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from etl.audio_scan import scan_catalogue
    from etl.demo import load_demo
    from recommender.data.dataset import load_dataset
    from recommender.storage.engine import make_engine

    home: Path = tmp_path_factory.mktemp("split-tagger")
    engine = make_engine(f"sqlite:///{home / 'recsys.db'}")
    load_demo(engine, home, users=50, tracks=60, seed=2, clip_seconds=2.0)
    data_without_features = load_dataset(engine)
    scan_catalogue(engine, workers=1, base_dir=home)
    yield engine, load_dataset(engine), data_without_features
    engine.dispose()


def test_refit_predicts_every_track_from_training_tags_only(demo):
    from recommender.evaluation.split_tagger import refit_predicted_tags
    from recommender.evaluation.splitters import make_split

    engine, data, _ = demo
    split = make_split(data, "cold-items", seed=4)
    refit, note = refit_predicted_tags(engine, split, seed=4)
    predicted = refit.train.predicted_tags
    assert predicted.shape == (data.n_items, len(data.tags))
    assert (
        np.diff(predicted.indptr) > 0
    ).all()  # every demo track has audio, so every one is predicted
    assert "refit on training tags only" in note
    assert refit.train.predicted_model_version == "split-refit-linear-seed4"
    # the plays, tags and held-out parts are untouched
    assert (refit.train.plays != split.train.plays).nnz == 0 and (refit.test != split.test).nnz == 0
    # a predicted tag is one the training tags could teach: >= 5 training positives
    trained = (split.train.item_tag_counts() > 0).sum(axis=0).A1
    assert (trained[np.unique(predicted.indices)] >= 5).all()
    again, _ = refit_predicted_tags(engine, split, seed=4)
    assert np.array_equal(again.train.predicted_tags.toarray(), predicted.toarray())


def test_without_features_stored_predictions_are_dropped_not_used(demo):
    from recommender.evaluation.split_tagger import refit_predicted_tags
    from recommender.evaluation.splitters import make_split
    from recommender.storage.engine import make_engine

    engine, _, data = demo
    empty = make_engine("sqlite://")  # a database with no audio features at all
    split = make_split(
        data.replace(predicted_tags=data.plays.T.tocsr()[:, : len(data.tags)]), "random", seed=0
    )
    cleared, note = refit_predicted_tags(empty, split)
    assert cleared.train.predicted_tags is None and "dropped" in note
