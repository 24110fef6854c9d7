"""Read the whole store into a `Dataset`: one consistent snapshot of every table.

The database side of the Dataset (which itself is pure, see `recommender.data.dataset`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sqlalchemy import Connection, Engine, text

from recommender.data.dataset import Dataset, TagEvents
from recommender.data.vocabulary import Vocabulary
from recommender.errors import RecsysError
from recommender.services.audio_features import load_embeddings
from recommender.services.int_columns import NULL_INT, read_int_columns
from recommender.services.novelty import out_of_distribution


def _contiguous(db_ids: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Map database primary keys to positions in `sorted_keys` (vectorised).

    A key that is not there means the tables were not read from one snapshot;
    that must fail loudly, never map to a neighbour's index.
    """
    if not len(db_ids):
        return np.zeros(0, dtype=np.int32)
    if len(sorted_keys) and sorted_keys[-1] - sorted_keys[0] == len(sorted_keys) - 1:
        # gap-free autoincrement keys (the usual case): a subtraction, not a binary search
        positions = db_ids - sorted_keys[0]
        valid = (positions.min() >= 0) and (positions.max() < len(sorted_keys))
    else:
        positions = np.searchsorted(sorted_keys, db_ids)
        inside = positions < len(sorted_keys)
        valid = bool(inside.all()) and bool(np.all(sorted_keys[positions] == db_ids))
    if not valid:
        raise RecsysError(
            "the database changed while it was being read (rows reference ids that were not"
            " there); run the command again"
        )
    return positions.astype(np.int32)


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One consistent view of every table, even while an ETL load commits meanwhile."""
    if engine.dialect.name == "postgresql":
        repeatable = engine.connect().execution_options(isolation_level="REPEATABLE READ")
        with repeatable as conn, conn.begin():
            yield conn
        return
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            # pysqlite opens no transaction for SELECTs; BEGIN pins one WAL snapshot,
            # and closing the connection rolls it back.
            conn.exec_driver_sql("BEGIN")
        yield conn


def load_dataset(engine: Engine, *, predicted_model_version: str | None = None) -> Dataset:
    """Read the whole store into a Dataset.

    Predicted tags come from `predicted_model_version`, or by default from the
    greatest model version string (taggers use sortable, timestamped versions), with
    that version's out-of-distribution flags (`services.novelty`) and audio embeddings
    (the CNN's) when it stored any.
    """
    with _snapshot(engine) as conn:
        users = pd.read_sql_query("SELECT id, external_id FROM users ORDER BY id", conn)
        tracks = pd.read_sql_query(
            "SELECT id, external_id, title, artist, audio_path FROM tracks ORDER BY id", conn
        )
        tags = pd.read_sql_query("SELECT id, name FROM tags ORDER BY id", conn)
        # the two big tables: integer columns straight into numpy (no per-row objects)
        listens = read_int_columns(
            conn, "listens", ["user_id", "track_id", "play_count", "last_played"]
        )
        assignments = read_int_columns(conn, "tag_assignments", ["user_id", "track_id", "tag_id"])
        if predicted_model_version is None:
            predicted_model_version = conn.exec_driver_sql(
                "SELECT MAX(model_version) FROM predicted_tags"
            ).scalar()
        predicted = ood = embeddings = None
        if predicted_model_version is not None:
            predicted = pd.read_sql_query(
                text(
                    "SELECT track_id, tag_id, probability FROM predicted_tags"
                    " WHERE model_version = :v"
                ),
                conn,
                params={"v": predicted_model_version},
            )
            ood = out_of_distribution(conn, predicted_model_version, tracks["id"].to_numpy())
            embeddings = load_embeddings(conn, predicted_model_version, tracks["id"].to_numpy())

    user_keys = users["id"].to_numpy()
    track_keys = tracks["id"].to_numpy()
    tag_keys = tags["id"].to_numpy()
    n_users, n_items, n_tags = len(user_keys), len(track_keys), len(tag_keys)

    rows = _contiguous(listens.pop("user_id"), user_keys)
    cols = _contiguous(listens.pop("track_id"), track_keys)
    plays = sp.csr_matrix(
        (listens.pop("play_count").astype(np.float32), (rows, cols)), shape=(n_users, n_items)
    )
    last_played = None
    stamps = listens.pop("last_played")
    if len(stamps) and (stamps != NULL_INT).all():
        last_played = sp.csr_matrix(
            (stamps.astype(np.float64), (rows, cols)), shape=(n_users, n_items)
        )
    del rows, cols, stamps

    tag_events = TagEvents(
        user=_contiguous(assignments["user_id"], user_keys),
        item=_contiguous(assignments["track_id"], track_keys),
        tag=_contiguous(assignments["tag_id"], tag_keys),
    )
    predicted_matrix = None
    if predicted is not None and len(predicted):
        predicted_matrix = sp.csr_matrix(
            (
                predicted["probability"].to_numpy(dtype=np.float32),
                (
                    _contiguous(predicted["track_id"].to_numpy(), track_keys),
                    _contiguous(predicted["tag_id"].to_numpy(), tag_keys),
                ),
            ),
            shape=(n_items, n_tags),
        )
    item_meta = pd.DataFrame(
        {
            "title": tracks["title"].to_numpy(),
            "artist": tracks["artist"].to_numpy(),
            "has_audio": tracks["audio_path"].notna().to_numpy(),
        }
    )
    return Dataset(
        users=Vocabulary(users["external_id"].to_numpy(), kind="user"),
        items=Vocabulary(tracks["external_id"].to_numpy(), kind="track"),
        tags=Vocabulary(tags["name"].to_numpy(), kind="tag"),
        plays=plays,
        tag_events=tag_events,
        predicted_tags=predicted_matrix,
        predicted_model_version=predicted_model_version if predicted_matrix is not None else None,
        predicted_ood=ood if predicted_matrix is not None else None,
        item_embeddings=embeddings if predicted_matrix is not None else None,
        last_played=last_played,
        item_meta=item_meta,
    )
