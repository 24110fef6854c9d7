"""Synthetic listening logs shaped like Last.fm-360K, for benchmarks and load tests.

Power-law user activity and item popularity (Zipf-like weights over shuffled ids),
lognormal play counts, distinct (user, item) pairs, ids as long as the real ones
(40-hex user hashes, 36-char MusicBrainz-style item ids). Vectorised numpy; the CSV /
Parquet is written by pyarrow from dictionary-encoded columns. `tags_table` adds crowd
tags for a subset of users (Zipf-popular tag names on items those users played), so
the tag path of the ETL and the models is exercised at scale too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

# Last.fm-360K: 358,868 users, 160,168 artists, 17,559,530 user-artist rows.
LASTFM_360K = {"users": 358_868, "items": 160_168, "rows": 17_559_530}


def _zipf_weights(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    rng.shuffle(weights)  # popularity is not ordered by id
    return weights / weights.sum()


def _ids(n: int, width: int, rng: np.random.Generator) -> pa.Array:
    raw = rng.integers(0, 16, size=(n, width), dtype=np.uint8)
    hexdigits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[raw]
    strings = hexdigits.view(f"S{width}").ravel()
    # uniqueness: collisions at these widths are astronomically unlikely, but make sure
    assert len(np.unique(strings)) == n
    return pa.array(strings.astype(f"U{width}"), pa.string())


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    # sort-based: numpy's hash-based np.unique is ~20x slower on tens of millions of int64
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


def listens_table(*, users: int, items: int, rows: int, seed: int = 0) -> pa.Table:
    """`rows` distinct (user, track, count) rows (fewer if the matrix cannot hold them)."""
    rng = np.random.default_rng(seed)
    rows = min(rows, users * items)
    user_p = _zipf_weights(users, 0.8, rng)
    item_p = _zipf_weights(items, 1.0, rng)
    pairs = np.empty(0, dtype=np.int64)
    while pairs.size < rows:
        need = 2 * (rows - pairs.size) + 1000  # popular pairs collide: oversample
        u = rng.choice(users, size=need, p=user_p)
        i = rng.choice(items, size=need, p=item_p)
        pairs = _sorted_unique(np.concatenate([pairs, u.astype(np.int64) * items + i]))
    pairs = rng.permutation(pairs)[:rows]
    pairs.sort()  # logs are usually grouped by user
    counts = np.ceil(rng.lognormal(mean=4.0, sigma=1.5, size=rows)).astype(np.int64)
    user_dict = _ids(users, 40, rng)
    item_dict = _ids(items, 36, rng)
    return pa.table(
        {
            "user": pa.DictionaryArray.from_arrays(pa.array(pairs // items, pa.int32()), user_dict),
            "track": pa.DictionaryArray.from_arrays(pa.array(pairs % items, pa.int32()), item_dict),
            "count": pa.array(counts),
        }
    )


def tags_table(
    listens: pa.Table,
    *,
    user_share: float = 0.1,
    pair_share: float = 0.2,
    n_tags: int = 2000,
    seed: int = 0,
) -> pa.Table:
    """(user, track, tag) rows: `user_share` of users tag `pair_share` of what they played.

    Tags are drawn Zipf-like from `n_tags` names (a few very common, a long tail), as on
    Last.fm, where about 10% of listeners tag anything at all.
    """
    rng = np.random.default_rng(seed + 1)
    user = listens.column("user").combine_chunks()
    track = listens.column("track").combine_chunks()
    n_users = len(user.dictionary)
    taggers = rng.random(n_users) < user_share
    user_idx = user.indices.to_numpy()
    keep = np.flatnonzero(taggers[user_idx] & (rng.random(len(user_idx)) < pair_share))
    tag_idx = rng.choice(n_tags, size=len(keep), p=_zipf_weights(n_tags, 1.1, rng))
    names = pa.array([f"tag-{i:04d}" for i in range(n_tags)], pa.string())
    return pa.table(
        {
            "user": pa.DictionaryArray.from_arrays(
                pa.array(user_idx[keep], pa.int32()), user.dictionary
            ),
            "track": pa.DictionaryArray.from_arrays(
                pa.array(track.indices.to_numpy()[keep], pa.int32()), track.dictionary
            ),
            "tag": pa.DictionaryArray.from_arrays(pa.array(tag_idx, pa.int32()), names),
        }
    )


def write_table(path: Path, table: pa.Table) -> Path:
    """Parquet if `path` ends in .parquet, else CSV (dictionary columns written as strings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
        return path
    import pyarrow.csv as pcsv

    plain = pa.table(
        {
            name: column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
            for name, column in zip(table.column_names, table.columns, strict=True)
        }
    )
    pcsv.write_csv(plain, path, pcsv.WriteOptions(quoting_style="none"))
    return path


def write_listens(path: Path, *, users: int, items: int, rows: int, seed: int = 0) -> Path:
    """Write a synthetic listens file; Parquet if `path` ends in .parquet, else CSV."""
    table = listens_table(users=users, items=items, rows=rows, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    else:
        import pyarrow.csv as pcsv

        plain = pa.table(
            {
                name: table.column(name).cast(pa.string())
                if name != "count"
                else table.column(name)
                for name in table.column_names
            }
        )
        pcsv.write_csv(plain, path, pcsv.WriteOptions(quoting_style="none"))
    return path
