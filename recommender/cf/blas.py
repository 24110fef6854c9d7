"""BLAS threads off while implicit trains: implicit runs its own thread pool.

implicit warns (and runs up to 10x slower) when OpenBLAS/MKL also spawn threads
inside its per-user solves, so every fit and fold-in runs under a one-thread
BLAS limit while implicit keeps `num_threads` = all cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread for the duration (restored afterwards)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
