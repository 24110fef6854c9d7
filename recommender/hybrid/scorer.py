"""The fitted hybrid state and its scores: CF, content (mapped + profile match), and the blend.

Shared by the "content", "hybrid" and "rerank" components and by `HybridRecommender`,
so offline numbers and the product rank with exactly the same code. Dense
user x item products are taken one user at a time (`core.rowdot.RowProducts`), so a
user's scores are the same bits whether they are asked for alone or in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from recommender.cf.base import CFModel
from recommender.coldstart.mapping import fit_content_map
from recommender.core.bundle import Shapes, sparse_arrays
from recommender.core.csr import dot_transposed, take_rows
from recommender.core.rowdot import RowProducts
from recommender.data.dataset import Dataset
from recommender.hybrid.blend import (
    blend_scores,
    cap_cold_items,
    content_scores,
    item_priors,
    standardize_rows,
)
from recommender.hybrid.configs import BlendConfig, ContentConfig
from recommender.tags.profiles import TagSpace, build_tag_space


@dataclass
class UserParts:
    """What the blend needs of some users: CF scores, CF-space vectors, tag profiles.

    Trained users' parts come from the fitted state; a user folded in at serving
    time gets the same three from their history, and is then ranked by the same code.
    """

    cf: np.ndarray  # (rows, n_items) float32
    factors: np.ndarray | None  # (rows, f) CF-space user vectors (None for item-KNN)
    profiles: sp.csr_matrix  # (rows, n_tags) tag profiles
    activity: np.ndarray  # (rows,) items each user played (how far to trust their history)
    mapped: np.ndarray | None = None  # (rows, n_items) factors . mapped content factors


@dataclass
class HybridScorer:
    """Everything needed to score users over all items; built by `fit_scorer`."""

    cf: CFModel
    space: TagSpace
    play_counts: np.ndarray  # (n_items,) listeners per item in training
    attention: np.ndarray  # (n_items,) log(1 + users who played or tagged the item)
    user_activity: np.ndarray  # (n_users,) items each user played in training
    blend: BlendConfig
    content: ContentConfig
    mapped_t: np.ndarray | None = None  # (f, n_items): content mapped into CF space

    user_factors: np.ndarray | None = field(init=False, repr=False)  # (n_users, f): CF's
    item_factors_t: np.ndarray | None = field(init=False, repr=False)  # (f, n_items): CF's
    log_popularity: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.log_popularity = np.log1p(np.asarray(self.play_counts, dtype=np.float32))
        users, items = self.cf.user_factors, self.cf.item_factors
        self.user_factors = None if users is None else np.asarray(users, dtype=np.float32)
        self.item_factors_t = None
        self._cf_products = self._mapped_products = None
        if items is not None:
            self.item_factors_t = np.ascontiguousarray(np.asarray(items, np.float32).T)
            self._cf_products = RowProducts(self.item_factors_t)
            if self.mapped_t is not None:
                self._mapped_products = RowProducts(self.mapped_t)
        self.priors = item_priors(
            self.play_counts, self.attention, self.log_popularity, k=self.blend.k
        )

    @property
    def item_factors(self) -> np.ndarray | None:
        return None if self.item_factors_t is None else self.item_factors_t.T

    @property
    def mapped_factors(self) -> np.ndarray | None:
        return None if self.mapped_t is None else self.mapped_t.T

    # ---- a user's parts ----------------------------------------------------------------
    def parts(self, user_rows: np.ndarray) -> UserParts:
        rows = np.asarray(user_rows, dtype=np.int64)
        profiles = take_rows(self.space.user_profiles, rows)
        activity = np.asarray(self.user_activity[rows])
        if self.user_factors is None:  # item-KNN: its own (sparse, batch-invariant) scores
            cf = np.asarray(self.cf.score(rows), dtype=np.float32)
            return UserParts(cf, None, profiles, activity)
        factors = self.user_factors[rows]
        cf, mapped = self._dots(factors)
        return UserParts(cf, factors, profiles, activity, mapped=mapped)

    def _dots(self, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(CF scores, mapped content scores) of CF-space user vectors, row by row."""
        cf = self._cf_products.dot(factors)
        return cf, (None if self._mapped_products is None else self._mapped_products.dot(factors))

    def cf_scores(self, user_rows: np.ndarray) -> np.ndarray:
        return self.parts(user_rows).cf

    def fold_in_factors(self, cf_scores: np.ndarray) -> np.ndarray | None:
        """The CF-space user vectors (rows, f) whose scores are `cf_scores` (rows, n_items).

        Least squares through the pseudo-inverse of the f x f Gram matrix of the item
        factors, computed once per model: exact for any factor model (scores are
        u . item_factors). A per-query lstsq measured 41 ms on HetRec's 18,022 x 64
        factors; this is one GEMV.
        """
        items = self.item_factors
        if items is None:
            return None
        if not hasattr(self, "_gram_pinv"):
            wide = np.asarray(items, dtype=np.float64)
            self._gram_pinv = np.linalg.pinv(wide.T @ wide, hermitian=True)
        projected = np.asarray(cf_scores, dtype=np.float32) @ items
        return (projected.astype(np.float64) @ self._gram_pinv).astype(np.float32)

    # ---- scores --------------------------------------------------------------------------
    def mapped_scores(self, parts: UserParts) -> np.ndarray | None:
        """Users' CF-space vectors times the content map's item factors (None for item-KNN)."""
        if parts.mapped is None and parts.factors is not None and self.mapped_t is not None:
            parts.mapped = self._mapped_products.dot(parts.factors)
        return parts.mapped

    def match(self, profiles: sp.csr_matrix) -> np.ndarray:
        """Cosine of each profile with every item, float32 (rows, n_items)."""
        return dot_transposed(profiles, self.space.item_vectors)

    def content_scores(self, parts: UserParts, *, z_match: np.ndarray | None = None) -> np.ndarray:
        """Content only: what the "content" component ranks with, and the hybrid's cold items."""
        mapped = self.mapped_scores(parts)
        return content_scores(
            None if mapped is None else standardize_rows(mapped),
            standardize_rows(self.match(parts.profiles)) if z_match is None else z_match,
            content_mix=self.blend.content_mix,
            attention_weight=self.blend.attention,
            priors=self.priors,
        )

    def hybrid_scores(self, parts: UserParts) -> np.ndarray:
        """The blend, then the cap on never-played items per list."""
        z_match = standardize_rows(self.match(parts.profiles))
        content = self.content_scores(parts, z_match=z_match)
        scores = blend_scores(
            parts.cf,
            self.mapped_scores(parts),
            z_match,
            content,
            parts.activity,
            params=self.blend,
            priors=self.priors,
        )
        return cap_cold_items(scores, self.priors.cold_items, slots=self.blend.cold_slots)

    # ---- persistence -----------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the fitted state except the CF model's own."""
        arrays: dict[str, np.ndarray] = {
            "idf": self.space.idf,
            "item_from_predicted": self.space.item_from_predicted,
            "play_counts": np.asarray(self.play_counts, dtype=np.int64),
            "attention": self.attention,
            "user_activity": np.asarray(self.user_activity, dtype=np.int64),
            **sparse_arrays("item_vectors", self.space.item_vectors),
            **sparse_arrays("user_profiles", self.space.user_profiles),
        }
        if self.mapped_t is not None:
            arrays["mapped_t"] = self.mapped_t
        return arrays

    @classmethod
    def restore(
        cls,
        cf: CFModel,
        arrays: dict[str, np.ndarray],
        *,
        blend: BlendConfig,
        content: ContentConfig,
    ) -> HybridScorer:
        a = Shapes(arrays, users=cf.n_users, items=cf.n_items)
        if cf.item_factors is not None:
            a.dims["factors"] = cf.item_factors.shape[1]  # content is mapped into CF space
        space = TagSpace(
            idf=a("idf", ("tags",)),
            item_vectors=a.sparse("item_vectors", "items", "tags"),
            user_profiles=a.sparse("user_profiles", "users", "tags"),
            item_from_predicted=a("item_from_predicted", ("items",), "b"),
        )
        return cls(
            cf=cf,
            space=space,
            play_counts=a("play_counts", ("items",), "i"),
            attention=a("attention", ("items",)),
            user_activity=a("user_activity", ("users",), "i"),
            blend=blend,
            content=content,
            mapped_t=a("mapped_t", ("factors", "items")) if "mapped_t" in arrays else None,
        )


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
    train: Dataset, cf: CFModel, *, blend: BlendConfig, content: ContentConfig
) -> HybridScorer:
    """Tag space and content map from `train` only; `cf` must already be fitted on `train`."""
    space = build_tag_space(
        train,
        applied_weight=content.applied_weight,
        idf_power=content.idf_power,
        ood_weight=content.ood_content_weight,
    )
    play_counts = train.item_play_counts()
    mapped_t = None
    if cf.item_factors is not None:
        items = np.asarray(cf.item_factors, dtype=np.float32)
        content_map = fit_content_map(
            space.item_vectors, items, play_counts > 0, alpha=content.ridge_alpha
        )
        mapped_t = np.ascontiguousarray(content_map.transform(space.item_vectors).T)
    return HybridScorer(
        cf=cf,
        space=space,
        play_counts=play_counts,
        attention=item_attention(train),
        user_activity=np.diff(sp.csr_matrix(train.plays).indptr),
        blend=blend,
        content=content,
        mapped_t=mapped_t,
    )
