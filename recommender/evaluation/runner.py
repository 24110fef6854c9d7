"""Train every model on a split's training part and score it on the test part, identically.

One code path for all models, and it is the serving path: each model is a registered
`Ranker` whose `recommend` (its scores cut by the one top-k) makes the lists, with
the same users (those with a test interaction), the same excluded items (their
training and validation items, as RecBole does), the same candidates and the same
metrics. The result is a plain dict, so the CLI, the Markdown report and the
notebooks all read one shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from recommender.core.component import Ranker, row_batches
from recommender.core.registry import RANKER_FAMILIES, create
from recommender.data.dataset import Dataset
from recommender.data.leakage import check_no_leakage
from recommender.data.splits import Split
from recommender.errors import RecsysError
from recommender.evaluation.metrics import (
    average_popularity,
    coverage,
    novelty,
    per_user_ranking_metrics,
    user_means,
)

BASELINES = ("random", "pop")
COLD_ITEM_BASELINES = ("tag-pop", "tag-cosine")

# progress(model name, users ranked so far, users to rank)
Progress = Callable[[str, int, int], None]
# prepare(split) -> (the split with its training side adjusted, a one-line note)
Prepare = Callable[[Split], tuple[Split, str]]


def with_baselines(models: Sequence[str], split_name: str) -> list[str]:
    """The requested models after the baselines always reported beside them (no duplicates)."""
    baselines = BASELINES + (COLD_ITEM_BASELINES if split_name == "cold-items" else ())
    ordered = [*baselines, *models]
    return list(dict.fromkeys(ordered))


def tagger_row(name: str, tagger: str) -> str:
    """The row of a model that reads predicted tags, fitted on one tagger's predictions."""
    return f"{name} ({tagger})"


# A model to evaluate: a registered name, a Ranker, or (label, Ranker) to report it as label.
Model = str | Ranker | tuple[str, Ranker]


def _label(model: Model) -> str:
    if isinstance(model, str):
        return model
    return model[0] if isinstance(model, tuple) else model.name


def reads_predicted_tags(model: Model) -> bool:
    """Whether the model's grade depends on the audio-predicted tags it is given."""
    if isinstance(model, str):
        from recommender.core.registry import component_class

        cls = component_class(model, *RANKER_FAMILIES)
        return bool(getattr(cls, "reads_predicted_tags", False))
    ranker = model[1] if isinstance(model, tuple) else model
    return ranker.reads_predicted_tags


def _resolve(model: Model, seed: int) -> Ranker:
    if isinstance(model, tuple):
        return model[1]
    if not isinstance(model, str):
        return model
    from recommender.core.registry import component_class

    component_class(model, *RANKER_FAMILIES)  # a tagger's name is not a model to rank with
    return create(model, seed=seed)


