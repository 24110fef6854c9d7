"""Confidence weighting: BM25 agrees with implicit's and weighs a new user like a training user."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from implicit.nearest_neighbours import bm25_weight

from recommender.cf.weighting import Weighting, WeightingConfig, log_weight
from recommender.core.bundle import Shapes


@pytest.fixture
def plays() -> sp.csr_matrix:
    rng = np.random.default_rng(0)
    dense = rng.integers(0, 200, size=(40, 25)).astype(np.float32)
    dense[dense < 120] = 0  # sparse, heavy-tailed counts
    dense[0, :] = 0  # a user with no plays
    return sp.csr_matrix(dense)


@pytest.mark.parametrize(("k1", "b"), [(100.0, 0.8), (1.2, 0.75)])
def test_bm25_matches_implicit(plays: sp.csr_matrix, k1: float, b: float) -> None:
    weighting = Weighting(WeightingConfig("bm25", k1=k1, b=b))
    fitted = weighting.fit_transform(plays)
    expected = sp.csr_matrix(bm25_weight(plays, K1=k1, B=b))
    np.testing.assert_allclose(fitted.toarray(), expected.toarray(), rtol=1e-5)
    # a "new" user with a training user's history is weighted exactly like that user
    np.testing.assert_allclose(
        weighting.transform(plays[5:9]).toarray(), fitted[5:9].toarray(), rtol=1e-5
    )


def test_bm25_discounts_items_everyone_plays() -> None:
    plays = sp.csr_matrix(np.array([[5, 5], [5, 0], [5, 0], [5, 0]], dtype=np.float32))
    weighted = Weighting(WeightingConfig("bm25", k1=1.2, b=0.75)).fit_transform(plays).toarray()
    assert weighted[0, 1] > weighted[0, 0], "the item one user in four plays must weigh more"


def test_bm25_new_user_with_more_plays_is_length_normalised(plays: sp.csr_matrix) -> None:
    weighting = Weighting(WeightingConfig("bm25", k1=1.2, b=0.75))
    weighting.fit_transform(plays)
    light = sp.csr_matrix(np.array([[10, 0] + [0] * 23], dtype=np.float32))
    heavy = sp.csr_matrix(np.array([[10, 5000] + [0] * 23], dtype=np.float32))
    assert weighting.transform(heavy)[0, 0] < weighting.transform(light)[0, 0]


def test_bm25_before_fit_is_an_error(plays: sp.csr_matrix) -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        Weighting(WeightingConfig("bm25")).transform(plays)


def test_log_and_none(plays: sp.csr_matrix) -> None:
    np.testing.assert_allclose(
        Weighting(WeightingConfig("log", epsilon=2.0)).fit_transform(plays).toarray(),
        np.log1p(plays.toarray() / 2.0),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        log_weight(plays, alpha=3.0).toarray(), 3.0 * np.log1p(plays.toarray()), rtol=1e-6
    )
    unchanged = Weighting(WeightingConfig("none")).fit_transform(plays)
    np.testing.assert_array_equal(unchanged.toarray(), plays.toarray())
    assert unchanged.dtype == np.float32


def test_save_restore_keeps_statistics(plays: sp.csr_matrix) -> None:
    weighting = Weighting(WeightingConfig("bm25", k1=3.0, b=0.5))
    fitted = weighting.fit_transform(plays)
    restored = Weighting(weighting.config)
    restored.restore(Shapes(weighting.arrays()))
    np.testing.assert_allclose(restored.transform(plays).toarray(), fitted.toarray(), rtol=1e-6)


def test_unknown_kind() -> None:
    from recommender.errors import InputError

    with pytest.raises(InputError, match="unknown weighting 'tfidf'"):
        WeightingConfig("tfidf")
