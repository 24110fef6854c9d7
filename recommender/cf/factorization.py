"""What ALS and BPR share: factor arrays of our own, and implicit's model for fold-in.

Scores are `user_factors @ item_factors.T` on arrays this model owns (copied from
implicit after training, or read from the bundle): GEMM on the arrays implicit
allocated measured 3x slower than on plain numpy copies (58 ms vs 18 ms for 1,000
users x 16,016 items). implicit's model object is rebuilt lazily around the same
arrays for what only it does: the exact ALS fold-in and cosine similar items.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from recommender.cf.base import CFModel
from recommender.core.bundle import Shapes
from recommender.core.topk import top_k

SMALL_BATCH = 64


class FactorizationModel(CFModel):
    """A CFModel with user and item factors; subclasses build implicit's model."""

    batch_invariant = False  # BLAS scores (see Ranker.batch_invariant)
    _users: np.ndarray | None = None  # (n_users, f) float32
    _items: np.ndarray | None = None  # (n_items, f) float32
    _model: Any = None  # implicit's model around our arrays, built when first needed
    _threads: int | None = None  # chosen at fit time (see blas.worker_threads)
    _serial: Any = None  # a one-thread view of _model (shared arrays) for small batches
    _norms: tuple[np.ndarray, np.ndarray] | None = None  # (the _items they belong to, norms)

    @property
    def threads(self) -> int:
        return self.config.num_threads if self._threads is None else self._threads

    def _fitted_factors(self, model: Any) -> None:
        """Keep plain copies of a freshly trained implicit model's factors."""
        self._users = np.array(model.user_factors, dtype=np.float32)
        self._items = np.array(model.item_factors, dtype=np.float32)
        self._model = self._serial = None

    def implicit_model(self, n_rows: int) -> Any:
        """implicit's model over our factors for a batch of n_rows users: one thread below
        SMALL_BATCH users (OpenMP barriers cost tens of ms on a busy machine for one user).

        Its item factors must be writable (implicit's solvers take writable buffers): a
        memory-mapped bundle's get a private copy here, in the processes that need it.
        """
        if self._model is None:
            with warnings.catch_warnings():
                # implicit warns about BLAS threads whenever it builds a model object; that
                # matters for training (run under one BLAS thread), not for saved factors
                warnings.filterwarnings("ignore", message="OpenBLAS is configured")
                model = self._new_implicit_model()
            items = self._items if self._items.flags.writeable else np.array(self._items)
            model.user_factors, model.item_factors = self._users, items
            self._model, self._serial = model, None
        if n_rows >= SMALL_BATCH or self.threads == 1:
            return self._model
        if self._serial is None:
            self._serial = copy.copy(self._model)  # shares the factor arrays
            self._serial.num_threads = 1
        return self._serial

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        self.require_fitted()
        rows = np.atleast_1d(np.asarray(user_rows, dtype=np.int64))
        return self._users[rows] @ self._items.T

    def similar_items(self, item: int, *, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Cosine neighbours in item-factor space (as implicit's similar_items), minus the item."""
        self.require_fitted()
        norms = self._item_norms()
        cosine = (self._items @ self._items[int(item)]) / (norms * norms[int(item)])
        itself = sp.csr_matrix(([1.0], ([0], [int(item)])), shape=(1, self.n_items))
        top = top_k(cosine[None, :].astype(np.float32), n, exclude=itself)
        keep = top.ids[0] >= 0
        return top.ids[0][keep], top.scores[0][keep]

    def _item_norms(self) -> np.ndarray:
        """Each item factor's length (zeros as 1), computed once per factor array (however
        it was set): on the Last.fm-360K shape it took 12 of a `similar` call's 17 ms."""
        if self._norms is None or self._norms[0] is not self._items:
            norms = np.linalg.norm(self._items, axis=1)
            norms[norms == 0] = 1.0
            self._norms = (self._items, norms)
        return self._norms[1]

    @property
    def item_factors(self) -> np.ndarray | None:
        return self._items

    @property
    def user_factors(self) -> np.ndarray | None:
        return self._users

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"user_factors": self._users, "item_factors": self._items}

    def _restore_arrays(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        a = Shapes(arrays, users=self.n_users, items=self.n_items)
        users = a("user_factors", ("users", "factors"))
        items = a("item_factors", ("items", "factors"))
        if users.dtype != np.float32 or items.dtype != np.float32:  # what implicit scores with
            raise ValueError(f"factors must be float32, got {users.dtype} and {items.dtype}")
        self._users, self._items = users, items
        self._model = self._serial = None

    def _new_implicit_model(self) -> Any:
        raise NotImplementedError
