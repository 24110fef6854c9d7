"""Dot products and row statistics whose value for a row does not depend on the other rows
of the batch.

BLAS (numpy's `@`) picks its kernel, blocking and thread split by the shape of the
whole batch, so the score of one user differs in the last bits between a request
for that user alone and a batch of a thousand (measured: 4.2M of 9M float32 scores
differ between GEMV and GEMM with OpenBLAS 0.3.31, and they differ by thread count
too). Lists that must be the same through every path (one user, a batch, Spark)
are scored here instead: float32 products summed in a fixed pairwise tree per cell,
the same arithmetic whatever the batch. About 2-3x the cost of BLAS (HetRec: 0.2 ms
a user, 0.38 s for all 1,884 users), a small part of a query.

numpy's row reductions are not safe either: `x.mean(axis=1)` sums a short row
pairwise when it is alone but left to right inside a batch (its iterator reorders
the loops), so `row_mean_std` reduces each row on its own, always pairwise (as fast
as the batched call on long rows: 22 ms vs 21 ms for 1,000 x 18,022).
"""

from __future__ import annotations

import numpy as np

_BLOCK_CELLS = 1 << 21  # users x factors x items products per block (8 MB of float32)


def row_dot(rows: np.ndarray, columns_t: np.ndarray) -> np.ndarray:
    """float32 (len(rows), n): rows (r, f) times columns_t (f, n), cell by cell.

    Each cell's f products are summed in a fixed pairwise tree (factor 0 + 1, 2 + 3, ...,
    then the pairs of pairs), element-wise across the whole block: the same arithmetic
    for a row whatever the batch, in a handful of numpy calls per block (64 us for one
    user over 3,202 items, where a factor-by-factor loop took 105 us).
    """
    rows = np.asarray(rows, dtype=np.float32)
    columns_t = np.asarray(columns_t, dtype=np.float32)
    n_rows, width = rows.shape
    n = columns_t.shape[1]
    out = np.zeros((n_rows, n), dtype=np.float32)
    if width == 0 or n_rows == 0:
        return out
    step = max(1, _BLOCK_CELLS // max(width * n, 1))
    for start in range(0, n_rows, step):
        terms = rows[start : start + step, :, None] * columns_t[None, :, :]  # (b, f, n)
        while terms.shape[1] > 1:
            pairs = terms[:, 0 : terms.shape[1] - 1 : 2] + terms[:, 1::2]
            if terms.shape[1] % 2:  # an odd term out is carried to the next level, last
                pairs = np.concatenate([pairs, terms[:, -1:]], axis=1)
            terms = pairs
        out[start : start + step] = terms[:, 0]
    return out


def row_mean_std(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std), each (rows, 1) float32, every row reduced alone (see the module notes)."""
    values = np.asarray(values, dtype=np.float32)
    mean = np.empty((len(values), 1), dtype=np.float32)
    std = np.empty((len(values), 1), dtype=np.float32)
    for i, row in enumerate(values):
        mean[i, 0] = row.mean()
        std[i, 0] = row.std()
    return mean, std
