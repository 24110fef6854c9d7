"""Train every model on a split's training part and score it on the test part, identically.

One code path for all models: the same users (those with a test interaction),
the same excluded items (their training and validation items), the same
candidates, the same top-k and tie-breaking, the same metrics. The result is a
plain dict, so the CLI, the Markdown report and the notebooks all read one shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from recommender.errors import RecsysError
from recommender.evaluation.leakage import check_no_leakage
from recommender.evaluation.metrics import average_popularity, coverage, novelty, ranking_metrics
from recommender.evaluation.protocol import Ranker
from recommender.evaluation.splitters import Split
from recommender.evaluation.topk import rank_users

BASELINES = ("random", "pop")
COLD_ITEM_BASELINES = ("tag-pop", "tag-cosine")

# progress(model name, users ranked so far, users to rank)
Progress = Callable[[str, int, int], None]


def with_baselines(models: Sequence[str], split_name: str) -> list[str]:
    """The requested models after the baselines always reported beside them (no duplicates)."""
    baselines = BASELINES + (COLD_ITEM_BASELINES if split_name == "cold-items" else ())
    ordered = [*baselines, *models]
    return list(dict.fromkeys(ordered))


def _resolve(model: str | Ranker, seed: int) -> Ranker:
    if not isinstance(model, str):
        return model
    from recommender.models import create_ranker

    return create_ranker(model, seed=seed)


def evaluate_split(
    models: Sequence[str | Ranker],
    split: Split,
    *,
    k: int = 10,
    ks: Sequence[int] | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Fit each model on `split.train`, rank test users' candidates and compute metrics.

    Metrics are reported at every cut-off in `ks` (default: just `k`), from one
    ranking of depth max(ks). A model that fails with a RecsysError (say, a
    content model on data without tags) is reported with its error and the
    others still run; any other exception is a bug and propagates.
    """
    check_no_leakage(split.train, split.test)
    check_no_leakage(split.train, split.validation)
    cutoffs = sorted(set(ks or (k,)) | {k})
    if cutoffs[0] < 1:
        raise ValueError(f"cut-offs must be >= 1, got {cutoffs}")
    depth = cutoffs[-1]
    train = split.train
    users = split.test_users
    exclude = sp.csr_matrix(train.plays + split.validation)
    relevant = split.test[users]
    item_users = train.item_play_counts().astype(np.float64)
    n_catalogue = train.n_items if split.candidates is None else len(split.candidates)

    results = []
    for model in models:
        name = model if isinstance(model, str) else model.name
        entry: dict[str, Any] = {"name": name}
        try:
            ranker = _resolve(model, seed)
            if progress is not None:  # show the model (and its elapsed time) while it fits
                progress(name, 0, len(users))
            started = time.perf_counter()
            ranker.fit(train)
            fitted = time.perf_counter()

            def on_batch(done: int, name: str = name) -> None:
                if progress is not None:
                    progress(name, done, len(users))

            constant = np.zeros(len(users), dtype=bool)
            top = rank_users(
                ranker,
                users,
                k=depth,
                exclude=exclude,
                candidates=split.candidates,
                batch_size=batch_size,
                on_batch=on_batch,
                constant_out=constant,
            )
            ranked = time.perf_counter()
        except RecsysError as exc:
            entry["error"] = str(exc)
            results.append(entry)
            continue
        metrics: dict[str, float] = {}
        for cutoff in cutoffs:
            head = top[:, :cutoff]
            for metric, value in ranking_metrics(head, relevant, cutoff).items():
                metrics[f"{metric}@{cutoff}"] = value
            metrics[f"coverage@{cutoff}"] = coverage(head, n_catalogue)
            metrics[f"novelty@{cutoff}"] = novelty(head, item_users, train.n_users)
            metrics[f"avg_popularity@{cutoff}"] = average_popularity(head, item_users)
        entry.update(
            metrics=metrics,
            fit_seconds=round(fitted - started, 3),
            rank_seconds=round(ranked - fitted, 3),
            # share of users for whom the model could not tell candidates apart (e.g. CF on
            # cold items): their list is item order, so read those metrics as a tie-break artefact
            constant_score_users=round(float(constant.mean()) if len(constant) else 0.0, 4),
        )
        results.append(entry)

    return {
        "split": split.name,
        "split_params": split.params,
        "k": k,
        "ks": cutoffs,
        "seed": seed,
        "data": {
            "fingerprint": train.fingerprint(),
            "users": train.n_users,
            "items": train.n_items,
            "train_interactions": int(train.plays.nnz),
            "validation_interactions": int(split.validation.nnz),
            "test_interactions": int(split.test.nnz),
            "train_tag_assignments": len(train.tag_events),
            "candidate_items": n_catalogue,
        },
        "users_evaluated": len(users),
        "models": results,
        "notes": []
        if train.predicted_tags is None
        else [f"predicted tags: {train.predicted_model_version}"],
    }


def evaluate_dataset(
    dataset,
    *,
    split: str = "random",
    models: Sequence[str | Ranker] = ("pop",),
    k: int = 10,
    ks: Sequence[int] | None = None,
    seed: int = 0,
    baselines: bool = True,
    progress: Progress | None = None,
    split_params: dict[str, Any] | None = None,
    prepare: Callable[[Split], tuple[Split, str]] | None = None,
) -> dict[str, Any]:
    """Split `dataset` with `seed`, then `evaluate_split` (with the baselines, by default).

    `prepare(split) -> (split, note)` adjusts the training side before any model
    sees it; its note is kept in the result's "notes".

    Stored audio-predicted tags come from a tagger fitted on every crowd tag, the
    held-out ones included, so scoring content models with them flatters them.
    Hence, when `dataset` carries predicted tags and no `prepare` is given, they
    are dropped (and a note says so) rather than silently used. To grade models
    with audio tags, pass `prepare=split_tagger.leak_free_predicted_tags(engine,
    seed=seed)`, which refits the tagger on the split's training tags (this
    needs the database's audio features, hence the engine). Only if you know
    the stored predictions never saw the held-out labels (synthetic ones, or a
    tagger trained on an independent curated label file), keep them with
    `prepare=split_tagger.keep_predicted_tags("why they cannot leak")`.
    """
    from recommender.evaluation.splitters import make_split

    the_split = make_split(dataset, split, seed=seed, **(split_params or {}))
    notes = []
    if prepare is not None:
        the_split, note = prepare(the_split)
        notes.append(note)
    elif the_split.train.predicted_tags is not None:
        stale = the_split.train.predicted_model_version
        the_split = replace(
            the_split,
            train=the_split.train.replace(predicted_tags=None, predicted_model_version=None),
        )
        notes.append(
            f"stored predicted tags ({stale}) dropped: their tagger saw every crowd tag, "
            "held-out ones included; pass prepare=leak_free_predicted_tags(engine, seed=...) "
            "to refit it on the split's training tags"
        )
    names = [m for m in models if isinstance(m, str)]
    if baselines:
        ordered = with_baselines(names, split)
        models = [*ordered, *[m for m in models if not isinstance(m, str)]]
    result = evaluate_split(models, the_split, k=k, ks=ks, seed=seed, progress=progress)
    result["notes"] = notes + result["notes"]
    return result
