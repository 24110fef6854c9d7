"""Thread settings for implicit: BLAS off while it trains (`core.blas`), its own pool sized
to the data.

implicit warns (and runs up to 10x slower) when OpenBLAS/MKL also spawn threads
inside its per-user solves, so every fit and fold-in runs under a one-thread
BLAS limit while implicit keeps `num_threads` = all cores.
"""

from __future__ import annotations

# Below this many stored plays, thread start-up and barriers cost more than the work: a 120 x 60
# ALS fit took 9 ms on one thread and 1.4 s on two on a busy 2-core machine.
SMALL_PROBLEM_NNZ = 20_000


def worker_threads(requested: int, nnz: int) -> int:
    """implicit's num_threads: as requested, except that 0 ("all cores") means 1 on tiny data."""
    if requested == 0 and nnz < SMALL_PROBLEM_NNZ:
        return 1
    return requested
