"""LightGBM LambdaRank re-ranking of the blend's top candidates (the "rerank" component).

Trained on a validation split carved out of the training data: fit the hybrid on
90% of each user's plays, take the blend's top `depth` unplayed items per user,
label those in the held-out 10%, and learn to re-order them from per-item features.
`recsys train --reranker` trains it beside the blend and serves whichever wins on
held-out plays (the bundle manifest says which, and why).
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommender.core.bundle import Shapes, sparse_arrays
from recommender.core.component import Ranker, State
from recommender.core.configs import Config
from recommender.core.rowdot import row_mean_std
from recommender.core.topk import top_k
from recommender.data.dataset import Dataset
from recommender.data.splits import random_split
from recommender.errors import InputError
from recommender.hybrid.blend import standardize_rows
from recommender.hybrid.configs import RerankConfig
from recommender.hybrid.models import HybridModel
from recommender.hybrid.scorer import HybridScorer, UserParts

FEATURES = ("blend", "cf", "mapped", "match", "attention", "log_popularity", "cf_weight", "cold")
# The score features may only raise an item, never lower it: the trees learn how much each
# signal is worth, not to invert one (a handful of held-out plays otherwise teaches noise).
MONOTONE = (1, 1, 1, 1, 0, 0, 0, 0)


def candidate_features(
    scorer: HybridScorer, parts: UserParts, played: sp.csr_matrix, *, depth: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(candidates (users, depth) item indices, features (users*depth, n_features), blend)."""
    blend = scorer.hybrid_scores(parts)
    cand = top_k(blend, min(depth, blend.shape[1]), exclude=played).ids
    # a user with fewer unplayed items than `depth` repeats their best one (same features)
    cand = np.maximum(np.where(cand >= 0, cand, cand[:, :1]), 0)
    cf = parts.cf
    mean, std = row_mean_std(cf)
    std[std == 0] = 1
    mapped = scorer.mapped_scores(parts)
    mapped = np.zeros_like(cf) if mapped is None else (mapped - mean) / std
    match = standardize_rows(scorer.match(parts.profiles))
    priors = scorer.priors
    per_item = np.stack(
        [
            priors.cold_attention,
            scorer.log_popularity,
            priors.cf_weight,
            priors.cold.astype(np.float32),
        ],
        axis=1,
    )

    def take(matrix: np.ndarray) -> np.ndarray:
        return np.take_along_axis(matrix, cand, axis=1).reshape(-1, 1)

    features = np.hstack(
        [take(blend), take((cf - mean) / std), take(mapped), take(match), per_item[cand.ravel()]]
    )
    return cand, features.astype(np.float32), blend


class RerankModel(Ranker):
    """The blend's top-`depth` unplayed items re-ordered by LambdaRank, then the rest."""

    name: ClassVar[str] = "rerank"
    Config: ClassVar[type[Config]] = RerankConfig
    reads_predicted_tags: ClassVar[bool] = True

    def fit(self, dataset: Dataset) -> Self:
        self.hybrid = HybridModel(self.config.hybrid).fit(dataset)
        self.plays = sp.csr_matrix(dataset.plays)
        self.booster = self._train_booster(dataset)
        self.n_users, self.n_items = dataset.n_users, dataset.n_items
        self.fitted = True
        return self

    def _train_booster(self, dataset: Dataset):
        import lightgbm

        cfg = self.config
        inner = random_split(dataset, ratios=(0.9, 0.0, 0.1), seed=cfg.seed + 1)
        blend = HybridModel(cfg.hybrid).fit(inner.train)
        users = inner.test_users
        if len(users) > cfg.max_train_users:
            rng = np.random.default_rng(cfg.seed)
            users = np.sort(rng.choice(users, cfg.max_train_users, replace=False))
        cand, features, _ = candidate_features(
            blend.scorer, blend.scorer.parts(users), inner.train.plays[users], depth=cfg.depth
        )
        held = sp.csr_matrix(inner.test[users])
        labels = np.asarray(held[np.repeat(np.arange(len(users)), cand.shape[1]), cand.ravel()])
        labels = labels.ravel() > 0
        has_positive = labels.reshape(len(users), -1).any(axis=1)
        if not has_positive.any():
            raise InputError(
                "too little data to train the re-ranker: no held-out play of the inner"
                f" validation split reached the blend's top {cfg.depth}"
            )
        keep = np.repeat(has_positive, cand.shape[1])
        model = lightgbm.LGBMRanker(
            objective="lambdarank",
            n_estimators=cfg.n_estimators,
            learning_rate=cfg.learning_rate,
            num_leaves=cfg.num_leaves,
            min_child_samples=cfg.min_child_samples,
            random_state=cfg.seed,
            deterministic=True,
            monotone_constraints=list(MONOTONE),
            n_jobs=1,
            verbose=-1,
        )
        model.fit(
            features[keep],
            labels[keep].astype(np.int32),
            group=[cand.shape[1]] * int(has_positive.sum()),
        )
        return model.booster_

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        self.require_fitted()
        rows = np.asarray(user_rows, dtype=np.int64)
        return self.score_parts(self.hybrid.scorer.parts(rows), self.plays[rows])

    def score_parts(self, parts: UserParts, played: sp.csr_matrix) -> np.ndarray:
        """Re-ranked scores of users given by their parts; `played` (rows x items) are not
        candidates. Everything outside the candidates keeps the blend's order, below them."""
        cand, features, blend = candidate_features(
            self.hybrid.scorer, parts, played, depth=self.config.depth
        )
        predicted = self.booster.predict(features).reshape(cand.shape).astype(np.float32)
        floor = predicted.min(axis=1, keepdims=True) - 1.0
        out = blend - blend.max(axis=1, keepdims=True) + floor  # every other item below
        np.put_along_axis(out, cand, predicted, axis=1)
        return out.astype(np.float32)

    def _state(self) -> State:
        return State(
            arrays=sparse_arrays("plays", self.plays),
            meta={"n_users": self.n_users, "n_items": self.n_items},
            texts={"booster.txt": self.booster.model_to_string()},
            parts={"hybrid": self.hybrid},
        )

    def _restore(self, state: State) -> None:
        import lightgbm

        self.n_users, self.n_items = int(state.meta["n_users"]), int(state.meta["n_items"])
        self.hybrid = state.parts["hybrid"]
        dims = {"users": self.hybrid.n_users, "items": self.hybrid.n_items}
        if (self.n_users, self.n_items) != tuple(dims.values()):
            raise ValueError(f"re-ranker is {self.n_users} x {self.n_items}, its blend {dims}")
        self.plays = Shapes(state.arrays, **dims).sparse("plays", "users", "items")
        try:
            self.booster = lightgbm.Booster(model_str=state.texts["booster.txt"])
        except lightgbm.basic.LightGBMError as exc:
            raise ValueError(f"unreadable LightGBM model text ({exc})") from None
