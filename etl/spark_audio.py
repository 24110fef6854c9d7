"""Catalogue audio features on Spark: the scan's own per-file worker, mapped over partitions.

Each task runs `etl.audio_scan.extract_one` (checksum, skip-if-unchanged, decode,
`recommender.audio.song_vector.extract_file`) on its share of the catalogue, so the
vectors are byte-identical to the local scan's; the driver writes them to the
database in the scan's batches, with the same rejects for undecodable files.
Rows travel as Arrow record batches (`mapInArrow`). On a cluster, every executor
needs recsys installed and the audio paths readable at the same locations.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

TASK_FIELDS = ("track_id", "path", "known_checksum", "config_json")
RESULT_SCHEMA = pa.schema(
    [
        ("track_id", pa.int64()),
        ("path", pa.string()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("message", pa.string()),
        ("checksum", pa.string()),
        ("summary", pa.binary()),
        ("summary_dim", pa.int64()),
        ("frames", pa.binary()),
        ("frame_dim", pa.int64()),
        ("seconds", pa.float64()),
        ("notice", pa.string()),
    ]
)
RESULT_DDL = (
    "track_id long, path string, status string, reason string, message string, checksum string,"
    " summary binary, summary_dim long, frames binary, frame_dim long, seconds double,"
    " notice string"
)


def _extract_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Executor side: one result row per task row, one file at a time, one BLAS thread."""
    from threadpoolctl import threadpool_limits

    from etl.audio_scan import extract_one

    with threadpool_limits(1):
        for batch in batches:
            rows = [
                extract_one(t["track_id"], t["path"], t["known_checksum"], t["config_json"])
                for t in batch.to_pylist()
            ]
            yield pa.RecordBatch.from_pylist(rows, schema=RESULT_SCHEMA)


def spark_results(tasks: list[tuple], session: Any | None = None) -> Iterator[dict[str, Any]]:
    """Results of `extract_one(*task)` for every task, computed on Spark, collected as Arrow."""
    from recommender.spark.session import spark_session

    if not tasks:
        return
    session = session or spark_session()
    table = pa.table(
        {
            "track_id": pa.array([t[0] for t in tasks], pa.int64()),
            "path": pa.array([t[1] for t in tasks], pa.string()),
            "known_checksum": pa.array([t[2] for t in tasks], pa.string()),
            "config_json": pa.array([t[3] for t in tasks], pa.string()),
        }
    )
    # one file per task, a few tasks per core: long clips must not leave cores idle
    partitions = max(1, min(len(tasks), 4 * session.sparkContext.defaultParallelism))
    frame = session.createDataFrame(table).repartition(partitions)
    results = frame.mapInArrow(_extract_batches, RESULT_DDL)
    for batch in results.toArrow().to_batches():
        for row in batch.to_pylist():
            yield {key: value for key, value in row.items() if value is not None}
