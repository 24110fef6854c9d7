"""Interactions for Spark: a users x items matrix (or the listens table) as Parquet, read by Spark.

Data crosses into the JVM as Parquet written by pyarrow, never through pandas
(PySpark 4 does not fully support pandas 3). On a cluster the staging directory
must be on storage every executor can read (set RECSYS_SPARK_STAGING to a shared
mount); in local mode a temp directory is enough.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

ROW_GROUP = 1_000_000


def staging_dir(prefix: str = "recsys-spark-") -> Path:
    """A fresh directory for files Spark reads (under RECSYS_SPARK_STAGING when set)."""
    root = os.environ.get("RECSYS_SPARK_STAGING")
    if root:
        Path(root).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root or None))


def matrix_table(matrix: sp.csr_matrix, *, value: str = "rating") -> pa.Table:
    """(user int32, item int32, value float32) rows of the stored entries, in row order."""
    coo = sp.csr_matrix(matrix).tocoo()
    return pa.table(
        {
            "user": pa.array(coo.row.astype(np.int32)),
            "item": pa.array(coo.col.astype(np.int32)),
            value: pa.array(coo.data.astype(np.float32)),
        }
    )


def write_matrix(matrix: sp.csr_matrix, path: Path, *, value: str = "rating") -> Path:
    """Write the matrix's entries as one Parquet file (row groups of ROW_GROUP entries)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(matrix_table(matrix, value=value), path, row_group_size=ROW_GROUP)
    return path


def read_matrix(session: Any, path: Path) -> Any:
    """The Parquet written by `write_matrix` as a Spark DataFrame (user, item, rating)."""
    return session.read.parquet(str(path))


def factors_from_arrow(table: pa.Table, n_rows: int, rank: int) -> np.ndarray:
    """Spark's (id, features array<float>) factor table as a dense float32 (n_rows, rank) array.

    Rows Spark never saw (users or items without interactions) stay zero, which is
    also where implicit's least squares puts a row with no data.
    """
    out = np.zeros((n_rows, rank), dtype=np.float32)
    if table.num_rows == 0:
        return out
    ids = table.column("id").to_numpy()
    features = table.column("features").combine_chunks()
    values = features.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    out[ids] = values.reshape(len(ids), rank)
    return out
