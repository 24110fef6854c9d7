"""The one contract between models and evaluation: fit on a Dataset, score users over all items.

Every model (baselines, CF, content, hybrid) implements it, so the evaluation
runner can compare them under exactly the same filtering and top-k code.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from recommender.data.dataset import Dataset


@runtime_checkable
class Ranker(Protocol):
    name: str

    def fit(self, train: Dataset) -> Ranker:
        """Learn from `train` only (its plays, its tag events, its predicted tags)."""
        ...

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        """Scores, float32 of shape (len(user_rows), train.n_items); higher ranks first.

        Rows index `train.users`. Must not filter training items itself: the
        evaluator masks them (and restricts to candidate items) the same way for
        every model. Ties are broken by the evaluator by item index.
        """
        ...
