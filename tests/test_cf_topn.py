"""The shared top-n: best first, ties to the lower index, filtering, candidates, padding."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.cf.topn import top_n


def test_ties_go_to_the_lower_index() -> None:
    scores = np.array([[1, 3, 3, 2, 3], [0, 0, 0, 0, 0]], dtype=np.float32)
    ids, best = top_n(scores, 2)
    assert ids.tolist() == [[1, 2], [0, 1]]
    assert best.tolist() == [[3, 3], [0, 0]]


def test_exclude_and_padding() -> None:
    scores = np.array([[1, 3, 3, 2, 3], [0, 0, 0, 0, 0]], dtype=np.float32)
    exclude = sp.csr_matrix(np.array([[0, 1, 0, 0, 0], [1, 1, 1, 1, 0]]))
    ids, best = top_n(scores, 7, exclude=exclude)
    assert ids.tolist() == [[2, 4, 3, 0, -1, -1, -1], [4, -1, -1, -1, -1, -1, -1]]
    assert np.isneginf(best[0, 4:]).all() and best[1, 0] == 0


def test_candidates_map_back_to_item_indices() -> None:
    scores = np.array([[5, 1, 4, 2]], dtype=np.float32)
    ids, best = top_n(scores, 2, items=np.array([1, 3]))
    assert ids.tolist() == [[3, 1]] and best.tolist() == [[2, 1]]


def test_matches_a_full_stable_sort() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 5, size=(50, 300)).astype(np.float32)  # many ties
    ids, _ = top_n(scores, 10)
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(ids, expected)


def test_nan_ranks_last_and_zero_n() -> None:
    ids, _ = top_n(np.array([[np.nan, 1.0, 0.5]], dtype=np.float32), 3)
    assert ids.tolist() == [[1, 2, -1]]
    ids, best = top_n(np.ones((2, 4), dtype=np.float32), 0)
    assert ids.shape == best.shape == (2, 0)
