"""Integer columns of a large table straight into numpy arrays, chunk by chunk.

`pandas.read_sql_query` builds one Python tuple per row and then a DataFrame: at
Last.fm-360K size (17.5M listens) that is gigabytes of short-lived objects. Here
PostgreSQL streams `COPY ... TO STDOUT (FORMAT binary)`, whose rows have a fixed
width once NULLs are coalesced, parsed by numpy without any per-row Python; other
databases (SQLite) go through the DB-API cursor's `fetchmany`, one bounded chunk
of tuples at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from sqlalchemy import Connection

# NULL in a nullable column comes back as this value (no real id or Unix time is it).
NULL_INT = np.iinfo(np.int64).min
CHUNK_ROWS = 1_000_000
_PG_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_PG_TRAILER = b"\xff\xff"


def read_int_columns(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    *,
    chunk_rows: int = CHUNK_ROWS,
) -> dict[str, np.ndarray]:
    """{column: int64 array} for every row of `table` (NULL -> NULL_INT), in one scan.

    `table` and `columns` are identifiers from our own schema, never user input.
    """
    select = ", ".join(f"COALESCE(CAST({c} AS BIGINT), {NULL_INT})" for c in columns)
    sql = f"SELECT {select} FROM {table}"
    reader = _postgres_chunks if conn.dialect.name == "postgresql" else _dbapi_chunks
    parts: list[list[np.ndarray]] = [[np.empty(0, dtype=np.int64)] for _ in columns]
    for chunk in reader(conn, sql, len(columns), chunk_rows):
        for i, part in enumerate(parts):
            part.append(np.ascontiguousarray(chunk[:, i]))  # the row-major chunk can go
    return {c: np.concatenate(part) for c, part in zip(columns, parts, strict=True)}


def _dbapi_chunks(conn: Connection, sql: str, width: int, chunk_rows: int) -> Iterator[np.ndarray]:
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(chunk_rows):
            yield np.array(rows, dtype=np.int64).reshape(len(rows), width)
    finally:
        cursor.close()


def _pg_row_dtype(width: int) -> np.dtype:
    """One binary COPY row of `width` non-NULL int8 fields: count, then (length, value) pairs."""
    fields = [("count", ">i2")]
    for i in range(width):
        fields += [(f"len{i}", ">i4"), (f"v{i}", ">i8")]
    return np.dtype(fields)  # packed: no alignment padding, as on the wire


def _postgres_chunks(
    conn: Connection, sql: str, width: int, chunk_rows: int
) -> Iterator[np.ndarray]:
    row = _pg_row_dtype(width)
    target = row.itemsize * chunk_rows
    pending = bytearray()
    header_done = False
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)") as copy:
            for block in copy:
                pending += block
                if not header_done and len(pending) >= 19:
                    pending = _skip_header(pending)
                    header_done = True
                if header_done and len(pending) >= target:
                    usable = len(pending) // row.itemsize * row.itemsize
                    yield _parse_rows(bytes(pending[:usable]), row, width)
                    del pending[:usable]
    finally:
        cursor.close()
    if not header_done:
        raise ValueError("PostgreSQL binary COPY ended before its header")
    if bytes(pending[-2:]) != _PG_TRAILER:
        raise ValueError("PostgreSQL binary COPY stream has no trailer")
    body = pending[:-2]
    if len(body) % row.itemsize:
        raise ValueError("PostgreSQL binary COPY rows are not the expected fixed width")
    if body:
        yield _parse_rows(bytes(body), row, width)


def _skip_header(buffer: bytearray) -> bytearray:
    if bytes(buffer[:11]) != _PG_SIGNATURE:
        raise ValueError("not a PostgreSQL binary COPY stream")
    extension = int.from_bytes(buffer[15:19], "big")
    return buffer[19 + extension :]


def _parse_rows(data: bytes, row: np.dtype, width: int) -> np.ndarray:
    records = np.frombuffer(data, dtype=row)
    if (records["count"] != width).any() or any(
        (records[f"len{i}"] != 8).any() for i in range(width)
    ):
        raise ValueError("unexpected field in PostgreSQL binary COPY (NULL or non-int8)")
    out = np.empty((len(records), width), dtype=np.int64)
    for i in range(width):
        out[:, i] = records[f"v{i}"]
    return out
