"""The one contract every collaborative-filtering model keeps (ALS, BPR, item-KNN).

Callers (the hybrid ranker, the CLI, the evaluation runner) see only `CFModel`:
fit on a users x items matrix of raw play counts, score or recommend for rows of
that matrix, fold in users the model has never seen, find similar items, and
save/load without pickle. Weighting of play counts happens inside `fit`, with
statistics kept so that folded-in users are weighted the same way.

Indices only: rows are user indices and columns item indices of the training
matrix; the id <-> index vocabularies live with the Dataset and the bundle.
"""

from __future__ import annotations

import importlib
import json
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommender.cf.blas import single_threaded_blas
from recommender.cf.topn import top_n
from recommender.cf.weighting import Weighting
from recommender.errors import InputError, ModelBundleError

FORMAT_VERSION = 1
PARAMS_FILE = "cf.json"
ARRAYS_FILE = "cf.npz"
BATCH_CELLS = 16_000_000  # users x items scores per dense batch (float32: 64 MB)

# name -> "module:Class"; imported only when a model of that name is built or loaded.
CF_MODELS: dict[str, str] = {
    "als": "recommender.cf.als:ALSModel",
    "bpr": "recommender.cf.bpr:BPRModel",
    "knn": "recommender.cf.knn:ItemKNNModel",
    "rp3beta": "recommender.cf.rp3beta:RP3betaModel",
    "spark-als": "recommender.spark.als:SparkALSModel",  # needs the spark extra to fit
}


def cf_model_class(name: str) -> type[CFModel]:
    """The class registered under `name`; an unknown name is a usage error."""
    try:
        module_name, class_name = CF_MODELS[name].split(":")
    except KeyError:
        raise InputError(
            f"unknown CF model {name!r}; choose one of {', '.join(sorted(CF_MODELS))}"
        ) from None
    return getattr(importlib.import_module(module_name), class_name)


def create_cf_model(name: str, *, seed: int = 0, **params: Any) -> CFModel:
    return cf_model_class(name)(seed=seed, **params)


