"""The one top-k: every list recsys serves, writes in batch or grades offline is cut here.

Rules, the same for every model and every path:
- exact: the k highest scores of each row, best first;
- ties go to the lower item index;
- `exclude` (a sparse rows x items matrix; any stored entry) removes items, e.g. the
  ones a user already played; `candidates` (item indices) restricts the ranking to them;
- NaN policy: a NaN score means "no score". It is treated like -inf: such items are
  never returned, exactly like excluded ones. A model that emits NaN loses those
  items, which shows in its metrics instead of ranking garbage;
- slots left empty (fewer than k rankable items) are item -1 with score -inf.

Wide rows take an exact block-maximum shortcut (`topk_blocks`), the rest a partition.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from recommender.core.topk_blocks import threshold_top_k


class TopK(NamedTuple):
    """Item indices (rows, k) int64 and their scores (rows, k), best first; -1 / -inf pad."""

    ids: np.ndarray
    scores: np.ndarray


def top_k(
    scores: np.ndarray,
    k: int,
    *,
    exclude: sp.spmatrix | None = None,
    candidates: np.ndarray | None = None,
    overwrite: bool = False,
) -> TopK:
    """The k best items of each row of `scores` (rows, n_items) under the rules above.

    float32 scores stay float32 (any other input is ranked as float64). `candidates`
    must lie in [0, n_items); they are sorted and de-duplicated here. `overwrite=True`
    lets top_k write into `scores` instead of a copy (for scores nobody else holds).
    """
    values = np.asarray(scores)
    if values.ndim != 2:
        values = values.reshape(1, -1) if values.ndim < 2 else values
    n_rows, n_items = values.shape
    if exclude is not None:
        exclude = exclude if sp.isspmatrix_csr(exclude) else sp.csr_matrix(exclude)
        if exclude.shape != values.shape:
            raise ValueError(f"exclude has shape {exclude.shape}, scores {values.shape}")
    if candidates is not None:
        candidates = checked_candidates(candidates, n_items)
        values = values[:, candidates]  # a fresh array
        if exclude is not None:
            exclude = exclude[:, candidates]
    elif not overwrite:
        values = values.copy()
    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float64)
    if exclude is not None and exclude.nnz:
        rows = np.repeat(np.arange(n_rows), np.diff(exclude.indptr))
        values[rows, exclude.indices] = -np.inf
    k = max(int(k), 0)
    k_eff = min(k, values.shape[1]) if n_rows else 0
    ids = _top_columns(values, k_eff) if k_eff else np.empty((n_rows, 0), dtype=np.int64)
    best = np.take_along_axis(values, ids, axis=1)
    unlisted = np.isnan(best) | (best == -np.inf)  # fewer than k rankable items
    best[unlisted] = -np.inf
    if candidates is not None:
        ids = candidates[ids]
    ids[unlisted] = -1
    if k_eff < k:
        ids = np.hstack([ids, np.full((n_rows, k - k_eff), -1, dtype=np.int64)])
        best = np.hstack([best, np.full((n_rows, k - k_eff), -np.inf, dtype=best.dtype)])
    return TopK(ids, best)


def checked_candidates(candidates: np.ndarray, n_items: int) -> np.ndarray:
    """Sorted unique int64 item indices; an index outside [0, n_items) is an IndexError."""
    items = np.unique(np.asarray(candidates, dtype=np.int64))
    if len(items) and (items[0] < 0 or items[-1] >= n_items):
        raise IndexError(f"candidate items must lie in [0, {n_items}), got {items[0]}..{items[-1]}")
    return items


def _top_columns(values: np.ndarray, k: int) -> np.ndarray:
    """Column indices (rows, k) of the k largest values per row, best first, ties by column.

    NaN ranks like -inf. The block shortcut sends rows holding a NaN (their block maxima
    are NaN) to the partition, so clean rows are never searched for NaN at all.
    """
    fast = threshold_top_k(values, k)  # wide rows: a few candidate cells per row, exact
    if fast is None:
        return _partition_top_k(_no_nan(values), k)
    top, fallback = fast
    if fallback.any():
        top[fallback] = _partition_top_k(_no_nan(values[fallback]), k)
    return top


def _no_nan(values: np.ndarray) -> np.ndarray:
    nan = np.isnan(values)
    if nan.any():
        values = np.where(nan, -np.inf, values).astype(values.dtype, copy=False)
    return values


def _partition_top_k(values: np.ndarray, k: int) -> np.ndarray:
    """A full partition of every row: the k-th value, everything above it, then ties by index."""
    n_rows = values.shape[0]
    kth = -np.partition(-values, k - 1, axis=1)[:, k - 1 : k]
    above = values > kth
    at = values == kth
    need = k - above.sum(axis=1, keepdims=True)
    chosen = above | (at & (np.cumsum(at, axis=1) <= need))
    columns = np.nonzero(chosen)[1].reshape(n_rows, k)  # ascending column per row
    picked = np.take_along_axis(values, columns, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")  # stable: ties keep the lower index
    return np.take_along_axis(columns, order, axis=1)
