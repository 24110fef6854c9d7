"""Confidence weighting of raw play counts, fitted once so new users are weighted alike.

Raw counts are heavy-tailed (one user plays an artist 50,000 times), so CF models
train on a dampened confidence. BM25 also discounts items everyone plays and
normalises users by their total plays; its statistics (per-item IDF, mean user
length) come from the training matrix and are kept, so a user folded in later
(`CFModel.score_history`) is weighted exactly like a training user.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommender.core.bundle import Shapes
from recommender.core.configs import Config
from recommender.errors import InputError, shown

WEIGHTINGS = ("none", "binary", "log", "bm25")


@dataclass(frozen=True)
class WeightingConfig(Config):
    """kind: "none", "binary" (played or not), "log" (log(1 + plays / epsilon)) or "bm25"
    (implicit's `bm25_weight`: users are documents, items are terms, with K1 and B)."""

    kind: str = "bm25"
    k1: float = 100.0
    b: float = 0.8
    epsilon: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in WEIGHTINGS:
            raise InputError(
                f"unknown weighting {shown(self.kind)}; choose one of {', '.join(WEIGHTINGS)}"
            )


def log_weight(plays: sp.csr_matrix, *, alpha: float = 1.0, epsilon: float = 1.0) -> sp.csr_matrix:
    """alpha * log(1 + plays / epsilon): Hu, Koren & Volinsky's log confidence (minus its 1)."""
    out = sp.csr_matrix(plays, dtype=np.float32, copy=True)
    out.data = (alpha * np.log1p(out.data / epsilon)).astype(np.float32)
    return out


class Weighting:
    """One weighting scheme with the statistics it learned from the training matrix."""

    def __init__(self, config: WeightingConfig) -> None:
        self.config = config
        self.idf: np.ndarray | None = None
        self.average_length: float | None = None

    def fit_transform(self, plays: sp.csr_matrix) -> sp.csr_matrix:
        """Learn the statistics from `plays` (users x items) and weight it."""
        plays = sp.csr_matrix(plays, dtype=np.float32)
        if self.config.kind == "bm25":
            from implicit.nearest_neighbours import bm25_weight

            n_users = float(plays.shape[0])
            self.idf = (np.log(n_users) - np.log1p(np.diff(plays.tocsc().indptr))).astype(
                np.float64
            )
            self.average_length = (
                float(np.asarray(plays.sum(axis=1)).mean()) if plays.shape[0] else 1.0
            )
            weighted = bm25_weight(plays, K1=self.config.k1, B=self.config.b)
            return sp.csr_matrix(weighted, dtype=np.float32)
        return self.transform(plays)

    def transform(self, plays: sp.csr_matrix) -> sp.csr_matrix:
        """Weight rows of users (training or new) with the learned statistics."""
        plays = sp.csr_matrix(plays, dtype=np.float32)
        kind = self.config.kind
        if kind == "none":
            return plays.copy()
        if kind == "binary":
            out = plays.copy()
            out.data = np.ones_like(out.data)
            return out
        if kind == "log":
            return log_weight(plays, epsilon=self.config.epsilon)
        if self.idf is None or self.average_length is None:
            raise RuntimeError("BM25 weighting used before fit_transform")
        k1, b = self.config.k1, self.config.b
        out = plays.tocoo()
        row_sums = np.asarray(plays.sum(axis=1)).ravel().astype(np.float64)
        length_norm = (1.0 - b) + b * row_sums / max(self.average_length, 1e-12)
        data = out.data.astype(np.float64)
        data = data * (k1 + 1.0) / (k1 * length_norm[out.row] + data) * self.idf[out.col]
        return sp.csr_matrix((data.astype(np.float32), (out.row, out.col)), shape=plays.shape)

    def arrays(self) -> dict[str, np.ndarray]:
        """The learned statistics, for the model's bundle."""
        if self.idf is None:
            return {}
        return {
            "weighting_idf": self.idf,
            "weighting_average_length": np.array(self.average_length, dtype=np.float64),
        }

    def restore(self, arrays: Shapes) -> None:
        """Take back `arrays()`: one idf per item (`arrays` knows the item count)."""
        if "weighting_idf" in arrays.arrays:
            self.idf = np.asarray(arrays("weighting_idf", ("items",)), dtype=np.float64)
            self.average_length = float(arrays("weighting_average_length", ()))
        elif self.config.kind == "bm25":
            raise KeyError("weighting_idf (a BM25 weighting needs its statistics)")
