"""The batch form of `HybridRecommender.rank`: users in, one Arrow row per (user, rank) out.

Used by the local batch job and inside every Spark task, so a batch list is the
per-user list, row for row. Columns: user_id, rank (1 = best), track_id, score,
source; a user with fewer than n rankable items gets fewer rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from recommender.hybrid.recommender import HybridRecommender

SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("rank", pa.int32()),
        ("track_id", pa.string()),
        ("score", pa.float32()),
        ("source", pa.string()),
    ]
)


def ranked_rows(
    rec: HybridRecommender,
    user_rows: np.ndarray,
    *,
    n: int,
    tags: Sequence[str] | None = None,
    any_tags: Sequence[str] | None = None,
    include_listened: bool = False,
) -> pa.RecordBatch:
    """The top-n of each user row as Arrow rows, exactly as `rec.rank` ranks them."""
    rows = np.asarray(user_rows, dtype=np.int64)
    top = rec.rank(rows, n=n, tags=tags, any_tags=any_tags, include_listened=include_listened)
    keep = top.ids >= 0
    ranks = np.broadcast_to(np.arange(1, top.ids.shape[1] + 1, dtype=np.int32), top.ids.shape)
    ids = top.ids[keep]
    return pa.RecordBatch.from_arrays(
        [
            pa.array(np.repeat(rec.users.ids[rows], keep.sum(axis=1)), pa.string()),
            pa.array(ranks[keep]),
            pa.array(rec.items.ids[ids], pa.string()),
            pa.array(top.scores[keep].astype(np.float32)),
            pa.array(rec.sources(ids).astype(str), pa.string()),
        ],
        schema=SCHEMA,
    )
