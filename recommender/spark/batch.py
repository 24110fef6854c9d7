"""Top-N for every user of a bundle, computed on Spark and written as Parquet.

Scores are the bundle's CF scores (user factors . item factors), the part of the
hybrid that distributes as plain linear algebra. Users are split into Spark
partitions; each partition scores its users against the broadcast item factors
in one matrix product, removes what each user already played and keeps the top N.
Rows cross the JVM boundary as Arrow record batches (`mapInArrow`), never pandas.

Output: one row per (user, rank) with columns user_id, rank (1 = best), track_id,
score; a user with fewer than N unplayed items gets fewer rows.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from recommender.errors import InputError

OUTPUT_SCHEMA = "user_id string, rank int, track_id string, score float"
USERS_PER_FILE_GROUP = 50_000


@dataclass
class BatchSummary:
    users: int
    rows: int
    n: int
    out: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def users_table(user_ids: np.ndarray, user_factors: np.ndarray, plays: sp.csr_matrix) -> pa.Table:
    """One row per user: external id, factor vector, indices of the items they played."""
    plays = sp.csr_matrix(plays)
    rank = user_factors.shape[1]
    factors = pa.FixedSizeListArray.from_arrays(
        pa.array(np.ascontiguousarray(user_factors, dtype=np.float32).ravel()), rank
    )
    played = pa.ListArray.from_arrays(
        pa.array(plays.indptr.astype(np.int32)), pa.array(plays.indices.astype(np.int32))
    )
    return pa.table(
        {"user_id": pa.array(user_ids.astype(str)), "factors": factors, "played": played}
    )


def top_n_batch(
    batch: pa.RecordBatch, item_factors: np.ndarray, item_ids: np.ndarray, n: int
) -> pa.RecordBatch:
    """Score one Arrow batch of users, mask their played items, keep the best n per user."""
    rank = item_factors.shape[1]
    users = batch.column("factors").flatten().to_numpy(zero_copy_only=False)
    users = users.astype(np.float32).reshape(batch.num_rows, rank)
    scores = users @ item_factors.T
    played = batch.column("played")
    offsets = played.offsets.to_numpy()
    rows = np.repeat(np.arange(batch.num_rows), np.diff(offsets))
    scores[rows, played.flatten().to_numpy(zero_copy_only=False)] = -np.inf
    k = min(n, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k else np.empty((len(scores), 0), int)
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.lexsort((top, -top_scores), axis=1)  # best first, ties by item index
    top, top_scores = (
        np.take_along_axis(top, order, axis=1),
        np.take_along_axis(top_scores, order, axis=1),
    )
    keep = np.isfinite(top_scores)
    user_ids = np.asarray(batch.column("user_id").to_pylist(), dtype=object)
    ranks = np.broadcast_to(np.arange(1, k + 1, dtype=np.int32), top.shape)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(np.repeat(user_ids, keep.sum(axis=1)), pa.string()),
            pa.array(ranks[keep]),
            pa.array(item_ids[top[keep]].astype(str), pa.string()),
            pa.array(top_scores[keep].astype(np.float32)),
        ],
        names=["user_id", "rank", "track_id", "score"],
    )


def recommend_all(
    session: Any,
    *,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    plays: sp.csr_matrix,
    out: str | Path,
    n: int = 10,
) -> BatchSummary:
    """Write the top-n unplayed items of every user to the Parquet dataset `out` (replaced).

    `out` is any path Spark can write (a local directory, hdfs://, s3a://...).
    """
    from recommender.spark.interactions import staging_dir

    if n < 1:
        raise InputError(f"-n must be at least 1, got {n}")
    started = time.perf_counter()
    stage = staging_dir("recsys-spark-batch-")
    try:
        pq.write_table(
            users_table(user_ids, user_factors, plays),
            stage / "users.parquet",
            row_group_size=USERS_PER_FILE_GROUP,
        )
        items = session.sparkContext.broadcast(
            (np.ascontiguousarray(item_factors, dtype=np.float32), np.asarray(item_ids).astype(str))
        )

        def score_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            from threadpoolctl import threadpool_limits

            factors, ids = items.value
            with threadpool_limits(1):  # Spark's tasks are the parallelism
                for batch in batches:
                    yield top_n_batch(batch, factors, ids, n)

        users = session.read.parquet(str(stage / "users.parquet"))
        parallelism = session.sparkContext.defaultParallelism
        result = users.repartition(max(parallelism, 1)).mapInArrow(score_partition, OUTPUT_SCHEMA)
        result.write.mode("overwrite").parquet(str(out))
        items.unpersist()
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    rows = session.read.parquet(str(out)).count()  # from Parquet footers, not a recomputation
    return BatchSummary(
        users=len(user_ids),
        rows=rows,
        n=n,
        out=str(out),
        seconds=round(time.perf_counter() - started, 2),
    )


def recommend_all_local(
    *,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    plays: sp.csr_matrix,
    out: Path,
    n: int = 10,
) -> BatchSummary:
    """The same batch on one machine (same per-batch code), written as one Parquet file.

    The reference for the Spark path and the choice when the factors fit in memory.
    """
    if n < 1:
        raise InputError(f"-n must be at least 1, got {n}")
    started = time.perf_counter()
    table = users_table(user_ids, user_factors, plays)
    factors, ids = (
        np.ascontiguousarray(item_factors, dtype=np.float32),
        np.asarray(item_ids).astype(str),
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    schema = pa.schema(
        [
            ("user_id", pa.string()),
            ("rank", pa.int32()),
            ("track_id", pa.string()),
            ("score", pa.float32()),
        ]
    )
    partial = out.with_name(f".{out.name}.partial")  # renamed only once complete
    try:
        with pq.ParquetWriter(partial, schema) as writer:
            for batch in table.to_batches(max_chunksize=4096):
                result = top_n_batch(batch, factors, ids, n)
                rows += result.num_rows
                writer.write_batch(result)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return BatchSummary(
        users=len(user_ids),
        rows=rows,
        n=n,
        out=str(out),
        seconds=round(time.perf_counter() - started, 2),
    )


def recommend_all_from_bundle(
    bundle: Any, *, out: str | Path, n: int = 10, session: Any | None = None
) -> BatchSummary:
    """Batch top-n from a loaded HybridRecommender's CF factors and plays (Spark when `session`)."""
    cf = bundle.cf
    if cf.user_factors is None or cf.item_factors is None:
        raise InputError(
            f"batch recommendation on Spark needs a factor model (als, bpr, spark-als); the current"
            f" bundle holds {cf.name!r}: retrain with `recsys train --model als`"
        )
    arrays = dict(
        user_ids=bundle.users.ids,
        item_ids=bundle.items.ids,
        user_factors=cf.user_factors,
        item_factors=cf.item_factors,
        plays=bundle.plays,
        out=out,
        n=n,
    )
    if session is None:
        return recommend_all_local(**{**arrays, "out": Path(out)})
    return recommend_all(session, **arrays)
