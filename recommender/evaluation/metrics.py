"""Ranking and beyond-accuracy metrics with RecBole's and Microsoft Recommenders' definitions.

Inputs are top-k index arrays (users x k, best first, -1 for "nothing") and a
users x items relevance matrix (any stored entry is relevant; binary gain).
Every function returns the mean over the given users, so a table built from
them compares like with like:

- precision@k = hits in the top k / k
- recall@k    = hits in the top k / number of relevant items
- NDCG@k      = DCG / ideal DCG, gain 1 per hit discounted by log2(rank + 1),
                ideal DCG over min(relevant, k) positions
- MAP@k       = sum of precision@i at each hit i <= k / min(relevant, k)
- hit@k       = 1 if any relevant item is in the top k
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

RANKING_METRICS = ("precision", "recall", "ndcg", "map", "hit")


def hit_matrix(top: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """Boolean (users x k): is the item at each position relevant to that user's row."""
    relevant = sp.csr_matrix(relevant)
    n_items = relevant.shape[1]
    coo = relevant.tocoo()
    keys = np.unique(coo.row.astype(np.int64) * n_items + coo.col)
    rows = np.arange(top.shape[0], dtype=np.int64)[:, None]
    probe = rows * n_items + np.maximum(top, 0)
    found = np.searchsorted(keys, probe)
    found = np.minimum(found, max(len(keys) - 1, 0))
    hits = (keys[found] == probe) if len(keys) else np.zeros(top.shape, dtype=bool)
    return hits & (top >= 0)


def per_user_ranking_metrics(
    top: np.ndarray, relevant: sp.csr_matrix, k: int
) -> dict[str, np.ndarray]:
    """Precision, recall, NDCG, MAP and hit at k of each user with a relevant item, in row order.

    Rows of `relevant` with no entries are left out (they have nothing to find),
    as RecBole and Microsoft Recommenders do. The per-user values are what a
    confidence interval or a paired test between two models resamples.
    """
    relevant = sp.csr_matrix(relevant)
    n_relevant = np.diff(relevant.indptr)
    users = n_relevant > 0
    hits = hit_matrix(top[:, :k], relevant)[users].astype(np.float64)
    n_rel = n_relevant[users].astype(np.float64)
    if hits.shape[1] < k:  # fewer columns than k: the missing positions are misses
        hits = np.hstack([hits, np.zeros((hits.shape[0], k - hits.shape[1]))])
    positions = np.arange(1, k + 1, dtype=np.float64)
    discounts = 1.0 / np.log2(positions + 1)
    n_hits = hits.sum(axis=1)
    dcg = hits @ discounts
    ideal_len = np.minimum(n_rel, k).astype(np.int64)
    ideal = np.concatenate(([0.0], np.cumsum(discounts)))[ideal_len]
    precision_at = np.cumsum(hits, axis=1) / positions
    average_precision = (precision_at * hits).sum(axis=1) / np.minimum(n_rel, k)
    return {
        "precision": n_hits / k,
        "recall": n_hits / n_rel,
        "ndcg": dcg / ideal,
        "map": average_precision,
        "hit": (n_hits > 0).astype(np.float64),
    }


def ranking_metrics(top: np.ndarray, relevant: sp.csr_matrix, k: int) -> dict[str, float]:
    """Mean precision, recall, NDCG, MAP and hit rate at k over users with a relevant item."""
    return user_means(per_user_ranking_metrics(top, relevant, k))


def user_means(per_user: dict[str, np.ndarray]) -> dict[str, float]:
    """The mean of each metric over users (NaN when there is no user to average)."""
    return {
        name: float(np.mean(values)) if len(values) else float("nan")
        for name, values in per_user.items()
    }


def coverage(top: np.ndarray, n_catalogue: int) -> float:
    """Share of the catalogue (all candidate items) that appears in at least one list."""
    if n_catalogue == 0:
        return float("nan")
    return len(np.unique(top[top >= 0])) / n_catalogue


def novelty(top: np.ndarray, item_users: np.ndarray, n_users: int) -> float:
    """Mean self-information -log2 p(i) of the recommended items, p(i) = training reach.

    p(i) is the share of training users who played item i, Laplace-smoothed
    ((count + 1) / (users + 1)) so an item nobody played in training (every cold
    item) has a finite, maximal novelty instead of infinity.
    """
    items = top[top >= 0]
    if len(items) == 0:
        return float("nan")
    p = (item_users[items] + 1.0) / (n_users + 1.0)
    return float(np.mean(-np.log2(p)))


def average_popularity(top: np.ndarray, item_users: np.ndarray) -> float:
    """Mean training popularity (number of users who played it) of the recommended items."""
    items = top[top >= 0]
    return float(np.mean(item_users[items])) if len(items) else float("nan")


def per_tag_auc(
    truth: np.ndarray | sp.spmatrix,
    scores: np.ndarray | sp.spmatrix,
    tag_names: list[str] | np.ndarray,
) -> pd.DataFrame:
    """ROC-AUC and PR-AUC (average precision) of each tag column: the tagger's scorecard.

    A tag whose column is all positive or all negative has no defined AUC and
    gets NaN rather than a misleading 0 or 1.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y_true = (truth.toarray() if sp.issparse(truth) else np.asarray(truth)) > 0
    y_score = scores.toarray() if sp.issparse(scores) else np.asarray(scores, dtype=np.float64)
    if y_true.shape != y_score.shape or y_true.shape[1] != len(tag_names):
        raise ValueError(
            f"truth {y_true.shape}, scores {y_score.shape} and {len(tag_names)} tags disagree"
        )
    rows = []
    for column, name in enumerate(tag_names):
        positives = int(y_true[:, column].sum())
        defined = 0 < positives < len(y_true)
        rows.append(
            {
                "tag": str(name),
                "positives": positives,
                "roc_auc": float(roc_auc_score(y_true[:, column], y_score[:, column]))
                if defined
                else float("nan"),
                "pr_auc": float(average_precision_score(y_true[:, column], y_score[:, column]))
                if defined
                else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["tag", "positives", "roc_auc", "pr_auc"])
