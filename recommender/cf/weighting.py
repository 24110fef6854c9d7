"""Confidence weighting of raw play counts, fitted once so new users are weighted alike.

Raw counts are heavy-tailed (one user plays an artist 50,000 times), so CF models
train on a dampened confidence. BM25 also discounts items everyone plays and
normalises users by their total plays; its statistics (per-item IDF, mean user
length) come from the training matrix and are kept, so a user folded in later
(`CFModel.recommend_history`) is weighted exactly like a training user.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

WEIGHTINGS = ("none", "binary", "log", "bm25")


def log_weight(plays: sp.csr_matrix, *, alpha: float = 1.0, epsilon: float = 1.0) -> sp.csr_matrix:
    """alpha * log(1 + plays / epsilon): Hu, Koren & Volinsky's log confidence (minus its 1)."""
    out = sp.csr_matrix(plays, dtype=np.float32, copy=True)
    out.data = (alpha * np.log1p(out.data / epsilon)).astype(np.float32)
    return out


@dataclass
class Weighting:
    """One weighting scheme with the statistics it learned from the training matrix.

    `kind` is "none", "binary" (played or not), "log" or "bm25". BM25 follows implicit's
    `bm25_weight` (users are documents, items are terms) with K1 and B.
    """

    kind: str = "bm25"
    k1: float = 100.0
    b: float = 0.8
    epsilon: float = 1.0
    idf: np.ndarray | None = field(default=None, repr=False)
    average_length: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in WEIGHTINGS:
            raise ValueError(
                f"unknown weighting {self.kind!r}; choose one of {', '.join(WEIGHTINGS)}"
            )

    def fit_transform(self, plays: sp.csr_matrix) -> sp.csr_matrix:
        """Learn the statistics from `plays` (users x items) and weight it."""
        plays = sp.csr_matrix(plays, dtype=np.float32)
        if self.kind == "bm25":
            from implicit.nearest_neighbours import bm25_weight

            n_users = float(plays.shape[0])
            self.idf = (np.log(n_users) - np.log1p(np.diff(plays.tocsc().indptr))).astype(
                np.float64
            )
            self.average_length = (
                float(np.asarray(plays.sum(axis=1)).mean()) if plays.shape[0] else 1.0
            )
            return sp.csr_matrix(bm25_weight(plays, K1=self.k1, B=self.b), dtype=np.float32)
        return self.transform(plays)

    def transform(self, plays: sp.csr_matrix) -> sp.csr_matrix:
        """Weight rows of users (training or new) with the learned statistics."""
        plays = sp.csr_matrix(plays, dtype=np.float32)
        if self.kind == "none":
            return plays.copy()
        if self.kind == "binary":
            out = plays.copy()
            out.data = np.ones_like(out.data)
            return out
        if self.kind == "log":
            return log_weight(plays, epsilon=self.epsilon)
        if self.idf is None or self.average_length is None:
            raise RuntimeError("BM25 weighting used before fit_transform")
        out = plays.tocoo()
        row_sums = np.asarray(plays.sum(axis=1)).ravel().astype(np.float64)
        length_norm = (1.0 - self.b) + self.b * row_sums / max(self.average_length, 1e-12)
        data = out.data.astype(np.float64)
        data = data * (self.k1 + 1.0) / (self.k1 * length_norm[out.row] + data) * self.idf[out.col]
        return sp.csr_matrix((data.astype(np.float32), (out.row, out.col)), shape=plays.shape)

    def params(self) -> dict:
        return {"kind": self.kind, "k1": self.k1, "b": self.b, "epsilon": self.epsilon}

    def arrays(self) -> dict[str, np.ndarray]:
        """What `save` writes to npz besides the JSON params."""
        if self.idf is None:
            return {}
        return {
            "weighting_idf": self.idf,
            "weighting_average_length": np.array(self.average_length, dtype=np.float64),
        }

    @classmethod
    def restore(cls, params: dict, arrays: dict[str, np.ndarray]) -> Weighting:
        weighting = cls(**params)
        if "weighting_idf" in arrays:
            weighting.idf = np.asarray(arrays["weighting_idf"], dtype=np.float64)
            weighting.average_length = float(arrays["weighting_average_length"])
        return weighting