def rank_users(
    ranker: Ranker,
    users: np.ndarray,
    *,
    k: int,
    exclude: sp.csr_matrix,
    candidates: np.ndarray | None,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(top-k item indices of each user, whether the user's k listed scores were all equal).

    A list of equal scores is item order, not the model's choice (CF on cold items).
    """
    top = np.empty((len(users), k), dtype=np.int64)
    tied = np.zeros(len(users), dtype=bool)
    width = ranker.n_items if candidates is None else len(candidates)
    for batch in row_batches(len(users), width, cells=4_000_000):
        rows = users[batch]
        result = ranker.recommend(rows, n=k, exclude=exclude[rows], candidates=candidates)
        top[batch] = result.ids
        listed = np.where(result.ids >= 0, result.scores, np.nan)
        tied[batch] = np.nanmax(listed, axis=1, initial=-np.inf) == np.nanmin(
            listed, axis=1, initial=np.inf
        )
        if on_batch is not None:
            on_batch(batch.stop)
    return top, tied


def evaluate_split(
    models: Sequence[Model],
    split: Split,
    *,
    k: int = 10,
    ks: Sequence[int] | None = None,
    seed: int = 0,
    progress: Progress | None = None,
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
        name = _label(model)
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

            top, constant = rank_users(
                ranker,
                users,
                k=depth,
                exclude=exclude,
                candidates=split.candidates,
                on_batch=on_batch,
            )
            ranked = time.perf_counter()
        except RecsysError as exc:
            entry["error"] = str(exc)
            results.append(entry)
            continue
        metrics: dict[str, float] = {}
        per_user: dict[str, np.ndarray] = {}
        for cutoff in cutoffs:
            head = top[:, :cutoff]
            values = per_user_ranking_metrics(head, relevant, cutoff)
            for metric, mean in user_means(values).items():
                per_user[f"{metric}@{cutoff}"] = values[metric]
                metrics[f"{metric}@{cutoff}"] = mean
            metrics[f"coverage@{cutoff}"] = coverage(head, n_catalogue)
            metrics[f"novelty@{cutoff}"] = novelty(head, item_users, train.n_users)
            metrics[f"avg_popularity@{cutoff}"] = average_popularity(head, item_users)
        entry.update(
            metrics=metrics,
            fit_seconds=round(fitted - started, 3),
            rank_seconds=round(ranked - fitted, 3),
            # share of users whose listed items all scored the same (e.g. CF on cold items):
            # their list is item order, so read those metrics as a tie-break artefact
            constant_score_users=round(float(constant.mean()) if len(constant) else 0.0, 4),
            # each test user's ranking metrics, in `split.test_users` order, for intervals and
            # paired tests (`significance.with_significance` summarises and drops them)
            per_user=per_user,
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
    models: Sequence[Model] = ("pop",),
    k: int = 10,
    ks: Sequence[int] | None = None,
    seed: int = 0,
    baselines: bool = True,
    progress: Progress | None = None,
    split_params: dict[str, Any] | None = None,
    prepare: Prepare | None = None,
    taggers: Mapping[str, Prepare] | None = None,
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

    `taggers` ({label: prepare hook}, instead of `prepare`) compares taggers on one
    split: each model that reads predicted tags (`Ranker.reads_predicted_tags`:
    the tag baselines, content, hybrid) is fitted once per hook, on the split that
    hook prepared, and reported as "model (label)"; every other model once, on the
    split without predicted tags. Rows keep the order of `models`, a model's
    tagger rows in the order of `taggers`.
    """
    from recommender.data.splits import make_split

    the_split = make_split(dataset, split, seed=seed, **(split_params or {}))
    if baselines:
        names = [m for m in models if isinstance(m, str)]
        models = [*with_baselines(names, split), *[m for m in models if not isinstance(m, str)]]
    if taggers:
        if prepare is not None:
            raise ValueError("give either prepare or taggers, not both")
        return _evaluate_taggers(
            models, the_split, taggers, k=k, ks=ks, seed=seed, progress=progress
        )
    notes = []
    if prepare is not None:
        the_split, note = prepare(the_split)
        notes.append(note)
    elif the_split.train.predicted_tags is not None:
        stale = the_split.train.predicted_model_version
        the_split = replace(the_split, train=without_predictions(the_split.train))
        notes.append(
            f"stored predicted tags ({stale}) dropped: their tagger saw every crowd tag, "
            "held-out ones included; pass prepare=leak_free_predicted_tags(engine, seed=...) "
            "to refit it on the split's training tags"
        )
    result = evaluate_split(models, the_split, k=k, ks=ks, seed=seed, progress=progress)
    result["notes"] = notes + result["notes"]
    return result


def without_predictions(dataset: Dataset) -> Dataset:
    """The dataset without anything its tagger learned from every crowd tag (held-out ones
    included): predicted tags, their flags, the CNN's embeddings."""
    return dataset.replace(
        predicted_tags=None,
        predicted_model_version=None,
        predicted_thresholds=None,
        predicted_ood=None,
        item_embeddings=None,
    )


def _evaluate_taggers(
    models: Sequence[Model],
    split: Split,
    taggers: Mapping[str, Prepare],
    *,
    k: int,
    ks: Sequence[int] | None,
    seed: int,
    progress: Progress | None,
) -> dict[str, Any]:
    """`evaluate_dataset`'s per-tagger comparison: one split, tag readers once per tagger."""
    reads = [reads_predicted_tags(model) for model in models]
    readers = [i for i, r in enumerate(reads) if r]
    others = [i for i, r in enumerate(reads) if not r]
    rows: list[list[dict[str, Any]]] = [[] for _ in models]
    sound_rows: list[dict[str, Any]] = []
    without = replace(split, train=without_predictions(split.train))
    kw = {"k": k, "ks": ks, "seed": seed, "progress": progress}
    result = evaluate_split([models[i] for i in others], without, **kw)
    for i, entry in zip(others, result["models"], strict=True):
        rows[i].append(entry)
    notes = []
    for label, prepare in taggers.items():
        prepared, note = prepare(split)
        notes.append(f"{label}: {note}")
        named = [(tagger_row(_label(models[i]), label), _resolve(models[i], seed)) for i in readers]
        if prepared.train.item_embeddings is not None:  # the CNN: rank by sound alone, too
            named.append((tagger_row("audio-cosine", label), create("audio-cosine", seed=seed)))
        scored = evaluate_split(named, prepared, **kw)
        for i, entry in zip(readers, scored["models"][: len(readers)], strict=True):
            rows[i].append(entry)
        sound_rows.extend(scored["models"][len(readers) :])
    result["models"] = [entry for entries in rows for entry in entries] + sound_rows
    result["taggers"] = list(taggers)
    result["notes"] = notes
    return result
