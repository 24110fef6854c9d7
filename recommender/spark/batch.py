"""Top-N for every user of a bundle on Spark, written as Parquet: the local batch, distributed.

The bundle directory is shipped to the executors (`SparkContext.addFile`), each
Python worker loads it once (verified, memory-mapped), and every partition of
user rows is ranked by `recommender.hybrid.batch.ranked_rows`, the code that ranks
one user for `recsys recommend --user`. So a Spark list is the per-user list.
Rows cross the JVM boundary as Arrow record batches (`mapInArrow`), never pandas.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

OUTPUT_SCHEMA = "user_id string, rank int, track_id string, score float, source string"

_loaded: dict[str, Any] = {}  # bundle path -> HybridRecommender, one per Python worker


def _bundle(path: str) -> Any:
    if path not in _loaded:
        from recommender.core.bundle import read_bundle

        _loaded[path] = read_bundle(Path(path), mmap=True)
    return _loaded[path]


def recommend_all_spark(
    session: Any,
    bundle_dir: Path,
    *,
    n_users: int,
    out: str,
    n: int,
    tags: Sequence[str] | None = None,
    any_tags: Sequence[str] | None = None,
    include_listened: bool = False,
) -> int:
    """Write every user's top-n to the Parquet dataset `out` (replaced); returns its rows.

    `out` is any path Spark can write (a local directory, hdfs://, s3a://...).
    """
    from pyspark import SparkFiles

    context = session.sparkContext
    context.addFile(str(bundle_dir), recursive=True)
    name = Path(bundle_dir).name
    chosen, some = list(tags or []), list(any_tags or [])

    def rank_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from threadpoolctl import threadpool_limits

        from recommender.hybrid.batch import ranked_rows

        rec = _bundle(SparkFiles.get(name))
        with threadpool_limits(1):  # Spark's tasks are the parallelism
            for batch in batches:
                rows = batch.column("id").to_numpy()
                yield ranked_rows(
                    rec, rows, n=n, tags=chosen, any_tags=some, include_listened=include_listened
                )

    users = session.range(n_users).repartition(max(context.defaultParallelism, 1))
    users.mapInArrow(rank_partition, OUTPUT_SCHEMA).write.mode("overwrite").parquet(str(out))
    return session.read.parquet(str(out)).count()  # from Parquet footers, not a recomputation
