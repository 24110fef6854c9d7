"""Top-n shared by every model, so filtering, ties and padding never differ between them."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def top_n(
    scores: np.ndarray,
    n: int,
    *,
    exclude: sp.csr_matrix | None = None,
    items: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(indices int64, scores float32) of the n best columns per row, best first.

    Ties go to the lower item index (as in the evaluation runner). `exclude` (same
    shape as scores) marks entries to drop, e.g. items already played; `items`
    (sorted, unique) restricts the candidates. Slots left empty are item -1, score -inf.
    """
    scores = np.array(scores, dtype=np.float32, copy=True, ndmin=2)
    scores[np.isnan(scores)] = -np.inf
    if exclude is not None:
        coo = exclude.tocoo()
        scores[coo.row, coo.col] = -np.inf
    candidates = scores if items is None else scores[:, items]
    n_rows, n_cand = candidates.shape
    n = max(int(n), 0)
    k = min(n, n_cand)
    if k == 0:
        idx = np.empty((n_rows, 0), dtype=np.int64)
    else:
        # the k-th best value per row, then everything above it plus the lowest-index ties
        kth = -np.partition(-candidates, k - 1, axis=1)[:, k - 1 : k]
        above = candidates > kth
        tied = candidates == kth
        chosen = above | tied
        need = k - above.sum(axis=1)
        crowded = tied.sum(axis=1) > need  # more ties at the k-th value than slots left
        if crowded.any():
            ties = tied[crowded]
            first = np.cumsum(ties, axis=1) <= need[crowded, None]  # lowest-index ties first
            chosen[crowded] = above[crowded] | (ties & first)
        idx = np.nonzero(chosen)[1].reshape(n_rows, k)  # row-major: index order within a row
        sub = np.take_along_axis(candidates, idx, axis=1)
        idx = np.take_along_axis(idx, np.argsort(-sub, axis=1, kind="stable"), axis=1)
    best = np.take_along_axis(candidates, idx, axis=1)
    ids = (idx if items is None else items[idx]).astype(np.int64)
    ids[best == -np.inf] = -1
    if k < n:
        ids = np.hstack([ids, np.full((n_rows, n - k), -1, dtype=np.int64)])
        best = np.hstack([best, np.full((n_rows, n - k), -np.inf, dtype=np.float32)])
    return ids, best.astype(np.float32)
