"""Leak-free audio-predicted tags: a tagger refit on the split's training tags only."""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from etl.audio_scan import scan_catalogue
    from etl.demo import load_demo
    from recommender.services.datasets import load_dataset
    from recommender.storage.engine import make_engine

    home: Path = tmp_path_factory.mktemp("split-tagger")
    engine = make_engine(f"sqlite:///{home / 'recsys.db'}")
    load_demo(engine, home, users=50, tracks=60, seed=2, clip_seconds=2.0)
    data_without_features = load_dataset(engine)
    scan_catalogue(engine, workers=1, base_dir=home)
    yield engine, load_dataset(engine), data_without_features
    engine.dispose()


def test_refit_predicts_every_track_from_training_tags_only(demo):
    from recommender.data.splits import make_split
    from recommender.services.split_tagger import refit_predicted_tags

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
    again, _ = refit_predicted_tags(engine, split, seed=4)
    assert np.array_equal(again.train.predicted_tags.toarray(), predicted.toarray())


def test_the_cnn_refits_on_a_split_from_spectrograms(demo):
    """The CNN plugs into the same refit: every track predicted, same shape and contract."""
    pytest.importorskip("torch", reason="the cnn extra trains the CNN")
    from recommender.data.splits import make_split
    from recommender.services.split_tagger import refit_predicted_tags

    engine, data, _ = demo
    split = make_split(data, "cold-items", seed=4)
    tiny = {"channels": (4, 8, 8), "embedding": 8, "max_epochs": 3, "validation_fraction": 0.2}
    refit, note = refit_predicted_tags(engine, split, kind="cnn", seed=4, tagger_params=tiny)
    predicted = refit.train.predicted_tags
    linear, _ = refit_predicted_tags(engine, split, seed=4)
    assert predicted.shape == (data.n_items, len(data.tags))
    assert (np.diff(predicted.indptr) > 0).all()  # every demo track has audio
    # the same tags are learned (the same training labels), only the model differs
    assert np.array_equal(
        np.unique(predicted.indices), np.unique(linear.train.predicted_tags.indices)
    )
    assert refit.train.predicted_model_version == "split-refit-cnn-seed4"
    assert refit.train.predicted_ood.shape == (data.n_items,)
    assert refit.train.item_embeddings.shape == (data.n_items, 8)  # the CNN's, per track
    assert linear.train.item_embeddings is None
    assert "cnn tagger" in note


def test_without_features_stored_predictions_are_dropped_not_used(demo):
    from recommender.data.splits import make_split
    from recommender.services.split_tagger import refit_predicted_tags
    from recommender.storage.engine import make_engine

    engine, _, data = demo
    empty = make_engine("sqlite://")  # a database with no audio features at all
    split = make_split(
        data.replace(predicted_tags=data.plays.T.tocsr()[:, : len(data.tags)]), "random", seed=0
    )
    cleared, note = refit_predicted_tags(empty, split)
    assert cleared.train.predicted_tags is None and "dropped" in note


def _hold_out_tag(data, tag: str):
    """A split that holds out every (user, item) pair carrying `tag`: its plays and all its tags."""
    from recommender.data.splits import Split

    events = data.tag_events
    column = data.tags.index_of(tag)
    tagged = events.tag == column
    pairs = sp.csr_matrix(
        (np.ones(int(tagged.sum())), (events.user[tagged], events.item[tagged])),
        shape=data.plays.shape,
    )
    pairs.data[:] = 1
    held = data.plays.multiply(pairs > 0).tocsr()
    on_held = np.asarray(pairs[events.user, events.item]).ravel() > 0
    train = data.replace(plays=sp.csr_matrix(data.plays - held), tag_events=events.select(~on_held))
    empty = sp.csr_matrix(data.plays.shape, dtype=np.float32)
    return Split(name=f"hold-out-{tag}", train=train, validation=empty, test=held), column


def test_refit_cannot_predict_a_tag_whose_every_example_the_split_held_out(demo):
    """The leak this module exists for: labels of held-out pairs must not reach the tagger."""
    from recommender.data.splits import Split
    from recommender.services.split_tagger import refit_predicted_tags

    engine, data, _ = demo
    split, piano = _hold_out_tag(data, "piano")
    assert not (split.train.tag_events.tag == piano).any() and split.test.nnz > 0
    empty = sp.csr_matrix(data.plays.shape, dtype=np.float32)
    everything = Split(name="nothing-held-out", train=data, validation=empty, test=empty)

    full, _ = refit_predicted_tags(engine, everything, seed=4)
    refit, _ = refit_predicted_tags(engine, split, seed=4)
    # with every label the tagger learns piano, and ranks the piano tracks above the rest
    full_piano = full.train.predicted_tags[:, piano].toarray().ravel()
    is_piano = (data.item_tag_counts()[:, piano] > 0).toarray().ravel()
    assert full_piano.any() and full_piano[is_piano].mean() > full_piano[~is_piano].mean()
    # refit on the split's training tags: no piano predictions at all, other tags still learnt
    refit_tags = refit.train.predicted_tags
    assert refit_tags[:, piano].nnz == 0
    assert refit_tags.nnz > 0 and np.unique(refit_tags.indices).size >= 3
    # every predicted tag is one the training tags could teach (>= 5 positive tracks)
    trained = (split.train.item_tag_counts() > 0).sum(axis=0).A1
    assert (trained[np.unique(refit_tags.indices)] >= 5).all()


def test_evaluate_dataset_drops_stored_predicted_tags_without_a_refit(demo):
    """Stored predictions saw held-out labels: the runner must not grade with them by default."""
    from recommender.evaluation.runner import evaluate_dataset
    from recommender.services.split_tagger import keep_predicted_tags, leak_free_predicted_tags

    engine, data, _ = demo
    # the worst case of a stored tagger: its "predictions" are every crowd tag, held-out ones too
    counts = data.item_tag_counts()
    oracle = sp.csr_matrix(counts.multiply(1.0 / counts.max()), dtype=np.float32)
    stored = data.replace(predicted_tags=oracle, predicted_model_version="tagger-all-labels")
    settings = dict(split="cold-items", models=["content"], k=5, seed=1, baselines=False)

    default = evaluate_dataset(stored, **settings)
    without = evaluate_dataset(data.replace(predicted_tags=None), **settings)
    kept = evaluate_dataset(stored, **settings, prepare=keep_predicted_tags("on purpose"))
    refit = evaluate_dataset(stored, **settings, prepare=leak_free_predicted_tags(engine, seed=1))

    assert "tagger-all-labels" in default["notes"][0] and "dropped" in default["notes"][0]
    timings_and_users = ("fit_seconds", "rank_seconds", "per_user")
    same, also = default["models"][0], without["models"][0]
    assert {k: v for k, v in same.items() if k not in timings_and_users} == {
        k: v for k, v in also.items() if k not in timings_and_users
    }
    for key, values in same["per_user"].items():
        assert np.array_equal(values, also["per_user"][key])
    # keeping them is possible, but only on purpose, and it is what inflates the score
    assert kept["notes"][0] == "predicted tags kept: on purpose"
    leaky, clean = kept["models"][0]["metrics"], default["models"][0]["metrics"]
    assert leaky["ndcg@5"] > clean["ndcg@5"]
    assert "refit on training tags only" in refit["notes"][0]
    assert refit["notes"][1] == "predicted tags: split-refit-linear-seed1"
