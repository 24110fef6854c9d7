"""RP3beta similarity against a hand computation, and the per-row top-K it keeps."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.cf.rp3beta import keep_top_k, rp3beta_similarity
from recommender.cf.weighting import Weighting, WeightingConfig


def test_similarity_matches_the_random_walk_by_hand() -> None:
    plays = np.array([[1, 1, 0], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
    alpha, beta = 0.5, 0.5
    p_ui = plays / plays.sum(axis=1, keepdims=True)
    p_iu = plays.T / plays.T.sum(axis=1, keepdims=True)
    expected = (p_iu**alpha) @ (p_ui**alpha) / plays.sum(axis=0) ** beta
    np.fill_diagonal(expected, 0)
    got = rp3beta_similarity(sp.csr_matrix(plays), alpha=alpha, beta=beta, k=3).toarray()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_popularity_penalty_favours_the_niche_item() -> None:
    # item 0 is played by everyone, item 2 by two users who also play item 1
    plays = sp.csr_matrix(np.array([[1, 1, 1], [1, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=float))
    flat = rp3beta_similarity(plays, alpha=1.0, beta=0.0, k=3).toarray()
    penalised = rp3beta_similarity(plays, alpha=1.0, beta=1.0, k=3).toarray()
    assert flat[1, 0] > flat[1, 2]
    assert penalised[1, 2] > penalised[1, 0]


def test_keep_top_k_per_row_with_ties_to_the_lower_column() -> None:
    matrix = sp.csr_matrix(np.array([[3, 1, 3, 2], [0, 0, 5, 0], [1, 1, 1, 1]], dtype=float))
    kept = keep_top_k(matrix, 2).toarray()
    np.testing.assert_array_equal(kept, [[3, 0, 3, 0], [0, 0, 5, 0], [1, 1, 0, 0]])


def test_binary_weighting() -> None:
    plays = sp.csr_matrix(np.array([[0, 7, 200]], dtype=np.float32))
    np.testing.assert_array_equal(
        Weighting(WeightingConfig("binary")).fit_transform(plays).toarray(), [[0, 1, 1]]
    )
