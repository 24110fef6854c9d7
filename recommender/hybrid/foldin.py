"""Fold-in: score a user the bundle never saw from their history, exactly as training would.

A user who arrived after `recsys train` has plays and tags but no row in the model.
Their CF scores come from the CF model's own fold-in (`CFModel.score_history`: ALS
uses implicit's recalculate_user on the saved weighting, item-KNN history x
similarity), and their tag profile is built with the bundle's IDF weights and item vectors, the
same formula as `recommender.tags.profiles.build_tag_space`. Everything is one
row: a fold-in costs a few small products, no retraining.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommender.data.vocabulary import Vocabulary
from recommender.tags.profiles import TagSpace, l2_normalize_rows


@dataclass(frozen=True)
class FoldedHistory:
    """One user's history over the bundle's vocabularies (unknown tracks and tags dropped)."""

    plays: sp.csr_matrix  # 1 x n_items raw play counts
    applied: sp.csr_matrix  # 1 x n_tags: how many items the user tagged with each tag
    dropped_plays: int  # history entries on tracks the bundle does not know
    dropped_tags: int  # tag assignments with a tag the bundle does not know

    @property
    def empty(self) -> bool:
        return self.plays.nnz == 0 and self.applied.nnz == 0


def fold_history(
    plays: Mapping[str, float],
    tagged: Iterable[tuple[str, str]],
    *,
    items: Vocabulary,
    tags: Vocabulary,
) -> FoldedHistory:
    """Map {track id: play count} and (track id, tag) pairs onto the bundle's indices.

    A tag assignment counts towards the user's applied tags even on a track the bundle
    does not know: in training, applied tags are counted per tagging event, whatever
    the track. Non-positive play counts are ignored (they are not plays).
    """
    track_ids = [t for t, c in plays.items() if c is not None and float(c) > 0]
    counts = np.asarray([float(plays[t]) for t in track_ids], dtype=np.float32)
    cols = items.indices(track_ids) if track_ids else np.empty(0, dtype=np.int64)
    known = cols >= 0
    play_row = sp.csr_matrix(
        (counts[known], (np.zeros(int(known.sum()), np.int64), cols[known])),
        shape=(1, len(items)),
        dtype=np.float32,
    )
    play_row.sort_indices()  # the order a trained user's row has (explanations break ties by it)
    pairs = sorted({(str(track), str(tag).strip()) for track, tag in tagged})
    tag_cols = tags.indices([tag for _, tag in pairs]) if pairs else np.empty(0, np.int64)
    tag_known = tag_cols >= 0
    applied = sp.csr_matrix(
        (
            np.ones(int(tag_known.sum()), np.float32),
            (np.zeros(int(tag_known.sum()), np.int64), tag_cols[tag_known]),
        ),
        shape=(1, len(tags)),
        dtype=np.float32,
    )
    applied.sum_duplicates()
    return FoldedHistory(
        plays=play_row,
        applied=applied,
        dropped_plays=int((~known).sum()),
        dropped_tags=int((~tag_known).sum()),
    )


def fold_in_profile(
    space: TagSpace, plays: sp.csr_matrix, applied: sp.csr_matrix, *, applied_weight: float
) -> sp.csr_matrix:
    """1 x tags profile: the training formula of `build_tag_space` on the bundle's IDF/items.

    A test checks it reproduces a trained user's saved profile exactly, so the two stay in step.
    """
    weight = sp.diags(space.idf)
    logged = sp.csr_matrix(plays, dtype=np.float32, copy=True)
    logged.data = np.log1p(logged.data)
    played = l2_normalize_rows((logged @ space.item_vectors) @ weight)
    tagged = sp.csr_matrix(applied, dtype=np.float32, copy=True)
    tagged.data = np.log1p(tagged.data)
    tagged = l2_normalize_rows(tagged @ weight)
    return l2_normalize_rows(applied_weight * tagged + (1.0 - applied_weight) * played)
