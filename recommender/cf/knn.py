"""Item-item nearest neighbours (implicit's BM25Recommender or CosineRecommender).

Scores are the user's weighted history times the sparse top-K item similarity
matrix, so fold-in is free: a new user's history is scored the same way.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recommender.cf.base import CFModel
from recommender.cf.blas import worker_threads
from recommender.cf.weighting import WeightingConfig
from recommender.core.bundle import Shapes, sparse_arrays
from recommender.core.configs import Config
from recommender.core.topk import top_k
from recommender.errors import InputError, shown

SIMILARITIES = ("bm25", "cosine")


@dataclass(frozen=True)
class KNNConfig(Config):
    """Tuned on HetRec Last.fm 2K, RecBole random 80/10/10 split (seed 0), validation NDCG@10:
    cosine on log plays K=400 0.163 (K=100 0.153, K=1000 0.167); BM25 similarity at best
    0.153 (K=400, log), 0.141 on raw counts; implicit's BM25 defaults (K=100, raw) 0.130."""

    K: int = 400
    similarity: str = "cosine"
    K1: float = 1.2
    B: float = 0.75
    weighting: WeightingConfig = field(default_factory=lambda: WeightingConfig("log"))
    num_threads: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.similarity not in SIMILARITIES:
            raise InputError(
                f"unknown KNN similarity {shown(self.similarity)};"
                f" choose {' or '.join(SIMILARITIES)}"
            )
        if self.K < 1:
            raise InputError(f"KNN needs K >= 1, got {self.K}")


class ItemKNNModel(CFModel):
    name: ClassVar[str] = "knn"
    Config: ClassVar[type[Config]] = KNNConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._similarity: sp.csr_matrix | None = None
        self._user_items: sp.csr_matrix | None = None

    def _fit(self, weighted: sp.csr_matrix) -> None:
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

        cfg = self.config
        threads = worker_threads(cfg.num_threads, weighted.nnz)
        if cfg.similarity == "bm25":
            model = BM25Recommender(K=cfg.K, K1=cfg.K1, B=cfg.B, num_threads=threads)
        else:
            model = CosineRecommender(K=cfg.K, num_threads=threads)
        with warnings.catch_warnings():
            # implicit's own BM25/Cosine fit hands a COO matrix to its CSR check; harmless
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            model.fit(weighted, show_progress=False)
        self._similarity = sp.csr_matrix(model.similarity, dtype=np.float32)
        self._user_items = weighted

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        self.require_fitted()
        rows = np.atleast_1d(np.asarray(user_rows, dtype=np.int64))
        return self._fold_in_scores(self._user_items[rows])

    def _fold_in_scores(self, weighted_history: sp.csr_matrix) -> np.ndarray:
        return np.asarray((weighted_history @ self._similarity).todense(), dtype=np.float32)

    def similar_items(self, item: int, *, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The item's top-K neighbours by similarity (fewer than n when it has fewer)."""
        self.require_fitted()
        row = self._similarity[int(item)].toarray()
        row[0, int(item)] = -np.inf  # not its own neighbour
        row[row == 0] = -np.inf  # not a neighbour at all
        top = top_k(row.astype(np.float32), n)
        keep = top.ids[0] >= 0
        return top.ids[0][keep], top.scores[0][keep]

    @property
    def similarity(self) -> sp.csr_matrix | None:
        """items x items sparse similarity (row i: the neighbours of item i)."""
        return self._similarity

    def _arrays(self) -> dict[str, np.ndarray]:
        return sparse_arrays("similarity", self._similarity) | sparse_arrays(
            "user_items", self._user_items
        )

    def _restore_arrays(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        a = Shapes(arrays, users=self.n_users, items=self.n_items)
        self._similarity = a.sparse("similarity", "items", "items")
        self._user_items = a.sparse("user_items", "users", "items")
