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
from recommender.errors import InputError, shown

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from recommender.evaluation.runner import Progress

DEFAULT_MODELS = ("pop", "als", "bpr", "knn", "content", "hybrid")
DEFAULT_REFERENCE = "als"  # the CF model the hybrid builds on: does the rest add anything?
MIN_RESAMPLES = 100


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
            f"--models: unknown model {shown(unknown[0])}; choose from {', '.join(choices)}"
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
            f"--taggers: unknown tagger {shown(unknown[0])}; choose from {', '.join(choices)}"
        )
    return chosen


def row_names(models: list[str], split: str, taggers: list[str]) -> list[str]:
    """The table's rows for these models (baselines first), known before anything runs."""
    from recommender.evaluation.runner import reads_predicted_tags, tagger_row, with_baselines
    from recommender.services.tagger_training import CNN

    rows: list[str] = []
    for name in with_baselines(models, split):
        if taggers and reads_predicted_tags(name):
            rows += [tagger_row(name, kind) for kind in taggers]
        else:
            rows.append(name)
    if CNN in taggers:  # the CNN's embeddings also rank by sound alone
        rows.append(tagger_row("audio-cosine", CNN))
    return rows


def check_significance(
    reference: str | None, rows: list[str], *, resamples: int, alpha: float
) -> str | None:
    """The reference row to compare with (None: no paired tests), or an InputError.

    Without `reference`, als is the reference when it is evaluated.
    """
    if not 0 < alpha < 1:
        raise InputError(f"--alpha: {alpha} is not between 0 and 1; give e.g. 0.05")
    if resamples < MIN_RESAMPLES:
        raise InputError(
            f"--bootstrap: {resamples} resamples are too few to estimate an interval's tails;"
            f" give {MIN_RESAMPLES} or more (default 1000)"
        )
    if reference is None:
        return DEFAULT_REFERENCE if DEFAULT_REFERENCE in rows else None
    if reference not in rows:
        raise InputError(
            f"--reference: {shown(reference)} is not a row of this evaluation; choose one of"
            f" {', '.join(rows)} (or add it to --models)"
        )
    return reference


def evaluate(
    engine: Engine,
    *,
    split: str = "random",
    models: str | None = None,
    k: int = 10,
    seed: int = 0,
    taggers: str | None = None,
    cold_by: str | None = None,
    reference: str | None = None,
    resamples: int = 1000,
    alpha: float = 0.05,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Split the listens, train each model on the training part, rank for the test users.

    `taggers` ("linear,mlp"): refit each of these taggers on the split's training
    tags and report every model that reads predicted tags once per tagger (see
    `evaluate_dataset`). Without it, the linear tagger is refit when the database
    holds predicted tags. `cold_by="artist"` (cold-items split only) makes whole
    artists cold rather than single tracks.

    Every ranking metric gets a (1 - alpha) bootstrap interval over users (`resamples`
    resamples, seeded by `seed`) and, against the `reference` row (default: als when
    evaluated), a paired test with Holm's correction (`evaluation.significance`).
    """
    from recommender.evaluation.runner import evaluate_dataset
    from recommender.evaluation.significance import with_significance
    from recommender.services.datasets import load_dataset
    from recommender.services.split_tagger import leak_free_predicted_tags, require_features

    if split not in SPLITS:
        raise InputError(
            f"--split: unknown split {shown(split)}; choose one of {', '.join(SPLITS)}"
        )
    chosen = model_names(models)
    kinds = tagger_names(taggers)
    split_params = None
    if cold_by is not None:
        from recommender.data.split_names import COLD_UNITS

        if split != "cold-items":
            raise InputError("--cold-by applies to --split cold-items only")
        if cold_by not in COLD_UNITS:
            raise InputError(
                f"--cold-by: unknown {shown(cold_by)}; choose one of {', '.join(COLD_UNITS)}"
            )
        split_params = {"by": cold_by}
    reference = check_significance(
        reference, row_names(chosen, split, kinds), resamples=resamples, alpha=alpha
    )
    if kinds:
        require_features(engine)
    dataset = load_dataset(engine)
    if kinds:  # one row per tagger for every model that reads predicted tags
        hooks = {"taggers": {k: leak_free_predicted_tags(engine, seed=seed, kind=k) for k in kinds}}
    elif dataset.predicted_tags is not None:
        hooks = {"prepare": leak_free_predicted_tags(engine, seed=seed)}
    else:
        hooks = {}
    result = evaluate_dataset(
        dataset,
        split=split,
        models=chosen,
        k=k,
        seed=seed,
        progress=progress,
        split_params=split_params,
        **hooks,
    )
    return with_significance(result, reference=reference, resamples=resamples, alpha=alpha)


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
