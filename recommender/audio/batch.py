"""Featurise many files in parallel (process pool), keeping each file's error instead of stopping.

Workers are forked (on Linux): they start in milliseconds with librosa already
imported, and scripts or notebooks need no `if __name__ == "__main__"` guard.
Inherited database connections are never touched by a worker, and forked
workers leave through os._exit, so they never close the parent's connections.
Each worker runs single-threaded BLAS: the pool is the parallelism.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from recommender.audio.config import FeatureConfig
from recommender.audio.song_vector import SongFeatures
from recommender.errors import AudioDecodeError


def init_worker() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def make_pool(workers: int) -> ProcessPoolExecutor:
    import librosa  # noqa: F401  imported once in the parent, shared by every forked worker

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=init_worker)


def _extract(path: str, config_json: str) -> SongFeatures | AudioDecodeError:
    from recommender.audio.song_vector import extract_file

    try:
        return extract_file(path, FeatureConfig.from_json(config_json))
    except AudioDecodeError as exc:
        return exc


def extract_many(
    paths: Sequence[str | Path],
    config: FeatureConfig,
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[SongFeatures | AudioDecodeError]:
    """Features (or the AudioDecodeError) for each path, in input order."""
    total = len(paths)
    results: list[SongFeatures | AudioDecodeError] = []
    if workers <= 1 or total <= 1:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # as in the pool's workers: one process, one thread
            for done, path in enumerate(paths, start=1):
                results.append(_extract(str(path), config.to_json()))
                if progress:
                    progress(done, total)
        return results
    with make_pool(min(workers, total)) as pool:
        futures = [pool.submit(_extract, str(p), config.to_json()) for p in paths]
        for done, future in enumerate(futures, start=1):
            results.append(future.result())
            if progress:
                progress(done, total)
    return results
