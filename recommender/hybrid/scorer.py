"""The fitted hybrid state and its scores: CF, content (mapped + profile match), and the blend.

Shared by the evaluation rankers ("content", "hybrid") and by `HybridRecommender`,
so offline numbers and the product rank with exactly the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from recommender.coldstart.mapping import fit_content_map
from recommender.data.dataset import Dataset
from recommender.hybrid.blend import BlendParams, blend_scores, cap_cold_items, content_scores
from recommender.tags.profiles import TagSpace, build_tag_space


@dataclass(frozen=True)
class ContentParams:
    """applied_weight: tags a user applied vs tags of what they play; idf_power: strength of
    the popular-tag discount; ridge_alpha: penalty of the content -> factors map."""

    applied_weight: float = 0.2
    idf_power: float = 1.0
    ridge_alpha: float = 1.0

    def to_dict(self) -> dict:
        return {
            "applied_weight": self.applied_weight,
            "idf_power": self.idf_power,
            "ridge_alpha": self.ridge_alpha,
        }


def cf_factors(cf: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(user_factors, item_factors) as float32 numpy when the CF model has them (not item-KNN)."""
    users = getattr(cf, "user_factors", None)
    items = getattr(cf, "item_factors", None)
    if users is None or items is None:
        return None
    return np.asarray(users, dtype=np.float32), np.asarray(items, dtype=np.float32)


@dataclass
class HybridScorer:
    """Everything needed to score users over all items; built by `fit_scorer`."""

    cf: Any  # a fitted CF model exposing score(user_rows)
    space: TagSpace
    play_counts: np.ndarray  # (n_items,) listeners per item in training
    attention: np.ndarray  # (n_items,) log(1 + users who played or tagged the item)
    blend: BlendParams
    content: ContentParams
    user_factors: np.ndarray | None = None
    mapped_factors: np.ndarray | None = None  # (n_items, f): content mapped into CF space
    log_popularity: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.log_popularity = np.log1p(np.asarray(self.play_counts, dtype=np.float32))

    def cf_scores(self, user_rows: np.ndarray) -> np.ndarray:
        factors = self._factors()
        if factors is not None:  # our own contiguous copies: a plain GEMV, no model overhead
            return factors[0][np.asarray(user_rows)] @ factors[1].T
        return np.asarray(self.cf.score(np.asarray(user_rows)), dtype=np.float32)

    def _factors(self) -> tuple[np.ndarray, np.ndarray] | None:
        """CF (user_factors, item_factors), or None for a model without factors (item-KNN)."""
        if not hasattr(self, "_cached_factors"):
            self._cached_factors = cf_factors(self.cf)
            if self._cached_factors is not None:
                # fresh copies: GEMV on implicit's buffers measured 400x slower (32 ms vs 0.07 ms)
                self._cached_factors = tuple(np.array(f, copy=True) for f in self._cached_factors)
        return self._cached_factors

    def fold_in_factors(self, cf_scores: np.ndarray) -> np.ndarray | None:
        """The CF-space user vectors (rows, f) whose scores are `cf_scores` (rows, n_items).

        Least squares through the pseudo-inverse of the f x f Gram matrix of the item
        factors, computed once per model: exact for any factor model (scores are
        u . item_factors). A per-query lstsq measured 41 ms on HetRec's 18,022 x 64
        factors; this is one GEMV.
        """
        factors = self._factors()
        if factors is None:
            return None
        if not hasattr(self, "_gram_pinv"):
            items = factors[1].astype(np.float64)
            self._gram_pinv = np.linalg.pinv(items.T @ items, hermitian=True)
        projected = np.asarray(cf_scores, dtype=np.float32) @ factors[1]
        return (projected.astype(np.float64) @ self._gram_pinv).astype(np.float32)

    def mapped_scores(self, user_rows: np.ndarray) -> np.ndarray | None:
        if self.user_factors is None or self.mapped_factors is None:
            return None
        return self.user_factors[user_rows] @ self.mapped_factors.T

    def content_scores(
        self, user_rows: np.ndarray, *, attention: float | None = None
    ) -> np.ndarray:
        """Content only (what ranks cold items); `attention` overrides the prior's weight."""
        user_rows = np.asarray(user_rows)
        return content_scores(
            self.mapped_scores(user_rows),
            self.space.match(user_rows),
            content_mix=self.blend.content_mix,
            attention=self.attention,
            attention_weight=self.blend.attention if attention is None else attention,
        )

    def hybrid_scores(self, user_rows: np.ndarray) -> np.ndarray:
        user_rows = np.asarray(user_rows)
        return self.blend_for(
            self.cf_scores(user_rows),
            None if self.user_factors is None else self.user_factors[user_rows],
            self.space.user_profiles[user_rows],
        )

    def blend_for(
        self, cf: np.ndarray, user_factors: np.ndarray | None, profiles: sp.csr_matrix
    ) -> np.ndarray:
        """The blend from a user's parts (CF scores, CF-space vector, tag profile), so a user
        folded in at serving time is ranked by exactly the code that ranks trained users."""
        mapped = (
            None
            if user_factors is None or self.mapped_factors is None
            else user_factors @ self.mapped_factors.T
        )
        match = (profiles @ self.space.item_vectors.T).toarray().astype(np.float32)
        scores = blend_scores(
            cf,
            mapped,
            match,
            self.play_counts,
            params=self.blend,
            attention=self.attention,
            log_popularity=self.log_popularity,
        )
        return cap_cold_items(scores, self.play_counts, slots=self.blend.cold_slots)


def item_attention(train: Dataset) -> np.ndarray:
    """log(1 + distinct users who played or tagged each item): a prior content can see."""
    n_items = train.n_items
    plays = sp.coo_matrix(train.plays)
    keys = np.concatenate(
        [
            plays.row.astype(np.int64) * n_items + plays.col,
            train.tag_events.user.astype(np.int64) * n_items + train.tag_events.item,
        ]
    )
    counts = np.bincount(np.unique(keys) % n_items, minlength=n_items)
    return np.log1p(counts).astype(np.float32)


def fit_scorer(
    train: Dataset, cf: Any, *, blend: BlendParams, content: ContentParams
) -> HybridScorer:
    """Tag space and content map from `train` only; `cf` must already be fitted on `train`."""
    space = build_tag_space(
        train, applied_weight=content.applied_weight, idf_power=content.idf_power
    )
    play_counts = train.item_play_counts()
    factors = cf_factors(cf)
    user_factors = mapped = None
    if factors is not None:
        user_factors, item_factors = (np.array(f, copy=True) for f in factors)
        content_map = fit_content_map(
            space.item_vectors, item_factors, play_counts > 0, alpha=content.ridge_alpha
        )
        mapped = content_map.transform(space.item_vectors)
    return HybridScorer(
        cf=cf,
        space=space,
        play_counts=play_counts,
        attention=item_attention(train),
        blend=blend,
        content=content,
        user_factors=user_factors,
        mapped_factors=mapped,
    )
