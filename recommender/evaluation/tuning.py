"""Hyper-parameter search on the validation part of a split (Optuna's seeded TPE).

The tuner fits on `split.train` and grades on `split.validation`; it is handed a split
whose test part it never reads (`validation_split` builds what it sees from the training
and validation parts only), so a later `recsys evaluate` on the same split's test part
is an honest estimate. Each search starts with the configuration in force (trial 0),
so "best" can only be the current setting or one that beat it on validation.

Search spaces cover what the objective can see. A random split ranks only items played
in its training or validation part, so the hybrid's `cold_slots` (how many never-played
items may enter a list) has no effect there and is not searched.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from recommender.core.configs import Config
from recommender.core.registry import create
from recommender.data.splits import Split
from recommender.errors import InputError
from recommender.evaluation.tuning_targets import TARGETS

if TYPE_CHECKING:
    import optuna

MIN_USERS = 10  # validation users needed to tell configurations apart at all
# on_trial(trials done, trials in all, best value so far)
OnTrial = Callable[[int, int, float], None]


def validation_split(split: Split) -> Split:
    """What the tuner sees: fit on `split.train`, graded on `split.validation` as its test.

    Built from the training and validation parts only: the candidates are the items
    played in either (not the whole data's, which would count test-only items), so
    nothing in `split.test` can change a tuning result.
    """
    seen = np.asarray((split.train.plays != 0).sum(axis=0)).ravel()
    seen = seen + np.asarray((split.validation != 0).sum(axis=0)).ravel()
    candidates = np.flatnonzero(seen > 0)
    held = sp.csr_matrix(split.validation, copy=True)
    tuned = Split(
        name=f"{split.name} (validation part)",
        train=split.train,
        validation=sp.csr_matrix(held.shape, dtype=held.dtype),
        test=held,
        candidates=None if len(candidates) == split.train.n_items else candidates,
        params={**split.params, "graded_on": "validation"},
    )
    users = len(tuned.test_users)
    if users < MIN_USERS:
        raise InputError(
            f"{users} users have validation plays, at least {MIN_USERS} are needed to tune;"
            " load more listens"
        )
    return tuned


def _float(trial: optuna.Trial, name: str, low: float, high: float, log: bool = False) -> float:
    return float(trial.suggest_float(name, low, high, log=log))


def _int(trial: optuna.Trial, name: str, low: int, high: int, log: bool = False) -> int:
    return int(trial.suggest_int(name, low, high, log=log))


def suggest(target: str, trial: optuna.Trial, base: Config) -> Config:
    """`base` with the parameters of `target` that the search varies drawn for `trial`.

    Ranges hold the shipped defaults, so trial 0 (the configuration in force) is a point
    of the space. Names are dotted paths into the config ("weighting.k1", "blend.k").
    """
    if target == "als":
        return base.replace(
            factors=_int(trial, "factors", 16, 256, log=True),
            regularization=_float(trial, "regularization", 0.01, 1.0, log=True),
            alpha=_float(trial, "alpha", 0.25, 4.0, log=True),
            iterations=_int(trial, "iterations", 5, 30),
            **{
                "weighting.k1": _float(trial, "weighting.k1", 0.2, 200.0, log=True),
                "weighting.b": _float(trial, "weighting.b", 0.0, 1.0),
            },
        )
    if target == "bpr":
        return base.replace(
            factors=_int(trial, "factors", 16, 256, log=True),
            learning_rate=_float(trial, "learning_rate", 0.001, 0.1, log=True),
            regularization=_float(trial, "regularization", 0.0001, 0.1, log=True),
            iterations=_int(trial, "iterations", 20, 300, log=True),
        )
    if target == "knn":
        similarity = trial.suggest_categorical("similarity", ["cosine", "bm25"])
        bm25 = {}  # K1 and B shape BM25 similarity only: drawn only when it is chosen
        if similarity == "bm25":
            bm25 = {
                "K1": _float(trial, "K1", 0.2, 100.0, log=True),
                "B": _float(trial, "B", 0.0, 1.0),
            }
        return base.replace(K=_int(trial, "K", 20, 1000, log=True), similarity=similarity, **bm25)
    if target == "rp3beta":
        return base.replace(
            K=_int(trial, "K", 20, 1000, log=True),
            alpha=_float(trial, "alpha", 0.1, 2.0),
            beta=_float(trial, "beta", 0.0, 1.0),
        )
    if target == "hybrid":
        return base.replace(
            **{
                "blend.k": _float(trial, "blend.k", 0.5, 200.0, log=True),
                "blend.user_k": _float(trial, "blend.user_k", 0.0, 64.0),
                "blend.content_mix": _float(trial, "blend.content_mix", 0.0, 1.0),
                "blend.hybrid_attention": _float(trial, "blend.hybrid_attention", 0.0, 4.0),
                "blend.hybrid_match": _float(trial, "blend.hybrid_match", 0.0, 2.0),
                "content.applied_weight": _float(trial, "content.applied_weight", 0.0, 1.0),
                "content.idf_power": _float(trial, "content.idf_power", 0.0, 2.0),
            }
        )
    raise InputError(f"unknown tuning target {target!r}; choose one of {', '.join(TARGETS)}")


def current_params(config: Config, names: list[str]) -> dict[str, Any]:
    """The values of dotted parameter `names` in `config`: trial 0 of a search."""
    out = {}
    for name in names:
        value: Any = config
        for part in name.split("."):
            value = getattr(value, part)
        out[name] = value
    return out


@dataclass
class TuneResult:
    """One search: what was tried, the best configuration, and the configuration it started
    from (trial 0), each graded by validation `metric`."""

    target: str
    metric: str
    seed: int
    best_value: float
    start_value: float
    best_params: dict[str, Any]
    best_config: Config
    trials: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON for the config file's provenance, `--json` and the bundle manifest."""
        return {
            "target": self.target,
            "metric": self.metric,
            "seed": self.seed,
            "sampler": "optuna TPESampler (seeded)",
            "best_value": round(self.best_value, 6),
            "start_value": round(self.start_value, 6),
            "best_params": self.best_params,
            "trials": self.trials,
        }


def _ranker(target: str, config: Config, seed: int):
    return create("hybrid" if target == "hybrid" else target, config, seed=seed)


def _grade(target: str, config: Config, tuned: Split, *, seed: int, k: int) -> float:
    from recommender.evaluation.runner import evaluate_split

    result = evaluate_split([(target, _ranker(target, config, seed))], tuned, k=k, seed=seed)
    entry = result["models"][0]
    if "error" in entry:
        raise InputError(f"{target} cannot be tuned on this data: {entry['error']}")
    return float(entry["metrics"][f"ndcg@{k}"])


def tune_split(
    split: Split,
    target: str,
    base: Config,
    *,
    trials: int,
    seed: int = 0,
    k: int = 10,
    timeout: float | None = None,
    on_trial: OnTrial | None = None,
) -> TuneResult:
    """Search `target`'s parameters from `base` for NDCG@k on the validation part of `split`.

    `base` is the target's config (a CF model's, or a `HybridConfig` for "hybrid"); every
    trial is seeded with `seed`, and so is the TPE sampler, so the same data and seed give
    the same search. `split.test` is never read.
    """
    import optuna

    if target not in TARGETS:
        raise InputError(f"unknown tuning target {target!r}; choose one of {', '.join(TARGETS)}")
    if trials < 1:
        raise InputError(f"--trials must be at least 1, got {trials}")
    tuned = validation_split(split)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(current_params(base, space_names(target, base)))
    configs: dict[int, Config] = {}

    def objective(trial: optuna.Trial) -> float:
        config = suggest(target, trial, base)
        configs[trial.number] = config
        return _grade(target, config, tuned, seed=seed, k=k)

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(len(study.trials), trials, study.best_value)

    with warnings.catch_warnings():
        # the setting in force (trial 0) may lie outside the searched ranges: tried all the same
        warnings.filterwarnings("ignore", message="Fixed parameter .* out of range")
        study.optimize(objective, n_trials=trials, timeout=timeout, callbacks=[callback])
    best = study.best_trial
    return TuneResult(
        target=target,
        metric=f"ndcg@{k}",
        seed=seed,
        best_value=float(best.value),
        start_value=float(study.trials[0].value),
        best_params=_plain(best.params),
        best_config=configs[best.number],
        trials=[
            {"number": t.number, "value": float(t.value), "params": _plain(t.params)}
            for t in study.trials
            if t.value is not None
        ],
    )


class _Names:
    """Stands in for an Optuna trial: answers every draw with `base`'s own value and
    records the names drawn, so a conditional space follows the branch `base` is on."""

    def __init__(self, base: Config) -> None:
        self.base = base
        self.names: list[str] = []

    def _current(self, name: str) -> Any:
        self.names.append(name)
        return current_params(self.base, [name])[name]

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
        return self._current(name)

    def suggest_int(self, name: str, low: int, high: int, log: bool = False) -> int:
        return self._current(name)

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
        return self._current(name)


def space_names(target: str, base: Config) -> list[str]:
    """The dotted parameter names `suggest` draws for `target` when it starts from `base`."""
    recorder = _Names(base)
    suggest(target, recorder, base)  # type: ignore[arg-type]
    return recorder.names


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready parameters: numpy scalars as Python numbers, floats to 6 significant digits."""
    out = {}
    for name, value in params.items():
        if isinstance(value, float | np.floating):
            out[name] = float(f"{float(value):.6g}")
        elif isinstance(value, np.integer):
            out[name] = int(value)
        else:
            out[name] = value
    return out
