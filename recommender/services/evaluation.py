"""`recsys evaluate` as a library call: the database's data, split, every model, one report.

Audio-predicted tags are refit on each split's training tags (`split_tagger`), so no
held-out label leaks into a content model's grade.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recommender.core.registry import RANKER_FAMILIES, names
from recommender.data.split_names import SPLITS
from recommender.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from recommender.evaluation.runner import Progress

DEFAULT_MODELS = ("pop", "als", "bpr", "knn", "content", "hybrid")


def model_names(models: str | None) -> list[str]:
    """Registered rankers named in "pop,als,..." (the defaults when None)."""
    choices = names(*RANKER_FAMILIES)
    if models is None:
        return [name for name in DEFAULT_MODELS if name in choices]
    chosen = [name.strip() for name in models.split(",") if name.strip()]
    if not chosen:
        raise InputError("--models is empty; give a comma-separated list such as pop,als,bpr")
    unknown = [name for name in chosen if name not in choices]
    if unknown:
        raise InputError(
            f"--models: unknown model {unknown[0]!r}; choose from {', '.join(choices)}"
        )
    return chosen


def tagger_names(taggers: str | None) -> list[str]:
    """Registered taggers named in "linear,mlp,..." (none when None)."""
    if taggers is None:
        return []
    from recommender.services.tagger_kinds import tagger_kinds

    choices = tagger_kinds()
    chosen = list(dict.fromkeys(name.strip() for name in taggers.split(",") if name.strip()))
    if not chosen:
        raise InputError(
            f"--taggers is empty; give a comma-separated list such as {','.join(choices)}"
        )
    unknown = [name for name in chosen if name not in choices]
    if unknown:
        raise InputError(
            f"--taggers: unknown tagger {unknown[0]!r}; choose from {', '.join(choices)}"
        )
    return chosen


def evaluate(
    engine: Engine,
    *,
    split: str = "random",
    models: str | None = None,
    k: int = 10,
    seed: int = 0,
    taggers: str | None = None,
    cold_by: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Split the listens, train each model on the training part, rank for the test users.

    `taggers` ("linear,mlp"): refit each of these taggers on the split's training
    tags and report every model that reads predicted tags once per tagger (see
    `evaluate_dataset`). Without it, the linear tagger is refit when the database
    holds predicted tags. `cold_by="artist"` (cold-items split only) makes whole
    artists cold rather than single tracks.
    """
    from recommender.evaluation.runner import evaluate_dataset
    from recommender.services.datasets import load_dataset
    from recommender.services.split_tagger import leak_free_predicted_tags, require_features

    if split not in SPLITS:
        raise InputError(f"--split: unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    chosen = model_names(models)
    kinds = tagger_names(taggers)
    split_params = None
    if cold_by is not None:
        from recommender.data.split_names import COLD_UNITS

        if split != "cold-items":
            raise InputError("--cold-by applies to --split cold-items only")
        if cold_by not in COLD_UNITS:
            raise InputError(
                f"--cold-by: unknown {cold_by!r}; choose one of {', '.join(COLD_UNITS)}"
            )
        split_params = {"by": cold_by}
    if kinds:
        require_features(engine)
    dataset = load_dataset(engine)
    if kinds:  # one row per tagger for every model that reads predicted tags
        hooks = {"taggers": {k: leak_free_predicted_tags(engine, seed=seed, kind=k) for k in kinds}}
    elif dataset.predicted_tags is not None:
        hooks = {"prepare": leak_free_predicted_tags(engine, seed=seed)}
    else:
        hooks = {}
    return evaluate_dataset(
        dataset,
        split=split,
        models=chosen,
        k=k,
        seed=seed,
        progress=progress,
        split_params=split_params,
        **hooks,
    )


def write_report(result: dict[str, Any], path: Path, *, command: str | None) -> None:
    """The Markdown report at `path`, written whole or not at all."""
    from recommender.evaluation.report import markdown_report

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(markdown_report(result, command=command))
        os.replace(partial, path)  # a reader never sees half a report
    except OSError as exc:
        raise InputError(f"--report: cannot write {path}: {exc.strerror}") from None
