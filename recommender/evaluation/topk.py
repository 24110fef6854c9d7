"""Top-k item lists from Ranker scores, filtered the same way for every model.

The filtering (no training items, only candidate items) and the tie-breaking
(equal scores: lower item index first) live here and nowhere else, so no model
can gain from its own filtering or from the order in which it returns ties.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse as sp

from recommender.evaluation.protocol import Ranker
from recommender.evaluation.topk_threshold import threshold_top_k

# Scores of one batch are float64 copies of (batch x candidates): keep one near 32 MB.
_BATCH_CELLS = 4_000_000


def top_k_from_scores(
    scores: np.ndarray, k: int, *, excluded: sp.csr_matrix | None = None
) -> np.ndarray:
    """Indices (rows, k) of the k best columns of `scores`, best first; -1 pads short rows.

    `excluded` (same shape, any stored entry) removes those cells. Equal scores
    rank by column index. NaN scores rank below every number but are still
    ranked (a model bug should be visible in its metrics, not hidden).
    """
    scores = np.asarray(scores)
    # float32 scores stay float32 (exact: the order of float32 values is the same in float64)
    dtype = scores.dtype if scores.dtype in (np.float32, np.float64) else np.float64
    values = np.array(scores, dtype=dtype)
    n_rows, n_cols = values.shape
    values[np.isnan(values)] = -np.finfo(dtype).max
    valid_count = np.full(n_rows, n_cols, dtype=np.int64)
    if excluded is not None and excluded.nnz:
        excluded = sp.csr_matrix(excluded)
        excluded.sum_duplicates()
        rows = np.repeat(np.arange(n_rows), np.diff(excluded.indptr))
        values[rows, excluded.indices] = -np.inf
        valid_count -= np.diff(excluded.indptr)
    k_eff = min(k, n_cols)
    if k_eff == 0 or n_rows == 0:
        return np.full((n_rows, k), -1, dtype=np.int64)
    fast = threshold_top_k(values, k_eff)  # wide rows: a few candidates per row, exact
    if fast is None:
        top = _partition_top_k(values, k_eff)
    else:
        top, fallback = fast
        if fallback.any():
            top[fallback] = _partition_top_k(values[fallback], k_eff)
    top[np.arange(k_eff)[None, :] >= valid_count[:, None]] = -1
    if k_eff < k:
        top = np.hstack([top, np.full((n_rows, k - k_eff), -1, dtype=np.int64)])
    return top


def _partition_top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Top-k columns per row, best first, ties by column: a full partition of every row."""
    n_rows = values.shape[0]
    # k-th largest value per row; every value above it is in, ties at it fill up by index
    kth = -np.partition(-values, k - 1, axis=1)[:, k - 1 : k]
    above = values > kth
    at = values == kth
    need = k - above.sum(axis=1, keepdims=True)
    chosen = above | (at & (np.cumsum(at, axis=1) <= need))
    columns = np.nonzero(chosen)[1].reshape(n_rows, k)  # ascending column per row
    picked = np.take_along_axis(values, columns, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")  # stable: ties keep the lower index first
    return np.take_along_axis(columns, order, axis=1)


def iter_batches(n: int, n_items: int, *, batch_size: int | None = None) -> Iterator[slice]:
    size = batch_size or max(1, _BATCH_CELLS // max(n_items, 1))
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def rank_users(
    ranker: Ranker,
    user_rows: np.ndarray,
    *,
    k: int,
    exclude: sp.csr_matrix,
    candidates: np.ndarray | None = None,
    batch_size: int | None = None,
    on_batch: Callable[[int], None] | None = None,
    constant_out: np.ndarray | None = None,
) -> np.ndarray:
    """Item indices (len(user_rows), k) each user would be shown, best first, -1 padded.

    `exclude` is the users x items training matrix (its entries are never
    recommended); `candidates` restricts ranking to those item indices (all items
    when None). `on_batch(n_done)` reports progress. `constant_out`, a boolean
    array of len(user_rows), is set True for users whose candidate scores were
    all equal: their list is item order, not the model's choice.
    """
    user_rows = np.asarray(user_rows, dtype=np.int64)
    exclude = sp.csr_matrix(exclude)
    n_items = exclude.shape[1]
    if candidates is not None:
        candidates = np.asarray(candidates, dtype=np.int64)
        exclude = exclude[:, candidates]
    width = n_items if candidates is None else len(candidates)
    result = np.empty((len(user_rows), k), dtype=np.int64)
    for batch in iter_batches(len(user_rows), width, batch_size=batch_size):
        rows = user_rows[batch]
        scores = np.asarray(ranker.score(rows))
        if scores.shape != (len(rows), n_items):
            raise ValueError(
                f"model {ranker.name!r} returned scores of shape {scores.shape}, "
                f"expected {(len(rows), n_items)}"
            )
        if candidates is not None:
            scores = scores[:, candidates]
        if constant_out is not None:
            constant_out[batch] = np.ptp(scores, axis=1) == 0 if scores.shape[1] else True
        top = top_k_from_scores(scores, k, excluded=exclude[rows])
        if candidates is not None:
            top = np.where(top >= 0, candidates[np.maximum(top, 0)], -1)
        result[batch] = top
        if on_batch is not None:
            on_batch(batch.stop)
    return result
