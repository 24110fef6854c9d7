"""Tag profiles: what a user is about, in tags, with crowd-wide popular tags discounted.

A user's raw profile mixes the tags they applied with the tags of the items they
play (log-scaled plays). Tags nearly everyone uses ("favorites", "seen live")
carry no information about anyone, so every tag of a profile is weighted by an IDF
over users before the L2 normalisation. Items live in the same tag space without
the IDF weights (an item's tags describe it; the discount is about people), but
tags with zero IDF are dropped from them too, or crowd-tagged items, diluted by
"favorites", would always lose to cleanly predicted cold ones. So the cosine
between a user profile and an item vector is the tag-profile match. On HetRec,
discounting the profile side only ranks best (NDCG@10 0.276 vs 0.250 without IDF
and 0.184 with IDF on both sides, cold-items split).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommender.data.dataset import Dataset

# Predicted probabilities below this are noise for profiles and keep matrices sparse.
MIN_PREDICTED_PROBABILITY = 0.05


def l2_normalize_rows(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Row-wise L2 normalisation of a sparse matrix; empty rows stay empty."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags((1.0 / norms).astype(np.float32)) @ matrix)


def tag_idf(user_tag_counts: sp.csr_matrix, *, power: float = 1.0) -> np.ndarray:
    """Probabilistic IDF over users, log((N - df + 0.5) / (df + 0.5)) floored at 0, to `power`.

    df is how many users applied the tag. A tag at least half of all users apply
    ("favorites", "seen live" in the demo) weighs 0: it says nothing about anyone. A
    tag nobody applied (only predicted from audio) gets the largest weight. The
    plain log(N / df) left "favorites" at a third of a genre's weight, enough to
    top every demo profile.
    """
    n_users = user_tag_counts.shape[0]
    df = np.diff(sp.csc_matrix(user_tag_counts).indptr).astype(np.float64)
    idf = np.log((n_users - df + 0.5) / (df + 0.5))
    return np.power(np.maximum(idf, 0.0), power).astype(np.float32)


def raw_item_tags(
    dataset: Dataset, *, informative: np.ndarray | None = None, ood_weight: float = 1.0
) -> tuple[sp.csr_matrix, np.ndarray]:
    """items x tags before IDF: log-scaled crowd counts, predicted tags where an item has none.

    `informative` (bool per tag) drops the other tags first, so an item tagged only
    "seen live" counts as untagged and falls back to its predicted tags. Returns the
    L2-normalised matrix and a boolean per item: True where it comes from predicted tags.
    A vector from predicted tags of a track whose audio the tagger found out of its
    training distribution (`dataset.predicted_ood`) is scaled by `ood_weight` instead:
    every content score built on it (profile match, content map, played-item profiles,
    content neighbours) shrinks towards that of a track with no content.
    """
    keep_tags = sp.diags(
        np.ones(len(dataset.tags), np.float32)
        if informative is None
        else informative.astype(np.float32)
    )
    crowd = dataset.item_tag_counts() @ keep_tags
    crowd = sp.csr_matrix(crowd)
    crowd.eliminate_zeros()
    crowd.data = np.log1p(crowd.data)
    crowd = l2_normalize_rows(crowd)
    has_crowd = np.diff(crowd.indptr) > 0
    from_predicted = np.zeros(dataset.n_items, dtype=bool)
    if dataset.predicted_tags is None:
        return crowd, from_predicted
    predicted = sp.csr_matrix(dataset.predicted_tags, dtype=np.float32) @ keep_tags
    predicted = sp.csr_matrix(predicted.multiply(predicted >= MIN_PREDICTED_PROBABILITY))
    predicted.eliminate_zeros()
    use_predicted = ~has_crowd & (np.diff(predicted.indptr) > 0)
    from_predicted[use_predicted] = True
    keep = sp.diags(use_predicted.astype(np.float32))
    combined = l2_normalize_rows(crowd + l2_normalize_rows(keep @ predicted))
    if dataset.predicted_ood is not None and ood_weight != 1.0:
        weights = np.where(from_predicted & dataset.predicted_ood, ood_weight, 1.0)
        combined = sp.csr_matrix(sp.diags(weights.astype(np.float32)) @ combined)
    return combined, from_predicted


@dataclass(frozen=True)
class TagSpace:
    """IDF weights, item content vectors and user profiles, all over `dataset.tags`."""

    idf: np.ndarray  # (n_tags,) float32
    # items x tags, L2-normalised rows (zero-IDF tags dropped; out-of-distribution ones shorter)
    item_vectors: sp.csr_matrix
    user_profiles: sp.csr_matrix  # users x tags, IDF-weighted, L2-normalised rows
    item_from_predicted: np.ndarray  # (n_items,) bool: vector built from predicted tags

    def match(self, user_rows: np.ndarray) -> np.ndarray:
        """Cosine of each user's profile with every item, float32 (len(user_rows), n_items)."""
        return (self.user_profiles[user_rows] @ self.item_vectors.T).toarray().astype(np.float32)

    def profile_for_tags(self, tag_indices: np.ndarray) -> sp.csr_matrix:
        """A 1 x tags profile for a new user who picked these tags (equal weight, IDF-scaled)."""
        n_tags = len(self.idf)
        row = np.zeros(n_tags, dtype=np.float32)
        row[tag_indices] = np.maximum(self.idf[tag_indices], 1e-3)
        return l2_normalize_rows(sp.csr_matrix(row[None, :]))


def build_tag_space(
    dataset: Dataset,
    *,
    applied_weight: float = 0.2,
    idf_power: float = 1.0,
    ood_weight: float = 1.0,
) -> TagSpace:
    """Build item vectors and user profiles from `dataset` alone (its plays, tags, predictions).

    `applied_weight` balances the tags a user applied against the tags of what they play;
    `ood_weight` scales predicted-tag vectors of out-of-distribution tracks (`raw_item_tags`).
    """
    idf = tag_idf(dataset.user_tag_counts(), power=idf_power)
    weight = sp.diags(idf)
    raw_items, from_predicted = raw_item_tags(dataset, informative=idf > 0, ood_weight=ood_weight)
    plays = sp.csr_matrix(dataset.plays, dtype=np.float32, copy=True)
    plays.data = np.log1p(plays.data)
    played = l2_normalize_rows((plays @ raw_items) @ weight)
    applied = dataset.user_tag_counts()
    applied.data = np.log1p(applied.data)
    applied = l2_normalize_rows(applied @ weight)
    profiles = l2_normalize_rows(applied_weight * applied + (1.0 - applied_weight) * played)
    return TagSpace(
        idf=idf,
        item_vectors=raw_items,
        user_profiles=profiles,
        item_from_predicted=from_predicted,
    )


def top_tags(profile_row: sp.spmatrix, *, n: int = 10) -> list[tuple[int, float]]:
    """The n strongest (tag index, weight) pairs of one profile row, strongest first."""
    row = sp.csr_matrix(profile_row)
    if row.nnz == 0:
        return []
    order = np.argsort(-row.data, kind="stable")[:n]
    return [(int(row.indices[i]), float(row.data[i])) for i in order]
