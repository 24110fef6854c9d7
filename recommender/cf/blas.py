"""Thread settings for implicit: BLAS off while it trains, its own pool sized to the data.

implicit warns (and runs up to 10x slower) when OpenBLAS/MKL also spawn threads
inside its per-user solves, so every fit and fold-in runs under a one-thread
BLAS limit while implicit keeps `num_threads` = all cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_controller = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread for the duration (restored afterwards).

    The controller is built once: `threadpool_limits` rescans every loaded library
    on each call (8 ms measured), too slow around a single-user fold-in.
    """
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield


def serving_blas() -> None:
    """One BLAS thread for the rest of the process: a server scores one user per request,
    many requests at once, and BLAS threads inside each tiny product only contend."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    _controller.limit(limits=1, user_api="blas")


# Below this many stored plays, thread start-up and barriers cost more than the work: a 120 x 60
# ALS fit took 9 ms on one thread and 1.4 s on two on a busy 2-core machine.
SMALL_PROBLEM_NNZ = 20_000


def worker_threads(requested: int, nnz: int) -> int:
    """implicit's num_threads: as requested, except that 0 ("all cores") means 1 on tiny data."""
    if requested == 0 and nnz < SMALL_PROBLEM_NNZ:
        return 1
    return requested
