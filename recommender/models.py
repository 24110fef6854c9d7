"""Every model the evaluation runner and the CLI can build by name, imported only when asked for.

Each entry is "module:Class" for a class implementing `recommender.evaluation.protocol.Ranker`
(constructed as `Class(seed=..., **params)`). Adding a model is one line here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from recommender.errors import InputError

if TYPE_CHECKING:
    from recommender.cf.base import CFModel
    from recommender.data.dataset import Dataset
    from recommender.evaluation.protocol import Ranker

RANKERS: dict[str, str] = {
    "als": "recommender.models:ALSRanker",
    "bpr": "recommender.models:BPRRanker",
    "knn": "recommender.models:KNNRanker",
    "rp3beta": "recommender.models:RP3betaRanker",
    "spark-als": "recommender.models:SparkALSRanker",
    "random": "recommender.evaluation.baselines:RandomRanker",
    "pop": "recommender.evaluation.baselines:PopularityRanker",
    "tag-pop": "recommender.evaluation.baselines:TagPopularityRanker",
    "tag-cosine": "recommender.evaluation.baselines:TagCosineRanker",
    "content": "recommender.hybrid.rankers:ContentRanker",
    "hybrid": "recommender.hybrid.rankers:HybridRanker",
    "rerank": "recommender.hybrid.rerank:RerankRanker",
}


def create_ranker(name: str, *, seed: int = 0, **params: Any) -> Ranker:
    """A fresh, unfitted ranker; an unknown name is a usage error (exit 2)."""
    try:
        module_name, class_name = RANKERS[name].split(":")
    except KeyError:
        raise InputError(
            f"unknown model {name!r}; choose one of {', '.join(sorted(RANKERS))}"
        ) from None
    return getattr(importlib.import_module(module_name), class_name)(seed=seed, **params)


class CFRanker:
    """A CFModel seen through the Ranker protocol: trains on the play matrix only."""

    cf_name: ClassVar[str]

    def __init__(self, *, seed: int = 0, **params: Any) -> None:
        from recommender.cf.base import create_cf_model

        self.name = self.cf_name
        self.model: CFModel = create_cf_model(self.cf_name, seed=seed, **params)

    def fit(self, train: Dataset) -> CFRanker:
        self.model.fit(train.plays)
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return self.model.score(user_rows)


class ALSRanker(CFRanker):
    cf_name = "als"


class BPRRanker(CFRanker):
    cf_name = "bpr"


class KNNRanker(CFRanker):
    cf_name = "knn"


class RP3betaRanker(CFRanker):
    cf_name = "rp3beta"


class SparkALSRanker(CFRanker):
    cf_name = "spark-als"
