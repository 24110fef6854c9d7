"""Metric values on hand-computed toy cases, and a cross-check against scikit-learn."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.core.topk import top_k
from recommender.evaluation.metrics import (
    average_popularity,
    coverage,
    hit_matrix,
    novelty,
    per_tag_auc,
    per_user_ranking_metrics,
    ranking_metrics,
)


def relevance(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    r = [u for u, items in enumerate(rows) for _ in items]
    c = [i for items in rows for i in items]
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(rows), n_items))


def test_ranking_metrics_on_a_hand_computed_case():
    # user 0: list 3,1,2 against relevant {0,1,5}: one hit at rank 2
    # user 1: nothing relevant -> left out of every mean
    # user 2: list 2,4,-1 against relevant {2}: hit at rank 1, the padding is never a hit
    top = np.array([[3, 1, 2], [0, 1, 2], [2, 4, -1]])
    rel = relevance([[0, 1, 5], [], [2]], n_items=6)
    m = ranking_metrics(top, rel, k=3)
    idcg0 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["precision"] == pytest.approx(np.mean([1 / 3, 1 / 3]))
    assert m["recall"] == pytest.approx(np.mean([1 / 3, 1.0]))
    assert m["ndcg"] == pytest.approx(np.mean([(1 / math.log2(3)) / idcg0, 1.0]))
    # MAP@3: user 0 has precision 1/2 at its only hit, divided by min(3 relevant, k=3)
    assert m["map"] == pytest.approx(np.mean([0.5 / 3, 1.0]))
    assert m["hit"] == pytest.approx(1.0)
    # the means above are over these per-user values (users 0 and 2, in row order)
    users = per_user_ranking_metrics(top, rel, k=3)
    assert users["ndcg"].tolist() == pytest.approx([(1 / math.log2(3)) / idcg0, 1.0])
    assert users["map"].tolist() == pytest.approx([0.5 / 3, 1.0])
    assert users["hit"].tolist() == [1.0, 1.0]


def test_ideal_dcg_uses_min_of_relevant_and_k():
    # 5 relevant items, k=2, both positions hit: a perfect list, NDCG 1 and MAP 1
    top = np.array([[0, 1]])
    m = ranking_metrics(top, relevance([[0, 1, 2, 3, 4]], 6), k=2)
    assert m["ndcg"] == pytest.approx(1.0)
    assert m["map"] == pytest.approx(1.0)
    assert m["recall"] == pytest.approx(2 / 5)
    assert m["precision"] == pytest.approx(1.0)


def test_hit_matrix_and_padding():
    top = np.array([[1, -1, 0]])
    assert hit_matrix(top, relevance([[0, 1]], 3)).tolist() == [[True, False, True]]
    nobody = ranking_metrics(top, relevance([[]], 3), k=3)  # no user with a relevant item
    assert all(math.isnan(value) for value in nobody.values())


def test_coverage_novelty_popularity_by_hand():
    top = np.array([[0, 1], [0, 2], [0, -1]])
    assert coverage(top, n_catalogue=6) == pytest.approx(3 / 6)
    item_users = np.array([3.0, 1.0, 0.0, 0.0, 0.0, 0.0])  # of 3 training users
    # recommended slots: items 0,1,0,2,0 -> p = (c+1)/(n+1) = 1, 1/2, 1, 1/4, 1
    assert novelty(top, item_users, n_users=3) == pytest.approx(np.mean([0, 1, 0, 2, 0]))
    assert average_popularity(top, item_users) == pytest.approx(np.mean([3, 1, 3, 0, 3]))


def test_per_tag_auc_by_hand_and_undefined_tags():
    truth = np.array([[1, 1], [0, 1], [1, 1], [0, 1]])
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.3], [0.1, 0.4]])
    table = per_tag_auc(truth, scores, ["jazz", "everything"])
    jazz = table.set_index("tag").loc["jazz"]
    assert jazz["positives"] == 2
    assert jazz["roc_auc"] == pytest.approx(
        3 / 4
    )  # 3 of the 4 positive/negative pairs ordered right
    assert jazz["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)
    assert math.isnan(table.set_index("tag").loc["everything"]["roc_auc"])


def _brute_force(scores: np.ndarray, rel: np.ndarray, k: int) -> dict[str, list[float]]:
    """A plain-Python reading of the definitions, independent of the vectorised code."""
    out: dict[str, list[float]] = {"precision": [], "recall": [], "map": [], "hit": []}
    for row_scores, row_rel in zip(scores, rel, strict=True):
        relevant = set(np.flatnonzero(row_rel))
        if not relevant:
            continue
        ranked = sorted(range(len(row_scores)), key=lambda i: (-row_scores[i], i))[:k]
        hits = [i in relevant for i in ranked]
        precisions = [sum(hits[: j + 1]) / (j + 1) for j in range(k) if hits[j]]
        out["precision"].append(sum(hits) / k)
        out["recall"].append(sum(hits) / len(relevant))
        out["map"].append(sum(precisions) / min(len(relevant), k))
        out["hit"].append(float(any(hits)))
    return out


@pytest.mark.parametrize("k", [1, 5, 10, 40])
def test_ndcg_matches_sklearn_and_the_rest_matches_a_brute_force(k):
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(k)
    n_users, n_items = 50, 40
    scores = rng.random(
        (n_users, n_items)
    )  # continuous: no ties, so sklearn's tie averaging is moot
    rel = (rng.random((n_users, n_items)) < 0.1).astype(np.float64)
    rel[:3] = 0  # users with nothing relevant are skipped by us; exclude them for sklearn too
    top = top_k(scores, k).ids
    ours = ranking_metrics(top, sp.csr_matrix(rel), k)
    keep = rel.sum(axis=1) > 0
    assert ours["ndcg"] == pytest.approx(ndcg_score(rel[keep], scores[keep], k=k), rel=1e-9)
    for name, values in _brute_force(scores, rel, k).items():
        assert ours[name] == pytest.approx(np.mean(values), rel=1e-9), name
