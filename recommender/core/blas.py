"""How many threads BLAS may use, process-wide or for a block of code.

Two reasons to hold BLAS to one thread: implicit warns (and runs up to 10x slower)
when OpenBLAS also spawns threads inside its per-user solves, and a product's last bits
depend on the thread count (core.rowdot). The controller is built once:
`threadpool_limits` rescans every loaded library on each call (8 ms measured).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_controller = None


def _blas():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread for the duration (restored afterwards)."""
    with _blas().limit(limits=1, user_api="blas"):
        yield


def serving_blas() -> None:
    """One BLAS thread for the rest of the process: a server scores one user per request,
    many requests at once, and threads inside each small product only contend."""
    _blas().limit(limits=1, user_api="blas")
