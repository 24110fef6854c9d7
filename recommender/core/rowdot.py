"""Dot products and row statistics whose value for a row does not depend on the other rows
of the batch.

BLAS (numpy's `@`) picks its kernel, blocking and thread split by the shape of the
whole batch, so in float arithmetic the score of one user differs in the last bits
between a request for that user alone and a batch of a thousand (measured: 4.2M of 9M
float32 scores differ between GEMV and GEMM with OpenBLAS 0.3.31), and by thread count
too (1 vs 2 threads: 14.7M of 18M). `RowProducts` therefore multiplies one row at a
time, always with the same single-threaded GEMV: a row's scores are the same bits alone,
in any batch, at any alignment. A lone user, what a server answers, pays float32 GEMV
speed (HetRec, 64 factors x 18,022 items: 0.08 ms, against 0.35 ms for the exact float64
products of the previous release); a batch pays one GEMV per user instead of one GEMM.

numpy's row reductions are not safe either: `x.mean(axis=1)` sums a short row
pairwise when it is alone but left to right inside a batch (its iterator reorders
the loops), so `row_mean_std` reduces each row on its own, always pairwise (as fast
as the batched call on long rows: 22 ms vs 21 ms for 1,000 x 18,022).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.core.blas import single_threaded_blas


@dataclass(frozen=True)
class RowProducts:
    """Columns (f, n), e.g. item factors transposed, multiplied by rows one at a time."""

    columns: np.ndarray  # (f, n) float32, C-contiguous (a memory-mapped bundle array is fine)

    def __post_init__(self) -> None:
        if self.columns.dtype != np.float32 or not self.columns.flags.c_contiguous:
            object.__setattr__(self, "columns", np.ascontiguousarray(self.columns, np.float32))

    def dot(self, rows: np.ndarray) -> np.ndarray:
        """float32 (len(rows), n): each row times the columns, by the same one-thread GEMV."""
        rows = np.asarray(rows, dtype=np.float32)
        out = np.empty((rows.shape[0], self.columns.shape[1]), dtype=np.float32)
        with single_threaded_blas():
            for i in range(rows.shape[0]):
                np.dot(rows[i], self.columns, out=out[i])
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
