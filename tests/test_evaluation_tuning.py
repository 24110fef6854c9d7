"""The tuner on a small synthetic split: it grades on validation, never reads the test part,
starts from the setting in force, and repeats itself exactly with the same seed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.cf.als import ALSConfig
from recommender.data.splits import random_split
from recommender.data.synthetic import synthetic_dataset
from recommender.errors import InputError
from recommender.evaluation.runner import without_predictions
from recommender.evaluation.tuning import space_names, tune_split, validation_split
from recommender.hybrid.configs import HybridConfig


@pytest.fixture(scope="module")
def split():
    data = synthetic_dataset(n_users=50, n_items=60, plays_per_user=12, cold_items=4, seed=3)
    return random_split(without_predictions(data), seed=1)


class Untouchable:
    """A test part that fails the test if anything so much as looks at it."""

    def __getattr__(self, name):
        raise AssertionError(f"the tuner read the test part (.{name})")


def _outcome(result):
    return result.best_params, result.best_value, result.trials


def test_tuning_never_reads_the_test_part(split):
    base = ALSConfig(factors=8, iterations=5)
    plain = tune_split(split, "als", base, trials=3, seed=2)
    # a planted marker: every test interaction moved to other items with huge counts
    rng = np.random.default_rng(0)
    test = split.test.tocoo()
    marked = sp.csr_matrix(
        (np.full(test.nnz, 1e6, dtype=np.float32), (test.row, rng.permutation(test.col))),
        shape=test.shape,
    )
    assert (marked != split.test).nnz > 0
    for changed in (replace(split, test=marked), replace(split, test=Untouchable())):
        assert _outcome(tune_split(changed, "als", base, trials=3, seed=2)) == _outcome(plain)


def test_graded_on_validation_with_the_visible_items_as_candidates(split):
    tuned = validation_split(split)
    assert (tuned.test != split.validation).nnz == 0
    assert tuned.validation.nnz == 0 and tuned.train is split.train
    seen = (split.train.plays + split.validation).getnnz(axis=0) > 0
    expected = np.flatnonzero(seen)
    assert len(expected) < split.train.n_items  # the 4 cold items are not candidates
    np.testing.assert_array_equal(tuned.candidates, expected)


def test_trial_zero_is_the_setting_in_force_and_best_never_worse(split):
    base = ALSConfig(factors=8, iterations=5)
    result = tune_split(split, "als", base, trials=4, seed=0)
    names = space_names("als", base)
    assert names == [
        "factors",
        "regularization",
        "alpha",
        "iterations",
        "weighting.k1",
        "weighting.b",
    ]
    assert result.trials[0]["params"] == {
        "factors": 8,
        "regularization": 0.134,
        "alpha": 1.0,
        "iterations": 5,
        "weighting.k1": 1.2,
        "weighting.b": 0.3,
    }
    assert result.start_value == result.trials[0]["value"]
    assert result.best_value == max(t["value"] for t in result.trials) >= result.start_value
    assert len(result.trials) == 4
    # the best config is the best trial's parameters applied to the base
    best = next(t for t in result.trials if t["value"] == result.best_value)
    assert result.best_config.factors == best["params"]["factors"]
    assert result.best_config.num_threads == base.num_threads


def test_hybrid_tunes_blend_and_content_around_the_given_cf(split):
    base = HybridConfig().replace(**{"cf.factors": 8, "cf.iterations": 5})
    result = tune_split(split, "hybrid", base, trials=2, seed=0)
    assert {n.split(".")[0] for n in result.best_params} == {"blend", "content"}
    assert result.best_config.cf == base.cf
    assert result.best_config.blend.cold_slots == base.blend.cold_slots  # not measurable here


def test_too_few_validation_users_is_an_input_error():
    tiny = random_split(without_predictions(synthetic_dataset(n_users=6, n_items=20, seed=0)))
    with pytest.raises(InputError, match="6 users have validation plays, at least 10"):
        validation_split(tiny)


def test_knn_draws_bm25_parameters_only_for_bm25_similarity(split):
    from recommender.cf.knn import KNNConfig

    assert space_names("knn", KNNConfig()) == ["similarity", "K"]
    bm25 = KNNConfig(K=30, similarity="bm25", K1=3.0, B=0.5)
    assert space_names("knn", bm25) == ["similarity", "K1", "B", "K"]
    result = tune_split(split, "knn", bm25, trials=3, seed=0)
    assert result.trials[0]["params"] == {"similarity": "bm25", "K1": 3.0, "B": 0.5, "K": 30}
    for trial in result.trials:
        assert ("K1" in trial["params"]) == (trial["params"]["similarity"] == "bm25")
