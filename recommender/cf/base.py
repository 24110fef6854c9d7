"""What every collaborative-filtering model adds to the `Ranker` contract.

A CF model trains on the Dataset's users x items raw play counts, weighted inside
`fit` with statistics kept so that a user the model never saw (`score_history`)
is weighted the same way; it also finds similar items. Scoring, top-k and
persistence are the core's (`recommender.core`). Indices only: the id <-> index
vocabularies live with the Dataset and the bundle.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import scipy.sparse as sp

from recommender.cf.weighting import Weighting
from recommender.core.blas import single_threaded_blas
from recommender.core.bundle import Shapes
from recommender.core.component import Ranker, State
from recommender.errors import InputError

if TYPE_CHECKING:
    from recommender.data.dataset import Dataset


class CFModel(Ranker):
    """Base class: `Config` has a `weighting`, a `seed` and `num_threads` (0 = all cores)."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.weighting = Weighting(self.config.weighting)

    # ---- training -------------------------------------------------------------------------
    def fit(self, dataset: Dataset) -> Self:
        """Train on the dataset's raw play counts (weighting is applied here, not by callers)."""
        plays = as_csr(dataset.plays)
        self.n_users, self.n_items = plays.shape
        self.weighting = Weighting(self.config.weighting)
        weighted = self.weighting.fit_transform(plays)
        with single_threaded_blas():
            self._fit(weighted)
        self.fitted = True
        return self

    @abstractmethod
    def _fit(self, weighted: sp.csr_matrix) -> None: ...

    # ---- scoring --------------------------------------------------------------------------
    def score_history(self, history: sp.spmatrix) -> np.ndarray:
        """Fold-in: scores (rows, n_items) for users described only by their raw play rows."""
        self.require_fitted()
        history = as_csr(history)
        if history.shape[1] != self.n_items:
            raise InputError(
                f"history has {history.shape[1]} item columns but the model knows"
                f" {self.n_items} items"
            )
        weighted = self.weighting.transform(history)
        with single_threaded_blas():
            return np.atleast_2d(np.asarray(self._fold_in_scores(weighted), dtype=np.float32))

    @abstractmethod
    def _fold_in_scores(self, weighted_history: sp.csr_matrix) -> np.ndarray:
        """Scores (n_rows, n_items) for users described only by their weighted history."""

    @abstractmethod
    def similar_items(self, item: int, *, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The n items most similar to `item` (itself excluded), best first."""

    @property
    def item_factors(self) -> np.ndarray | None:
        """Item vectors such that score = user_factors @ item_factors.T (None for item-KNN)."""
        return None

    @property
    def user_factors(self) -> np.ndarray | None:
        return None

    # ---- persistence ----------------------------------------------------------------------
    def _state(self) -> State:
        return State(
            arrays={**self._arrays(), **self.weighting.arrays()},
            meta={"n_users": self.n_users, "n_items": self.n_items, **self._meta()},
        )

    def _restore(self, state: State) -> None:
        self.n_users, self.n_items = int(state.meta["n_users"]), int(state.meta["n_items"])
        self.weighting = Weighting(self.config.weighting)
        self.weighting.restore(Shapes(state.arrays, items=self.n_items))
        with single_threaded_blas():
            self._restore_arrays(state.arrays, state.meta)

    def _meta(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def _restore_arrays(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Rebuild the fitted state; raise ValueError/KeyError on inconsistent arrays."""


def as_csr(matrix: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    if not sp.issparse(matrix):
        raise TypeError(
            f"expected a scipy sparse users x items matrix, got {type(matrix).__name__}"
        )
    return sp.csr_matrix(matrix, dtype=np.float32)
