"""The "content" and "hybrid" models seen through the evaluation `Ranker` protocol.

Both learn from the training Dataset alone (its plays, tag events and predicted
tags), which is what keeps the cold-items evaluation free of leaks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recommender.data.dataset import Dataset
from recommender.hybrid.blend import BlendParams
from recommender.hybrid.scorer import ContentParams, HybridScorer, fit_scorer

BLEND_KEYS = (
    "k",
    "content_mix",
    "attention",
    "hybrid_attention",
    "hybrid_match",
    "cold_slots",
    "popularity",
)
CONTENT_KEYS = ("applied_weight", "idf_power", "ridge_alpha")


def split_params(params: dict[str, Any]) -> tuple[BlendParams, ContentParams, dict[str, Any]]:
    """Sort keyword parameters into blend, content and CF-model parameters."""
    blend = BlendParams(**{k: params.pop(k) for k in BLEND_KEYS if k in params})
    content = ContentParams(**{k: params.pop(k) for k in CONTENT_KEYS if k in params})
    return blend, content, params


class _ScorerRanker:
    name = "hybrid"

    def __init__(self, *, seed: int = 0, model: str = "als", **params: Any) -> None:
        from recommender.cf.base import create_cf_model

        self.blend, self.content, cf_params = split_params(dict(params))
        self.cf = create_cf_model(model, seed=seed, **cf_params)
        self.scorer: HybridScorer | None = None

    def fit(self, train: Dataset) -> _ScorerRanker:
        self.cf.fit(train.plays)
        self.scorer = fit_scorer(train, self.cf, blend=self.blend, content=self.content)
        return self

    def _require(self) -> HybridScorer:
        if self.scorer is None:
            raise RuntimeError(f"{self.name} ranker used before fit()")
        return self.scorer


class ContentRanker(_ScorerRanker):
    """Content only: the mapped CF-space score blended with the tag-profile match."""

    name = "content"

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return self._require().content_scores(np.asarray(user_rows))


class HybridRanker(_ScorerRanker):
    """CF and content mixed per item by how many listeners it has."""

    name = "hybrid"

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return self._require().hybrid_scores(np.asarray(user_rows))
