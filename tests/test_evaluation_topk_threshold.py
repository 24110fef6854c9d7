"""Block-maximum top-k is exact: same lists as a full sort, ties, NaN and exclusions included."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.evaluation.topk import top_k_from_scores
from recommender.evaluation.topk_threshold import threshold_top_k


def _brute_force(scores: np.ndarray, k: int, excluded: sp.csr_matrix | None) -> np.ndarray:
    """Score descending, lower column first; NaN below numbers, excluded cells never shown."""
    values = np.where(np.isnan(scores), -np.finfo(np.float64).max, scores.astype(np.float64))
    out = np.full((len(values), k), -1, dtype=np.int64)
    for r, row in enumerate(values):
        banned = set() if excluded is None else set(excluded[r].indices.tolist())
        cols = [c for c in np.lexsort((np.arange(len(row)), -row)) if c not in banned][:k]
        out[r, : len(cols)] = cols
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_rows_match_a_full_sort_with_ties_nan_and_exclusions(dtype):
    rng = np.random.default_rng(0)
    n_rows, n_cols, k = 40, 6000, 10
    scores = rng.random((n_rows, n_cols)).astype(dtype)
    scores[1] = np.round(scores[1] * 20) / 20  # heavy ties at the k-th value
    scores[2] = 0.5  # constant row (falls back to the partition path)
    scores[3, rng.choice(n_cols, 50)] = np.nan
    scores[4] = np.nan  # all NaN
    scores[5, :] = -np.inf
    scores[5, [7, 3000, 5999]] = [1.0, 2.0, 1.0]  # fewer than k real scores
    excluded = sp.random(n_rows, n_cols, density=0.01, format="lil", random_state=1)
    excluded[6, :] = 1  # everything excluded: an empty list
    excluded = sp.csr_matrix(excluded)
    got = top_k_from_scores(scores, k, excluded=excluded)
    assert got.shape == (n_rows, k)
    np.testing.assert_array_equal(got, _brute_force(scores, k, excluded))
    assert (got[6] == -1).all()


def test_threshold_path_is_taken_on_wide_rows_and_skipped_on_narrow_ones():
    rng = np.random.default_rng(1)
    wide = rng.random((5, 5000))
    top, fallback = threshold_top_k(wide, 10)
    assert not fallback.any()
    np.testing.assert_array_equal(top, np.argsort(-wide, axis=1)[:, :10])
    assert threshold_top_k(rng.random((5, 100)), 10) is None
