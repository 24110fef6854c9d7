"""The one top-k: best first, ties to the lower index, NaN never listed, exclusions,
candidates, padding, and the block-maximum shortcut exact on wide rows."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.core.topk import top_k
from recommender.core.topk_blocks import threshold_top_k


def _brute_force(scores: np.ndarray, k: int, excluded: sp.csr_matrix | None) -> np.ndarray:
    """Score descending, lower column first; NaN, -inf and excluded cells never listed."""
    out = np.full((len(scores), k), -1, dtype=np.int64)
    for r, row in enumerate(scores.astype(np.float64)):
        banned = set() if excluded is None else set(excluded[r].indices.tolist())
        listable = [c for c in range(len(row)) if np.isfinite(row[c]) and c not in banned]
        cols = sorted(listable, key=lambda c: (-row[c], c))[:k]
        out[r, : len(cols)] = cols
    return out


def test_ties_go_to_the_lower_index() -> None:
    scores = np.array([[1, 3, 3, 2, 3], [0, 0, 0, 0, 0]], dtype=np.float32)
    ids, best = top_k(scores, 2)
    assert ids.tolist() == [[1, 2], [0, 1]]
    assert best.tolist() == [[3, 3], [0, 0]]
    assert top_k(np.array([[1.0, 2.0, 2.0, 2.0, 0.5]]), 4).ids.tolist() == [[1, 2, 3, 0]]


def test_exclusions_and_padding() -> None:
    scores = np.array([[1, 3, 3, 2, 3], [0, 0, 0, 0, 0]], dtype=np.float32)
    exclude = sp.csr_matrix(np.array([[0, 1, 0, 0, 0], [1, 1, 1, 1, 0]]))
    ids, best = top_k(scores, 7, exclude=exclude)
    assert ids.tolist() == [[2, 4, 3, 0, -1, -1, -1], [4, -1, -1, -1, -1, -1, -1]]
    assert np.isneginf(best[0, 4:]).all() and best[1, 0] == 0 and best.dtype == np.float32


def test_nan_and_minus_infinity_are_never_listed() -> None:
    ids, best = top_k(np.array([[np.nan, 1.0, -np.inf, 0.5]], dtype=np.float32), 4)
    assert ids.tolist() == [[1, 3, -1, -1]]
    assert best[0, :2].tolist() == [1.0, 0.5] and np.isneginf(best[0, 2:]).all()


def test_candidates_map_back_to_item_indices() -> None:
    scores = np.array([[5, 1, 4, 2]], dtype=np.float32)
    ids, best = top_k(scores, 3, candidates=np.array([3, 1, 3]))
    assert ids.tolist() == [[3, 1, -1]] and best[0, :2].tolist() == [2, 1]
    with pytest.raises(IndexError):
        top_k(scores, 1, candidates=np.array([4]))


def test_zero_k_and_zero_rows() -> None:
    ids, best = top_k(np.ones((2, 4), dtype=np.float32), 0)
    assert ids.shape == best.shape == (2, 0)
    ids, best = top_k(np.ones((0, 4), dtype=np.float32), 3)
    assert ids.shape == (0, 3)


def test_matches_a_full_stable_sort_on_random_ties() -> None:
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 4, size=(30, 25)).astype(np.float32)  # many ties
    excluded = sp.random(30, 25, density=0.2, random_state=1, format="csr")
    ids, _ = top_k(scores, 8, exclude=excluded)
    np.testing.assert_array_equal(ids, _brute_force(scores, 8, excluded))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_rows_match_a_full_sort_with_ties_nan_and_exclusions(dtype) -> None:
    rng = np.random.default_rng(0)
    n_rows, n_cols, k = 40, 6000, 10
    scores = rng.random((n_rows, n_cols)).astype(dtype)
    scores[1] = np.round(scores[1] * 20) / 20  # heavy ties at the k-th value
    scores[2] = 0.5  # constant row (falls back to the partition path)
    scores[3, rng.choice(n_cols, 50)] = np.nan
    scores[4] = np.nan  # all NaN: an empty list
    scores[5, :] = -np.inf
    scores[5, [7, 3000, 5999]] = [1.0, 2.0, 1.0]  # fewer than k real scores
    excluded = sp.random(n_rows, n_cols, density=0.01, format="lil", random_state=1)
    excluded[6, :] = 1  # everything excluded: an empty list
    excluded = sp.csr_matrix(excluded)
    ids, best = top_k(scores, k, exclude=excluded)
    assert ids.shape == (n_rows, k) and best.dtype == dtype
    np.testing.assert_array_equal(ids, _brute_force(scores, k, excluded))
    assert (ids[4] == -1).all() and (ids[6] == -1).all()
    assert ids[5, :3].tolist() == [3000, 7, 5999] and (ids[5, 3:] == -1).all()


def test_block_shortcut_is_taken_on_wide_rows_and_skipped_on_narrow_ones() -> None:
    rng = np.random.default_rng(1)
    wide = rng.random((5, 5000))
    top, fallback = threshold_top_k(wide, 10)
    assert not fallback.any()
    np.testing.assert_array_equal(top, np.argsort(-wide, axis=1)[:, :10])
    assert threshold_top_k(rng.random((5, 100)), 10) is None


def test_a_row_ranks_the_same_alone_or_in_a_batch() -> None:
    rng = np.random.default_rng(3)
    scores = np.round(rng.random((20, 3000)) * 50).astype(np.float32)  # ties everywhere
    batch = top_k(scores, 10)
    for row in range(20):
        alone = top_k(scores[row : row + 1], 10)
        assert alone.ids.tolist() == batch.ids[row : row + 1].tolist()
