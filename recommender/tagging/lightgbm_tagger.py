"""LightGBM tagger: one binary gradient-boosted model per tag, saved as LightGBM model text.

A tag that is constant in the training data gets no model, just its constant
probability, since boosting cannot learn from one class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recommender.errors import ModelBundleError
from recommender.tagging.base import Tagger, check_fit_inputs, load_npz


class LightGBMTagger(Tagger):
    kind = "lightgbm"

    def __init__(
        self,
        *,
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        seed: int = 0,
        threads: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.seed = seed
        self.threads = threads
        self.boosters_: list[Any] = []
        self.constant_: np.ndarray = np.zeros(0)

    def params(self) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "seed": self.seed,
            "threads": self.threads,
        }

    def _lgb_params(self, n: int) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            # small catalogues (tens of tracks per fold) need small leaves to split at all
            "min_data_in_leaf": max(2, min(20, n // 20)),
            "feature_fraction": 0.8,
            "lambda_l2": 1.0,
            "seed": self.seed,
            "deterministic": True,
            "num_threads": self.threads,
            "verbose": -1,
        }

    def fit(self, X: np.ndarray, Y: np.ndarray) -> LightGBMTagger:
        import lightgbm as lgb

        X, Y = check_fit_inputs(X, Y)
        params = self._lgb_params(X.shape[0])
        self.boosters_, constant = [], []
        for column in Y.T:
            rate = float(column.mean())
            if rate in (0.0, 1.0):
                self.boosters_.append(None)
                constant.append(rate)
                continue
            data = lgb.Dataset(X, label=column, params={"verbose": -1})
            self.boosters_.append(lgb.train(params, data, num_boost_round=self.n_estimators))
            constant.append(np.nan)
        self.constant_ = np.asarray(constant)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        out = np.empty((X.shape[0], len(self.boosters_)))
        for j, booster in enumerate(self.boosters_):
            out[:, j] = self.constant_[j] if booster is None else booster.predict(X)
        return out

    def save(self, directory: Path) -> None:
        np.savez(directory / "lightgbm.npz", constant=self.constant_)
        for j, booster in enumerate(self.boosters_):
            if booster is not None:
                booster.save_model(str(directory / f"lightgbm_tag{j:04d}.txt"))

    @classmethod
    def load(cls, directory: Path, params: dict[str, Any]) -> LightGBMTagger:
        import lightgbm as lgb

        tagger = cls(**params)
        tagger.constant_ = load_npz(directory / "lightgbm.npz")["constant"]
        tagger.boosters_ = []
        for j, constant in enumerate(tagger.constant_):
            if not np.isnan(constant):
                tagger.boosters_.append(None)
                continue
            path = directory / f"lightgbm_tag{j:04d}.txt"
            try:
                tagger.boosters_.append(lgb.Booster(model_file=str(path)))
            except Exception as exc:  # lightgbm raises LightGBMError for missing/corrupt text
                raise ModelBundleError(
                    f"{path}: unreadable LightGBM model ({exc}); retrain"
                ) from None
        return tagger
