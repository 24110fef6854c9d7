"""`recsys recommend --all`: every trained user's list, the one `recsys recommend --user` gives.

Locally the users are ranked block by block (`hybrid.batch.ranked_rows`) into one
Parquet file, written under a temporary name and renamed when complete; with a
Spark session the same function runs in every Spark task (`spark.batch`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from recommender.core.component import row_batches
from recommender.errors import InputError
from recommender.hybrid.batch import SCHEMA, ranked_rows
from recommender.hybrid.recommender import HybridRecommender


@dataclass
class BatchSummary:
    users: int
    rows: int
    n: int
    out: str
    engine: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recommend_all(
    rec: HybridRecommender,
    bundle_dir: Path,
    *,
    out: str,
    n: int = 10,
    tags: Sequence[str] | None = None,
    any_tags: Sequence[str] | None = None,
    include_listened: bool = False,
    session: Any | None = None,
) -> BatchSummary:
    """Top-n for every user of `rec` (loaded from `bundle_dir`) into Parquet at `out`; a
    user whose every item under the tag filter is played gets no rows."""
    if n < 1:
        raise InputError(f"-n must be at least 1, got {n}")
    rec.carrying(tags, any_tags)  # an unknown tag or an empty filter fails here, before any work
    started = time.perf_counter()
    n_users = len(rec.users)
    options = {"n": n, "tags": tags, "any_tags": any_tags, "include_listened": include_listened}
    if session is not None:
        from recommender.spark.batch import recommend_all_spark

        rows = recommend_all_spark(session, bundle_dir, n_users=n_users, out=out, **options)
    else:
        rows = _write_local(rec, Path(out), **options)
    return BatchSummary(
        users=n_users,
        rows=rows,
        n=n,
        out=str(out),
        engine="local" if session is None else "spark",
        seconds=round(time.perf_counter() - started, 2),
    )


def _write_local(rec: HybridRecommender, out: Path, **options: Any) -> int:
    import numpy as np
    import pyarrow.parquet as pq

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out: cannot create {out.parent}: {exc.strerror}") from None
    partial = out.with_name(f".{out.name}.partial")  # renamed only once complete
    rows = 0
    try:
        with pq.ParquetWriter(partial, SCHEMA) as writer:
            for batch in row_batches(len(rec.users), len(rec.items)):
                result = ranked_rows(rec, np.arange(batch.start, batch.stop), **options)
                rows += result.num_rows
                writer.write_batch(result)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return rows
