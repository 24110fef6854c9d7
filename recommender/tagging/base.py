"""The Tagger contract every model follows, and a registry to save and load them without pickle.

A tagger maps a feature matrix X (n_tracks, n_features) to independent tag
probabilities (n_tracks, n_tags). `save` writes plain arrays / model text into
a directory and returns the JSON-able parameters needed to rebuild it; `load`
reads them back. Loading never executes code from the bundle.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from recommender.errors import InputError, ModelBundleError

# kind -> "module:Class", imported only when that kind is used.
TAGGERS: dict[str, str] = {
    "linear": "recommender.tagging.perceptron:LinearTagger",
    "mlp": "recommender.tagging.perceptron:MLPTagger",
    "lightgbm": "recommender.tagging.lightgbm_tagger:LightGBMTagger",
}


class Tagger(ABC):
    kind: ClassVar[str]

    @abstractmethod
    def fit(self, X: np.ndarray, Y: np.ndarray) -> Tagger:
        """Learn from features X (n, d) and binary labels Y (n, n_tags)."""

    @abstractmethod
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (n, n_tags), each tag independent."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Constructor keyword arguments, JSON-able (saved in the manifest)."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the fitted state (npz / model text) into an existing directory."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, params: dict[str, Any]) -> Tagger:
        """Rebuild a fitted tagger saved by `save` with these `params`."""


def tagger_class(kind: str) -> type[Tagger]:
    if kind not in TAGGERS:
        raise InputError(f"unknown tagger {kind!r}; choose one of {', '.join(TAGGERS)}")
    module, name = TAGGERS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def make_tagger(kind: str, **params: Any) -> Tagger:
    return tagger_class(kind)(**params)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, refusing object arrays (no pickle); a bundle error if unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise ModelBundleError(
            f"{path}: unreadable model arrays ({exc}); retrain the tagger"
        ) from None


def check_fit_inputs(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim == 1:
        Y = Y[:, None]
    if X.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"X {X.shape} and Y {Y.shape} must be 2-D with the same number of rows")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinity")
    return X, Y


def load_tagger(model_dir: Path):
    """The trained tagger bundle in `model_dir` (see recommender.tagging.bundle.TaggerBundle)."""
    from recommender.tagging.bundle import TaggerBundle

    return TaggerBundle.load(Path(model_dir))
