"""What ALS and BPR share: implicit's CPU factorisation model, batched top-k, factor arrays.

Recommendation goes through implicit's batched `recommend` (multi-threaded top-k
in C++), and results are normalised to the contract of `recommender.cf.base`.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import scipy.sparse as sp

from recommender.cf.base import CFModel, _check_items
from recommender.cf.blas import single_threaded_blas
from recommender.cf.topn import top_n

_FLT_LOWEST = -np.finfo(np.float32).max
SMALL_BATCH = 64


class FactorizationModel(CFModel):
    """A CFModel backed by an implicit `MatrixFactorizationBase` in `self._model`."""

    _model: Any = None
    _threads: int | None = None  # chosen at fit time (see blas.worker_threads)
    _serial: Any = None  # a one-thread view of _model (shared arrays) for small batches
    _serial_of: Any = None

    @property
    def threads(self) -> int:
        return self.num_threads if self._threads is None else self._threads

    def implicit_model(self, n_rows: int) -> Any:
        """implicit's model for a batch of n_rows users: one thread below SMALL_BATCH users.

        OpenMP gains nothing on a handful of users and its barriers cost tens of ms on a
        busy machine (recalculate_user for one user: 84 ms on two threads, 0.1 ms on one).
        """
        if n_rows >= SMALL_BATCH or self.threads == 1:
            return self._model
        if self._serial is None or self._serial_of is not self._model:
            serial = copy.copy(self._model)  # shares the factor arrays
            serial.num_threads = 1
            self._serial, self._serial_of = serial, self._model
        return self._serial

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        self._require_fitted()
        rows = np.atleast_1d(np.asarray(user_rows, dtype=np.int64))
        return (self._model.user_factors[rows] @ self._model.item_factors.T).astype(np.float32)

    def recommend(
        self,
        user_rows: np.ndarray,
        plays: sp.csr_matrix,
        *,
        n: int = 10,
        filter_played: bool = True,
        items: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        self._require_fitted()
        rows = np.atleast_1d(np.asarray(user_rows, dtype=np.int64))
        plays = self._check_rows_plays(rows, plays)
        items = _check_items(items, self.n_items)
        n_cand = self.n_items if items is None else len(items)
        k = min(max(int(n), 0), n_cand)
        if k == 0 or len(rows) == 0:
            return top_n(np.empty((len(rows), n_cand), np.float32), n)
        # implicit's top-k calls BLAS per block of users inside its own threads; a second,
        # BLAS-level pool only adds contention (one user: 46 ms vs 0.3 ms on a busy machine)
        with single_threaded_blas():
            ids, scores = self.implicit_model(len(rows)).recommend(
                rows.astype(np.int32),
                plays,
                N=k,
                filter_already_liked_items=filter_played,
                items=items,
            )
        ids = np.asarray(ids, dtype=np.int64).reshape(len(rows), -1)
        scores = np.asarray(scores, dtype=np.float32).reshape(len(rows), -1)
        empty = scores <= _FLT_LOWEST  # implicit marks filtered slots with the lowest float
        ids[empty], scores[empty] = -1, -np.inf
        if ids.shape[1] < n:
            pad = n - ids.shape[1]
            ids = np.hstack([ids, np.full((len(rows), pad), -1, dtype=np.int64)])
            scores = np.hstack([scores, np.full((len(rows), pad), -np.inf, dtype=np.float32)])
        return ids, scores

    def similar_items(self, item: int, *, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Cosine neighbours in item-factor space (implicit's similar_items), minus the item."""
        self._require_fitted()
        k = min(int(n) + 1, self.n_items)
        ids, scores = self._model.similar_items(int(item), N=k)
        keep = ids != item
        return ids[keep][:n].astype(np.int64), scores[keep][:n].astype(np.float32)

    @property
    def item_factors(self) -> np.ndarray | None:
        return None if self._model is None else self._model.item_factors

    @property
    def user_factors(self) -> np.ndarray | None:
        return None if self._model is None else self._model.user_factors

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"user_factors": self._model.user_factors, "item_factors": self._model.item_factors}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        users = np.ascontiguousarray(arrays["user_factors"], dtype=np.float32)
        items = np.ascontiguousarray(arrays["item_factors"], dtype=np.float32)
        if users.ndim != 2 or items.ndim != 2 or users.shape[1] != items.shape[1]:
            raise ValueError(f"factor shapes {users.shape} and {items.shape} do not match")
        if users.shape[0] != self.n_users or items.shape[0] != self.n_items:
            raise ValueError(
                f"factors for {users.shape[0]} users x {items.shape[0]} items,"
                f" manifest says {self.n_users} x {self.n_items}"
            )
        self._model = self._new_implicit_model()
        self._model.user_factors, self._model.item_factors = users, items

    def _new_implicit_model(self) -> Any:
        raise NotImplementedError
