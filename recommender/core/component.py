"""The one component contract: typed frozen config -> fit -> score -> recommend -> save/load.

Every model follows it: CF models, baselines, content, hybrid and re-ranker
(`Ranker`: fit on a Dataset, score users over all items) and the audio taggers
(`Tagger`: fit on features and labels, predict tag probabilities). Persistence is
written once, in `recommender.core.bundle`: a component only says what its fitted
state is (`_state`) and how to take it back (`_restore`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommender.core.bundle import State, read_bundle, write_bundle
from recommender.core.configs import Config
from recommender.core.topk import TopK, top_k

if TYPE_CHECKING:
    from recommender.data.dataset import Dataset

BATCH_CELLS = 16_000_000  # users x items scores per dense batch (float32: 64 MB)


class Component(ABC):
    """A named, configured, persistable model; see the module notes."""

    name: ClassVar[str]  # its registry name
    Config: ClassVar[type[Config]]
    # The layout of its saved state: raised when `_state` changes in a way `_restore` cannot
    # read back from older bundles, which are then refused with "run `recsys train`".
    schema: ClassVar[int] = 1

    def __init__(self, config: Config | None = None) -> None:
        config = self.Config() if config is None else config
        if type(config) is not self.Config:
            raise TypeError(f"{type(self).__name__} takes a {self.Config.__name__}, got {config!r}")
        self.config = config
        self.fitted = False

    @abstractmethod
    def _state(self) -> State:
        """The fitted state to save (called only on a fitted component)."""

    @abstractmethod
    def _restore(self, state: State) -> None:
        """Take back what `_state` returned; raise KeyError/ValueError on inconsistent data."""

    def save(self, directory: str | Path, *, manifest: dict[str, Any] | None = None) -> Path:
        """Write this component as a bundle directory, atomically (see core.bundle)."""
        self.require_fitted()
        return write_bundle(Path(directory), self, manifest=manifest)

    @classmethod
    def load(cls, directory: str | Path, *, mmap: bool = False) -> Self:
        """Read a bundle written by `save`; anything wrong is a ModelBundleError."""
        return read_bundle(Path(directory), expect=cls, mmap=mmap)

    def require_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__} used before fit() or load()")


class Ranker(Component):
    """Fit on a Dataset, score users (rows of its play matrix) over all its items.

    `score` returns raw float32 scores (len(rows), n_items) with nothing filtered, in a
    new array the caller may overwrite; `recommend` is the same for every ranker (never
    override it): its scores cut by the one top-k, with played items and candidate sets
    filtered there.
    """

    n_users: int = 0
    n_items: int = 0
    # True when a user's scores are the same bits whatever batch they are scored in. BLAS
    # products are not (the kernel and its summation order follow the batch shape): the
    # factor models score with plain BLAS; the served blend multiplies row by row (core.rowdot).
    batch_invariant: ClassVar[bool] = True
    # True when `fit` reads the dataset's audio-predicted tags, so its grade depends on
    # which tagger made them (evaluation reports such a model once per tagger).
    reads_predicted_tags: ClassVar[bool] = False

    @abstractmethod
    def fit(self, dataset: Dataset) -> Self:
        """Learn from `dataset` only (its plays, tag events and predicted tags)."""

    @abstractmethod
    def score(self, user_rows: np.ndarray) -> np.ndarray:
        """float32 (len(user_rows), n_items); higher is better; nothing filtered."""

    def recommend(
        self,
        user_rows: np.ndarray,
        *,
        n: int = 10,
        exclude: sp.spmatrix | None = None,
        candidates: np.ndarray | None = None,
    ) -> TopK:
        """Top-n per user; `exclude` (len(user_rows) x n_items) marks items never to show."""
        self.require_fitted()
        rows = np.atleast_1d(np.asarray(user_rows, dtype=np.int64))
        if exclude is not None:
            exclude = exclude if sp.isspmatrix_csr(exclude) else sp.csr_matrix(exclude)
            if exclude.shape != (len(rows), self.n_items):
                raise ValueError(
                    f"exclude must be {(len(rows), self.n_items)} (users x items),"
                    f" got {exclude.shape}"
                )
        batches = list(row_batches(len(rows), self.n_items))
        parts = [
            top_k(
                self.checked_scores(rows[batch]),
                n,
                exclude=exclude if exclude is None or len(batches) == 1 else exclude[batch],
                candidates=candidates,
                overwrite=True,
            )
            for batch in batches
        ]
        if not parts:
            width = max(int(n), 0)
            return TopK(np.empty((0, width), np.int64), np.empty((0, width), np.float32))
        return TopK(np.vstack([p.ids for p in parts]), np.vstack([p.scores for p in parts]))

    def checked_scores(self, user_rows: np.ndarray) -> np.ndarray:
        """`score`, refusing a result of the wrong shape (a model bug, not a user error)."""
        scores = self.score(user_rows)
        if scores.shape != (len(user_rows), self.n_items):
            raise ValueError(
                f"{self.name} returned scores of shape {scores.shape},"
                f" expected {(len(user_rows), self.n_items)}"
            )
        return scores


class Tagger(Component):
    """Features X (n_tracks, n_features) -> independent tag probabilities (n_tracks, n_tags)."""

    @abstractmethod
    def fit(self, X: np.ndarray, Y: np.ndarray) -> Self:
        """Learn from features X and binary labels Y (n_tracks, n_tags)."""

    @abstractmethod
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (n_tracks, n_tags), each tag independent."""

    @property
    @abstractmethod
    def n_tags(self) -> int:
        """How many tags it predicts: what a restored pipeline checks its tag names against."""


def row_batches(n_rows: int, n_items: int, cells: int = BATCH_CELLS) -> Iterator[slice]:
    """Row slices whose dense scores stay under `cells` values."""
    size = max(1, cells // max(n_items, 1))
    for start in range(0, n_rows, size):
        yield slice(start, min(start + size, n_rows))


__all__ = ["Component", "Ranker", "State", "Tagger", "row_batches"]
