"""The Dataset every model trains on: one users x items play matrix, crowd tags, predicted tags.

One orientation everywhere: rows are users, columns are items (tracks, or artists
for Last.fm HetRec). Items include tracks nobody has played (cold-start), so their
columns exist with no plays. Splitters (recommender.evaluation) derive training
datasets with `replace`, never by mutating one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sqlalchemy import Connection, Engine, text

from recommender.data.int_columns import NULL_INT, read_int_columns
from recommender.data.vocabulary import Vocabulary
from recommender.errors import RecsysError


@dataclass(frozen=True)
class TagEvents:
    """Crowd tag assignments as index triples: user `user[i]` tagged `item[i]` with `tag[i]`."""

    user: np.ndarray
    item: np.ndarray
    tag: np.ndarray

    def __len__(self) -> int:
        return len(self.user)

    def select(self, keep: np.ndarray) -> TagEvents:
        return TagEvents(self.user[keep], self.item[keep], self.tag[keep])


@dataclass(frozen=True)
class Dataset:
    users: Vocabulary
    items: Vocabulary
    tags: Vocabulary
    plays: sp.csr_matrix  # users x items, float32 play counts; explicit zeros never stored
    tag_events: TagEvents
    # items x tags, probabilities from the audio tagger (None when no tagger has run)
    predicted_tags: sp.csr_matrix | None = None
    predicted_model_version: str | None = None
    # users x items, Unix seconds of the latest play, same sparsity as `plays` (None without times)
    last_played: sp.csr_matrix | None = None
    # per item index: title, artist, has_audio
    item_meta: pd.DataFrame | None = None

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def replace(self, **changes) -> Dataset:
        return replace(self, **changes)

    def item_tag_counts(self) -> sp.csr_matrix:
        """items x tags: how many distinct users applied each tag to each item."""
        ones = np.ones(len(self.tag_events), dtype=np.float32)
        counts = sp.coo_matrix(
            (ones, (self.tag_events.item, self.tag_events.tag)),
            shape=(self.n_items, len(self.tags)),
        ).tocsr()
        counts.sum_duplicates()
        return counts

    def user_tag_counts(self) -> sp.csr_matrix:
        """users x tags: how many items each user tagged with each tag."""
        ones = np.ones(len(self.tag_events), dtype=np.float32)
        counts = sp.coo_matrix(
            (ones, (self.tag_events.user, self.tag_events.tag)),
            shape=(self.n_users, len(self.tags)),
        ).tocsr()
        counts.sum_duplicates()
        return counts

    def item_play_counts(self) -> np.ndarray:
        """How many users played each item (0 for cold-start items)."""
        return np.diff(self.plays.tocsc().indptr)

    def fingerprint(self) -> str:
        """A short content hash saved in model manifests: same data, same fingerprint."""
        digest = hashlib.sha256()
        for array in (
            self.users.ids,
            self.items.ids,
            self.tags.ids,
            self.plays.indptr,
            self.plays.indices,
            self.plays.data,
            self.tag_events.user,
            self.tag_events.item,
            self.tag_events.tag,
        ):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]


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
    greatest model version string (taggers use sortable, timestamped versions).
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
        predicted = None
        if predicted_model_version is not None:
            predicted = pd.read_sql_query(
                text(
                    "SELECT track_id, tag_id, probability FROM predicted_tags"
                    " WHERE model_version = :v"
                ),
                conn,
                params={"v": predicted_model_version},
            )

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
        last_played=last_played,
        item_meta=item_meta,
    )
