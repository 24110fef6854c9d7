"""LightGBM LambdaRank re-ranking of the blend's top candidates.

Trained on a validation split carved out of the training data: fit CF and content
on 90% of each user's plays, take the blend's top `depth` unplayed items per user,
label those in the held-out 10%, and learn to re-order them from per-item features.
It becomes the product default only if it beats the blend on held-out data
(`recsys train` measures both); see the manifest's `default_ranker_reason`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recommender.coldstart.weights import cf_weight
from recommender.data.dataset import Dataset
from recommender.hybrid.blend import cold_standardized, standardize_rows
from recommender.hybrid.rankers import _ScorerRanker
from recommender.hybrid.scorer import HybridScorer, fit_scorer

FEATURES = ("blend", "cf", "mapped", "match", "attention", "log_popularity", "cf_weight", "cold")
DEPTH = 50
MAX_TRAIN_USERS = 3000


def candidate_features(
    scorer: HybridScorer, user_rows: np.ndarray, played: sp.csr_matrix, *, depth: int
):
    """(candidates: (users, depth) item indices, features: (users*depth, n_features), blend)."""
    blend = scorer.hybrid_scores(user_rows)
    masked = blend.copy()
    coo = played.tocoo()
    masked[coo.row, coo.col] = -np.inf
    depth = min(depth, blend.shape[1])
    cand = np.argpartition(-masked, depth - 1, axis=1)[:, :depth]
    cf = scorer.cf_scores(user_rows)
    mean, std = cf.mean(axis=1, keepdims=True), cf.std(axis=1, keepdims=True)
    std[std == 0] = 1
    mapped = scorer.mapped_scores(user_rows)
    mapped = np.zeros_like(cf) if mapped is None else (mapped - mean) / std
    match = standardize_rows(scorer.space.match(user_rows))
    per_item = np.stack(
        [
            cold_standardized(scorer.attention, scorer.play_counts),
            scorer.log_popularity,
            cf_weight(scorer.play_counts, k=scorer.blend.k),
            (scorer.play_counts == 0).astype(np.float32),
        ],
        axis=1,
    )
    take = lambda m: np.take_along_axis(m, cand, axis=1).reshape(-1, 1)  # noqa: E731
    features = np.hstack(
        [take(blend), take((cf - mean) / std), take(mapped), take(match), per_item[cand.ravel()]]
    )
    return cand, features.astype(np.float32), blend


def fit_reranker(
    train: Dataset, make_cf: Any, scorer: HybridScorer, *, seed: int, depth: int = DEPTH
) -> Any:
    """A LightGBM LambdaRank booster trained on an inner 90/10 split of `train`."""
    import lightgbm

    from recommender.evaluation.splitters import random_split

    inner = random_split(train, ratios=(0.9, 0.0, 0.1), seed=seed + 1)
    cf = make_cf()
    cf.fit(inner.train.plays)
    inner_scorer = fit_scorer(inner.train, cf, blend=scorer.blend, content=scorer.content)
    users = inner.test_users
    if len(users) > MAX_TRAIN_USERS:
        users = np.sort(np.random.default_rng(seed).choice(users, MAX_TRAIN_USERS, replace=False))
    cand, features, _ = candidate_features(
        inner_scorer, users, inner.train.plays[users], depth=depth
    )
    held = sp.csr_matrix(inner.test[users])
    labels = (
        np.asarray(held[np.repeat(np.arange(len(users)), cand.shape[1]), cand.ravel()]).ravel() > 0
    )
    has_positive = labels.reshape(len(users), -1).any(axis=1)
    keep = np.repeat(has_positive, cand.shape[1])
    model = lightgbm.LGBMRanker(
        objective="lambdarank",
        n_estimators=150,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=20,
        random_state=seed,
        deterministic=True,
        n_jobs=1,
        verbose=-1,
    )
    model.fit(
        features[keep],
        labels[keep].astype(np.int32),
        group=[cand.shape[1]] * int(has_positive.sum()),
    )
    return model.booster_


class RerankRanker(_ScorerRanker):
    """The blend's top-`depth` unplayed items re-ordered by LambdaRank, then the rest."""

    name = "rerank"

    def __init__(
        self, *, seed: int = 0, model: str = "als", depth: int = DEPTH, **params: Any
    ) -> None:
        super().__init__(seed=seed, model=model, **params)
        self.seed, self.model_name, self.depth = seed, model, int(depth)
        self._cf_params = {k: v for k, v in params.items() if k in ("factors",)}
        self.booster = None

    def fit(self, train: Dataset) -> RerankRanker:
        from recommender.cf.base import create_cf_model

        super().fit(train)
        self.played = sp.csr_matrix(train.plays)
        self.booster = fit_reranker(
            train,
            lambda: create_cf_model(self.model_name, seed=self.seed, **self._cf_params),
            self.scorer,
            seed=self.seed,
            depth=self.depth,
        )
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        user_rows = np.asarray(user_rows)
        cand, features, blend = candidate_features(
            self._require(), user_rows, self.played[user_rows], depth=self.depth
        )
        predicted = self.booster.predict(features).reshape(cand.shape)
        out = (
            blend - (blend.max() - blend.min() + 1.0) - 1e3
        )  # everything else below the candidates
        np.put_along_axis(out, cand, predicted.astype(np.float32), axis=1)
        return out.astype(np.float32)
