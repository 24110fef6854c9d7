"""Top-k selection: exclusion, candidates, padding and ties broken by item index."""

import numpy as np
import scipy.sparse as sp

from recommender.evaluation.topk import rank_users, top_k_from_scores


def test_ties_rank_by_lower_item_index():
    scores = np.array([[1.0, 2.0, 2.0, 2.0, 0.5]])
    assert top_k_from_scores(scores, 2).tolist() == [[1, 2]]
    assert top_k_from_scores(scores, 4).tolist() == [[1, 2, 3, 0]]


def test_excluded_items_never_appear_and_short_rows_are_padded():
    scores = np.array([[5.0, 4.0, 3.0], [1.0, 2.0, np.nan]])
    excluded = sp.csr_matrix(np.array([[1, 0, 1], [0, 0, 0]]))
    top = top_k_from_scores(scores, 5, excluded=excluded)
    assert top.tolist() == [[1, -1, -1, -1, -1], [1, 0, 2, -1, -1]]  # NaN ranks last, still ranked


def test_matches_a_stable_sort_on_random_ties():
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 4, size=(30, 25)).astype(np.float32)  # many ties
    excluded = sp.random(30, 25, density=0.2, random_state=1, format="csr")
    top = top_k_from_scores(scores, 8, excluded=excluded)
    dense = excluded.toarray() != 0
    for row in range(30):
        expected = [
            i for i in sorted(range(25), key=lambda i: (-scores[row, i], i)) if not dense[row, i]
        ][:8]
        assert top[row].tolist() == expected


class FixedScores:
    name = "fixed"

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def fit(self, train):
        return self

    def score(self, user_rows):
        return self.scores[np.asarray(user_rows)]


def test_rank_users_candidates_and_batches_agree():
    rng = np.random.default_rng(3)
    scores = rng.random((20, 12)).astype(np.float32)
    exclude = sp.random(20, 12, density=0.3, random_state=2, format="csr")
    ranker = FixedScores(scores)
    users = np.array([4, 0, 19, 7])
    one = rank_users(ranker, users, k=3, exclude=exclude, batch_size=1)
    many = rank_users(ranker, users, k=3, exclude=exclude, batch_size=100)
    assert np.array_equal(one, many)
    candidates = np.array([2, 5, 11])
    top = rank_users(ranker, users, k=5, exclude=exclude, candidates=candidates)
    dense = exclude.toarray() != 0
    for row, user in enumerate(users):
        allowed = [i for i in candidates if not dense[user, i]]
        expected = sorted(allowed, key=lambda i: (-scores[user, i], i))
        assert top[row].tolist() == expected + [-1] * (5 - len(expected))
