"""The "content" and "hybrid" components: a CF model, the tag space and the content map,
fitted together on the training Dataset alone (which is what keeps the cold-items
evaluation free of leaks), scored by `HybridScorer`."""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommender.core.component import Ranker, State
from recommender.core.configs import Config
from recommender.core.registry import create
from recommender.data.dataset import Dataset
from recommender.hybrid.configs import HybridConfig
from recommender.hybrid.scorer import HybridScorer, UserParts, fit_scorer


class BlendModel(Ranker):
    """What content and hybrid share: fit, state, and scores from a user's parts."""

    Config: ClassVar[type[Config]] = HybridConfig
    reads_predicted_tags: ClassVar[bool] = True
    scorer: HybridScorer

    def fit(self, dataset: Dataset) -> Self:
        spec = self.config.cf
        cf = create(spec.name, spec.config).fit(dataset)
        self.scorer = fit_scorer(dataset, cf, blend=self.config.blend, content=self.config.content)
        self.n_users, self.n_items = dataset.n_users, dataset.n_items
        self.fitted = True
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        self.require_fitted()
        return self.score_parts(self.scorer.parts(np.asarray(user_rows, dtype=np.int64)))

    def score_parts(self, parts: UserParts, played: sp.csr_matrix | None = None) -> np.ndarray:
        """Scores (rows, n_items) of users given by their parts (trained or folded in);
        `played` is for rankers that choose candidates (the re-ranker), unused here."""
        raise NotImplementedError

    def _state(self) -> State:
        return State(
            arrays=self.scorer.arrays(),
            meta={"n_users": self.n_users, "n_items": self.n_items},
            parts={"cf": self.scorer.cf},
        )

    def _restore(self, state: State) -> None:
        self.n_users, self.n_items = int(state.meta["n_users"]), int(state.meta["n_items"])
        cf = state.parts["cf"]
        if (cf.n_users, cf.n_items) != (self.n_users, self.n_items):
            raise ValueError(
                f"blend is {self.n_users} x {self.n_items}, its CF model"
                f" {cf.n_users} x {cf.n_items}"
            )
        self.scorer = HybridScorer.restore(
            state.parts["cf"], state.arrays, blend=self.config.blend, content=self.config.content
        )


class ContentModel(BlendModel):
    """Content only: the mapped CF-space score blended with the tag-profile match."""

    name: ClassVar[str] = "content"

    def score_parts(self, parts: UserParts, played: sp.csr_matrix | None = None) -> np.ndarray:
        return self.scorer.content_scores(parts)


class HybridModel(BlendModel):
    """CF and content mixed per item by how many listeners it has."""

    name: ClassVar[str] = "hybrid"

    def score_parts(self, parts: UserParts, played: sp.csr_matrix | None = None) -> np.ndarray:
        return self.scorer.hybrid_scores(parts)
