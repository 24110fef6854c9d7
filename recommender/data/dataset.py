"""The Dataset every model trains on: one users x items play matrix, crowd tags, predicted tags.

One orientation everywhere: rows are users, columns are items (tracks, or artists
for Last.fm HetRec). Items include tracks nobody has played (cold-start), so their
columns exist with no plays. Splitters (`recommender.data.splits`) derive training
datasets with `replace`, never by mutating one. Pure: reading one from the database
is the application's job (`recommender.services.datasets.load_dataset`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from recommender.data.vocabulary import Vocabulary

if TYPE_CHECKING:
    import pandas as pd


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
    # (n_tags,) float32: that tagger's decision threshold per tag, NaN where it has none
    # (None: not known, e.g. no tagger bundle; the tag filter then uses its default)
    predicted_thresholds: np.ndarray | None = None
    # users x items, Unix seconds of the latest play, same sparsity as `plays` (None without times)
    last_played: sp.csr_matrix | None = None
    # per item index: title, artist, has_audio
    item_meta: pd.DataFrame | None = None
    # (n_items,) bool: True where the tagger of `predicted_tags` found the track's audio out
    # of its training distribution, so its predicted tags are unreliable (None: no flags)
    predicted_ood: np.ndarray | None = None
    # (n_items, dim) float32: the CNN tagger's embedding of each track's audio (zero rows for
    # tracks without audio; None when the tagger has no embeddings)
    item_embeddings: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def replace(self, **changes) -> Dataset:
        return replace(self, **changes)

    @classmethod
    def from_plays(
        cls, plays: sp.spmatrix, *, tag_events: TagEvents | None = None, n_tags: int = 0
    ) -> Dataset:
        """A Dataset over a bare users x items matrix, ids "u0".., "i0".., "t0"..
        (tests, benchmarks and the contract kit)."""
        plays = sp.csr_matrix(plays, dtype=np.float32)
        n_users, n_items = plays.shape
        empty = np.zeros(0, dtype=np.int32)
        return cls(
            users=Vocabulary.from_ids((f"u{i}" for i in range(n_users)), kind="user"),
            items=Vocabulary.from_ids((f"i{i}" for i in range(n_items)), kind="track"),
            tags=Vocabulary.from_ids((f"t{i}" for i in range(n_tags)), kind="tag"),
            plays=plays,
            tag_events=tag_events or TagEvents(empty, empty, empty),
        )

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
