"""`recsys tune`: search model settings on validation plays and write them where `recsys train`
reads them (RECSYS_HOME/config.json, `services.config_file`).

The store's listens are split exactly as `recsys evaluate --split random --seed S` and
`recsys train`'s validation split them (random 80/10/10 per user); the search fits on the
training part and grades on the validation part, and the test part is never read, so
`recsys evaluate` with the same seed stays an honest measure of the tuned settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from recommender.errors import InputError
from recommender.evaluation.tuning_targets import DEFAULT_TRIALS, TARGETS

HYBRID_CF = "als"  # the CF model inside the hybrid while its blend is tuned: train's default
# on_trial(target, trials done, trials in all, best value so far: NaN before the first)
OnTrial = Callable[[str, int, int, float], None]


def check_targets(targets: Sequence[str]) -> list[str]:
    """The targets in a sensible order (CF models before the hybrid that uses one), unique."""
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise InputError(
            f"unknown model {unknown[0]!r} for --model; choose from {', '.join(TARGETS)}"
        )
    return sorted(dict.fromkeys(targets), key=TARGETS.index)


def tune(
    engine: Engine,
    config_path: Path,
    *,
    targets: Sequence[str] = ("als",),
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    timeout: float | None = None,
    write: bool = True,
    on_trial: OnTrial | None = None,
) -> dict[str, Any]:
    """Tune each target on the validation part of the seeded random split of the store,
    starting from (and writing back to) the config file at `config_path`.

    CF targets tune the CF model alone; "hybrid" tunes the blend and content weights
    around the config file's ALS (tuned first when both are asked for). Stored
    predicted tags are left out: their tagger learned from every crowd tag, the
    validation and test parts' included.
    """
    from recommender.core.registry import Spec
    from recommender.data.splits import random_split
    from recommender.evaluation.runner import without_predictions
    from recommender.evaluation.tuning import tune_split
    from recommender.hybrid.configs import HybridConfig
    from recommender.services.config_file import read_config, write_config
    from recommender.services.datasets import load_dataset

    ordered = check_targets(targets)
    if trials < 1:
        raise InputError(f"--trials must be at least 1, got {trials}")
    if timeout is not None and timeout <= 0:
        raise InputError(f"--timeout must be a positive number of seconds, got {timeout}")
    config = read_config(config_path)
    dataset = load_dataset(engine)
    if dataset.plays.nnz == 0:
        raise InputError(
            "the database has no listens to tune on; load data first with `recsys etl ...`"
        )
    notes = []
    if dataset.predicted_tags is not None:
        dataset = without_predictions(dataset)
        notes.append("stored predicted tags left out: their tagger saw the held-out crowd tags")
    split = random_split(dataset, seed=seed)
    data = {
        "fingerprint": dataset.fingerprint(),
        "users": dataset.n_users,
        "items": dataset.n_items,
        "plays": int(dataset.plays.nnz),
        "split": "random 80/10/10 per user; fit on the training part, graded on the"
        " validation part, test part never read",
        "train_plays": int(split.train.plays.nnz),
        "validation_plays": int(split.validation.nnz),
    }
    searches = []
    for target in ordered:
        started = time.perf_counter()
        if target == "hybrid":
            base = HybridConfig(
                cf=Spec(HYBRID_CF, config.cf_config(HYBRID_CF)),
                blend=config.blend,
                content=config.content,
            )
        else:
            base = config.cf_config(target)

        def progress(done: int, total: int, best: float, target: str = target) -> None:
            if on_trial is not None:
                on_trial(target, done, total, best)

        progress(0, trials, float("nan"))  # the bar shows from the start of trial 0
        result = tune_split(
            split, target, base, trials=trials, seed=seed, timeout=timeout, on_trial=progress
        )
        search = {
            **result.summary(),
            "seconds": round(time.perf_counter() - started, 1),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "data": data,
        }
        if target == "hybrid":
            search["cf"] = HYBRID_CF
            config = replace(
                config, blend=result.best_config.blend, content=result.best_config.content
            )
        else:
            config = replace(config, cf={**config.cf, target: result.best_config})
        config = replace(config, tuning={**config.tuning, target: search})
        searches.append(search)
    written = None
    if write:
        written = str(write_config(config_path, config))
    return {"config_file": written, "notes": notes, "searches": searches}
