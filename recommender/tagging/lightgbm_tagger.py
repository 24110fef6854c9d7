"""LightGBM tagger: one binary gradient-boosted model per tag, saved as LightGBM model text.

A tag that is constant in the training data gets no model, just its constant
probability, since boosting cannot learn from one class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from recommender.core.bundle import Shapes
from recommender.core.component import State, Tagger
from recommender.core.configs import Config
from recommender.tagging.inputs import check_fit_inputs


@dataclass(frozen=True)
class LightGBMConfig(Config):
    n_estimators: int = 150
    learning_rate: float = 0.05
    num_leaves: int = 15
    seed: int = 0
    threads: int = 1


class LightGBMTagger(Tagger):
    name: ClassVar[str] = "lightgbm"
    Config: ClassVar[type[Config]] = LightGBMConfig

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self.boosters_: list[Any] = []
        self.constant_: np.ndarray = np.zeros(0)

    def _lgb_params(self, n: int) -> dict[str, Any]:
        cfg = self.config
        return {
            "objective": "binary",
            "learning_rate": cfg.learning_rate,
            "num_leaves": cfg.num_leaves,
            # small catalogues (tens of tracks per fold) need small leaves to split at all
            "min_data_in_leaf": max(2, min(20, n // 20)),
            "feature_fraction": 0.8,
            "lambda_l2": 1.0,
            "seed": cfg.seed,
            "deterministic": True,
            "num_threads": cfg.threads,
            "verbose": -1,
        }

    def fit(self, X: np.ndarray, Y: np.ndarray) -> Self:
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
            rounds = self.config.n_estimators
            self.boosters_.append(lgb.train(params, data, num_boost_round=rounds))
            constant.append(np.nan)
        self.constant_ = np.asarray(constant)
        self.fitted = True
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        out = np.empty((X.shape[0], len(self.boosters_)))
        for j, booster in enumerate(self.boosters_):
            out[:, j] = self.constant_[j] if booster is None else booster.predict(X)
        return out

    @property
    def n_tags(self) -> int:
        return len(self.constant_)

    def _state(self) -> State:
        texts = {
            f"tag{j:04d}.txt": booster.model_to_string()
            for j, booster in enumerate(self.boosters_)
            if booster is not None
        }
        return State(arrays={"constant": self.constant_}, texts=texts)

    def _restore(self, state: State) -> None:
        import lightgbm as lgb

        self.constant_ = Shapes(state.arrays)("constant", ("tags",))
        self.boosters_ = []
        for j, constant in enumerate(self.constant_):
            if not np.isnan(constant):
                self.boosters_.append(None)
                continue
            try:
                self.boosters_.append(lgb.Booster(model_str=state.texts[f"tag{j:04d}.txt"]))
            except lgb.basic.LightGBMError as exc:
                raise ValueError(f"unreadable LightGBM model for tag {j} ({exc})") from None
