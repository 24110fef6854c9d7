"""The content -> CF factor map recovers held-out items' factors; CF weight grows with listeners."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.coldstart.mapping import fit_content_map
from recommender.coldstart.weights import cf_weight


def test_ridge_map_predicts_factors_of_unseen_items():
    rng = np.random.default_rng(0)
    n_items, n_tags, n_factors = 400, 30, 8
    content = sp.random(
        n_items, n_tags, density=0.2, random_state=1, format="csr", dtype=np.float32
    )
    true_map = rng.normal(size=(n_tags, n_factors)).astype(np.float32)
    factors = content @ true_map + 0.01 * rng.normal(size=(n_items, n_factors)).astype(np.float32)
    warm = np.arange(n_items) < 320
    cmap = fit_content_map(content, factors, warm, alpha=0.01)
    predicted = cmap.transform(content[~warm], intercept=True)
    corr = np.corrcoef(predicted.ravel(), factors[~warm].ravel())[0, 1]
    assert corr > 0.98
    assert cmap.coef.shape == (n_tags, n_factors) and cmap.coef.dtype == np.float32


def test_map_without_warm_content_is_zero():
    content = sp.csr_matrix((5, 3), dtype=np.float32)
    cmap = fit_content_map(content, np.ones((5, 2), np.float32), np.ones(5, bool))
    assert not cmap.transform(content).any()


def test_cf_weight_depends_on_interaction_count():
    w = cf_weight(np.array([0, 1, 5, 50, 5000]), k=5)
    assert w[0] == 0 and np.isclose(w[2], 0.5)
    assert np.all(np.diff(w) > 0) and w[-1] > 0.99
    assert cf_weight(np.array([0, 3]), k=0).tolist() == [0.0, 1.0]
