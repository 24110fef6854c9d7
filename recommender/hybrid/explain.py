"""Why an item was recommended: the user's profile tags it carries and the played items it is near.

Vectorised over the candidate items of one user: a sparse product for the tag
overlap, one small dense product for item closeness.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.hybrid.results import Explanation, MatchedTag
from recommender.hybrid.scorer import HybridScorer


def matched_tags(
    profile: sp.csr_matrix,
    item_vectors: sp.csr_matrix,
    item_crowd: sp.csr_matrix,
    items: np.ndarray,
    tag_names: np.ndarray,
    *,
    top: int = 3,
) -> list[list[MatchedTag]]:
    """Per item, the `top` tags with the largest profile x item weight, with their origin."""
    weights = item_vectors[items].multiply(profile).tocsr()  # len(items) x tags
    crowd = item_crowd[items]
    out = []
    for row in range(len(items)):
        start, end = weights.indptr[row], weights.indptr[row + 1]
        tags, vals = weights.indices[start:end], weights.data[start:end]
        order = np.argsort(-vals, kind="stable")[:top]
        crowd_tags = set(crowd.indices[crowd.indptr[row] : crowd.indptr[row + 1]].tolist())
        out.append(
            [
                MatchedTag(
                    tag=str(tag_names[tags[i]]),
                    origin="crowd" if tags[i] in crowd_tags else "predicted",
                    weight=round(float(vals[i]), 4),
                )
                for i in order
                if vals[i] > 0
            ]
        )
    return out


def closest_played(
    candidates: np.ndarray | sp.csr_matrix,
    history: np.ndarray | sp.csr_matrix,
    played: np.ndarray,
    *,
    top: int = 2,
) -> list[np.ndarray]:
    """Per candidate row, the `top` played items (`played`, whose vectors are the rows of
    `history`) with the highest cosine."""
    if len(played) == 0:
        return [np.empty(0, dtype=np.int64) for _ in range(candidates.shape[0])]
    if sp.issparse(candidates):  # tag vectors: rows are already L2-normalised
        sims = (candidates @ history.T).toarray()
    else:
        sims = unit_rows(candidates) @ unit_rows(history).T  # candidates x played
    order = np.argsort(-sims, axis=1, kind="stable")[:, :top]
    return [played[row] for row in order]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), so dot products are cosines."""
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def explanations(
    tags: list[list[MatchedTag]], close: list[np.ndarray], labels: np.ndarray
) -> list[Explanation]:
    return [
        Explanation(tags=t, close_to=[str(labels[i]) for i in c])
        for t, c in zip(tags, close, strict=False)
    ]


def closeness_vectors(scorer: HybridScorer, rows: np.ndarray) -> np.ndarray | sp.csr_matrix:
    """Vectors of items `rows` for closeness: CF factors where an item was played, mapped
    factors where not (tag vectors without factors). Only those rows are built."""
    items, mapped = scorer.item_factors, scorer.mapped_factors
    if items is None or mapped is None:
        return scorer.space.item_vectors[rows]
    warm = (scorer.play_counts[rows] > 0)[:, None]
    return np.where(warm, items[rows], mapped[rows])


def explain_items(
    scorer: HybridScorer,
    profile: sp.csr_matrix,
    item_crowd: sp.csr_matrix,
    items: np.ndarray,
    played: np.ndarray,
    *,
    tag_names: np.ndarray,
    labels: np.ndarray,
) -> list[Explanation]:
    """One user's explanations for `items`: profile tags they carry, played items they are near."""
    tags = matched_tags(profile, scorer.space.item_vectors, item_crowd, items, tag_names)
    close = closest_played(
        closeness_vectors(scorer, items), closeness_vectors(scorer, played), played
    )
    return explanations(tags, close, labels)