class CFModel(ABC):
    """Base class: hyper-parameters in `defaults` (tuned values), a seed, a weighting.

    Subclasses implement `_fit`, `score`, `_fold_in_scores`, `similar_items` and
    the array (de)serialisation; recommend/filtering/top-n and save/load live here
    so every model filters and pads the same way.
    """

    name: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {}
    default_weighting: ClassVar[str] = "bm25"
    default_bm25: ClassVar[tuple[float, float]] = (100.0, 0.8)  # (K1, B): implicit's defaults

    def __init__(
        self,
        *,
        seed: int = 0,
        weighting: str | None = None,
        bm25_k1: float | None = None,
        bm25_b: float | None = None,
        log_epsilon: float = 1.0,
        num_threads: int = 0,
        **params: Any,
    ) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            raise InputError(
                f"unknown parameter(s) {', '.join(unknown)} for the {self.name} model;"
                f" known: {known}"
            )
        self.seed = int(seed)
        self.num_threads = int(num_threads)
        self.params: dict[str, Any] = {**self.defaults, **params}
        try:
            self.weighting = Weighting(
                kind=weighting or self.default_weighting,
                k1=self.default_bm25[0] if bm25_k1 is None else bm25_k1,
                b=self.default_bm25[1] if bm25_b is None else bm25_b,
                epsilon=log_epsilon,
            )
        except ValueError as exc:
            raise InputError(str(exc)) from None
        self.n_users = 0
        self.n_items = 0
        self._fitted = False

    # ---- training -------------------------------------------------------------------------
    def fit(self, plays: sp.csr_matrix) -> Self:
        """Train on users x items raw play counts (weighting is applied here, not by callers)."""
        plays = _as_csr(plays)
        self.n_users, self.n_items = plays.shape
        weighted = self.weighting.fit_transform(plays)
        with single_threaded_blas():
            self._fit(weighted)
        self._fitted = True
        return self

    @abstractmethod
    def _fit(self, weighted: sp.csr_matrix) -> None: ...

    # ---- scoring ------------------------------------------------------------------------------
    @abstractmethod
    def score(self, user_rows: np.ndarray) -> np.ndarray:
        """Raw scores, float32 (len(user_rows), n_items); nothing filtered. Batch your users."""

    @abstractmethod
    def _fold_in_scores(self, weighted_history: sp.csr_matrix) -> np.ndarray:
        """Scores (n_rows, n_items) for users described only by their weighted history."""

    def recommend(
        self,
        user_rows: np.ndarray,
        plays: sp.csr_matrix,
        *,
        n: int = 10,
        filter_played: bool = True,
        items: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (item indices, scores), each (len(user_rows), n), best first.

        `plays` holds the rows of those users (for filtering what they played).
        `items` restricts the candidates. Rows with fewer than n candidates left are
        padded with item -1 and score -inf.
        """
        self._require_fitted()
        user_rows = np.atleast_1d(np.asarray(user_rows, dtype=np.int64))
        plays = self._check_rows_plays(user_rows, plays)
        items = _check_items(items, self.n_items)
        ids, scores = [], []
        for batch in _batches(len(user_rows), self.n_items):  # dense scores stay under ~64 MB
            exclude = plays[batch] if filter_played else None
            top = top_n(self.score(user_rows[batch]), n, exclude=exclude, items=items)
            ids.append(top[0])
            scores.append(top[1])
        return _stack(ids, scores, n)

    def recommend_history(
        self, history: sp.csr_matrix, *, n: int = 10, filter_played: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fold-in: recommend for users not in the model from their play rows (n_rows x n_items)."""
        self._require_fitted()
        history = _as_csr(history)
        if history.shape[1] != self.n_items:
            raise InputError(
                f"history has {history.shape[1]} item columns but the model knows"
                f" {self.n_items} items"
            )
        weighted = self.weighting.transform(history)
        ids, scores = [], []
        for batch in _batches(history.shape[0], self.n_items):
            with single_threaded_blas():
                dense = self._fold_in_scores(weighted[batch])
            top = top_n(dense, n, exclude=history[batch] if filter_played else None)
            ids.append(top[0])
            scores.append(top[1])
        return _stack(ids, scores, n)

    @abstractmethod
    def similar_items(self, item: int, *, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The n items most similar to `item` (itself excluded), best first."""

    @property
    def item_factors(self) -> np.ndarray | None:
        """Item vectors such that score = user_factors @ item_factors.T (None for KNN)."""
        return None

    @property
    def user_factors(self) -> np.ndarray | None:
        return None

    # ---- persistence ---------------------------------------------------------------------------
    @abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Rebuild the fitted state; raise ValueError/KeyError on inconsistent arrays."""

    def manifest(self) -> dict[str, Any]:
        """Everything needed to rebuild the model besides its arrays (also for bundle manifests)."""
        import implicit

        return {
            "format": FORMAT_VERSION,
            "name": self.name,
            "seed": self.seed,
            "params": self.params,
            "weighting": self.weighting.params(),
            "n_users": self.n_users,
            "n_items": self.n_items,
            "implicit_version": implicit.__version__,
        }

    def save(self, directory: Path) -> None:
        """Write cf.json + cf.npz into `directory` (each file replaced atomically; no pickle)."""
        self._require_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {**self._arrays(), **self.weighting.arrays()}
        tmp_npz = directory / f".{ARRAYS_FILE}.tmp"
        with open(tmp_npz, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp_npz, directory / ARRAYS_FILE)
        tmp_json = directory / f".{PARAMS_FILE}.tmp"
        tmp_json.write_text(json.dumps(self.manifest(), indent=2, sort_keys=True))
        os.replace(tmp_json, directory / PARAMS_FILE)

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Load what `save` wrote; anything missing or inconsistent is a ModelBundleError."""
        directory = Path(directory)
        if cls is CFModel:
            return load_cf_model(directory)  # type: ignore[return-value]
        manifest = _read_manifest(directory)
        if manifest["name"] != cls.name:
            raise _bundle_error(directory, f"holds a {manifest['name']!r} model, not {cls.name!r}")
        return _restore_model(cls, directory, manifest)

    # ---- helpers ---------------------------------------------------------------------------
    def _require_fitted(self) -> None:
        if not self._fitted:
            raise RuntimeError(f"{type(self).__name__} used before fit() or load()")

    def _check_rows_plays(self, user_rows: np.ndarray, plays: sp.csr_matrix) -> sp.csr_matrix:
        plays = _as_csr(plays)
        if plays.shape != (len(user_rows), self.n_items):
            raise ValueError(
                f"plays must hold one row per user ({len(user_rows)}) and {self.n_items} items,"
                f" got {plays.shape}"
            )
        return plays


def load_cf_model(directory: Path) -> CFModel:
    """Load any saved CF model, dispatching on the name in its cf.json."""
    directory = Path(directory)
    manifest = _read_manifest(directory)
    try:
        cls = cf_model_class(manifest["name"])
    except InputError:
        raise _bundle_error(directory, f"names an unknown model {manifest['name']!r}") from None
    return _restore_model(cls, directory, manifest)


def _bundle_error(directory: Path, problem: str) -> ModelBundleError:
    return ModelBundleError(
        f"CF model in {directory} {problem}; run `recsys train` to rebuild the model bundle"
    )


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / PARAMS_FILE
    if not directory.is_dir():
        raise _bundle_error(directory, "is missing (no such directory)")
    if not path.is_file() or not (directory / ARRAYS_FILE).is_file():
        raise _bundle_error(directory, f"is incomplete ({PARAMS_FILE} or {ARRAYS_FILE} missing)")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bundle_error(directory, f"has an unreadable {PARAMS_FILE} ({exc})") from None
    required = {"format", "name", "seed", "params", "weighting", "n_users", "n_items"}
    if not isinstance(manifest, dict) or not required <= set(manifest):
        raise _bundle_error(directory, f"has a {PARAMS_FILE} without {sorted(required)}")
    if manifest["format"] != FORMAT_VERSION:
        raise _bundle_error(
            directory, f"uses format {manifest['format']}, expected {FORMAT_VERSION}"
        )
    return manifest


def _restore_model(cls: type[CFModel], directory: Path, manifest: dict[str, Any]) -> CFModel:
    weighting = manifest["weighting"]
    try:
        model = cls(
            seed=manifest["seed"],
            weighting=weighting["kind"],
            bm25_k1=weighting["k1"],
            bm25_b=weighting["b"],
            log_epsilon=weighting["epsilon"],
            **manifest["params"],
        )
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        model.n_users, model.n_items = int(manifest["n_users"]), int(manifest["n_items"])
        model.weighting = Weighting.restore(model.weighting.params(), arrays)
        with single_threaded_blas():
            model._restore(arrays)
    except (InputError, KeyError, ValueError, TypeError, OSError, EOFError) as exc:
        raise _bundle_error(directory, f"is corrupt ({type(exc).__name__}: {exc})") from None
    model._fitted = True
    return model


def _batches(n_rows: int, n_items: int, cells: int = BATCH_CELLS) -> list[slice]:
    size = max(1, cells // max(n_items, 1))
    return [slice(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


def _stack(
    ids: list[np.ndarray], scores: list[np.ndarray], n: int
) -> tuple[np.ndarray, np.ndarray]:
    if not ids:
        return np.empty((0, max(n, 0)), np.int64), np.empty((0, max(n, 0)), np.float32)
    return np.vstack(ids), np.vstack(scores)


def _as_csr(matrix: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    if not sp.issparse(matrix):
        raise TypeError(
            f"expected a scipy sparse users x items matrix, got {type(matrix).__name__}"
        )
    return sp.csr_matrix(matrix, dtype=np.float32)


def _check_items(items: np.ndarray | None, n_items: int) -> np.ndarray | None:
    if items is None:
        return None
    items = np.unique(np.asarray(items, dtype=np.int64))
    if len(items) and (items[0] < 0 or items[-1] >= n_items):
        raise IndexError(f"candidate items must lie in [0, {n_items}), got {items[0]}..{items[-1]}")
    return items
