"""Audio-predicted tags that a split may use: a tagger refit on the split's training tags only.

The stored predictions come from a tagger fitted on every crowd tag, including
the tags that held-out listeners gave held-out (e.g. cold) items, so a content
model reading them would be graded on labels it has already seen. Here the
tagger (the audio engineer's `recommender.tagging` models and features) is
refit on the training tag events of the split and predicts every track with
stored audio features; the split's training Dataset gets those predictions, and
the out-of-distribution flags of a novelty detector fitted on the same labelled
tracks' inputs (as `recsys train tagger` stores them).

Every caller names the tagger by its registry `kind` and reaches it through
`refit_predicted_tags`, the one place a tagger is refit on a split; the CNN,
which learns from spectrograms rather than stored song vectors, plugs in there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Engine

from recommender.data.splits import Split
from recommender.services.audio_steps import no_audio_features
from recommender.services.tagger_training import CNN, check_kind

MIN_POSITIVES = 5  # as the tagger's own LabelConfig: rarer tags cannot be learned
REFIT_VERSION_PREFIX = "split-refit-"


def leak_free_predicted_tags(
    engine: Engine, *, seed: int = 0, kind: str = "linear"
) -> Callable[[Split], tuple[Split, str]]:
    """The `prepare` hook of `evaluate_dataset`: refit the tagger on each split's training tags.

    One hook for `recsys evaluate` and the validation of `recsys train`, so both
    grade content models on predicted tags learned without the held-out labels.
    `kind` is a tagger kind (`linear`, `mlp`, `lightgbm`, `cnn`).
    """
    check_kind(kind)  # an unknown kind fails now, naming the choices

    def prepare(split: Split) -> tuple[Split, str]:
        return refit_predicted_tags(engine, split, kind=kind, seed=seed)

    return prepare


def require_features(engine: Engine) -> None:
    """An InputError unless the database holds audio features a tagger can be refit on."""
    from recommender.services.audio_features import load_summaries

    if not len(load_summaries(engine)[0]):
        raise no_audio_features(engine, "to refit a tagger on (--taggers)")


def keep_predicted_tags(reason: str) -> Callable[[Split], tuple[Split, str]]:
    """A `prepare` hook that keeps the dataset's predicted tags, saying why in the notes.

    Only for predictions that never saw the held-out labels (synthetic ones, or a
    tagger trained on an independent curated label file): `evaluate_dataset`
    drops predicted tags unless a hook says what to do with them.
    """

    def prepare(split: Split) -> tuple[Split, str]:
        return split, f"predicted tags kept: {reason}"

    return prepare


def refit_predicted_tags(
    engine: Engine,
    split: Split,
    *,
    kind: str = "linear",
    seed: int = 0,
    tagger_params: dict[str, Any] | None = None,
) -> tuple[Split, str]:
    """(split with leak-free predicted tags, a one-line note of what was done).

    Labels: a track is positive for a tag when a training user applied it; only
    tracks someone tagged in training are labelled. Tracks without stored audio
    features get no predicted tags. Without features at all, the stored
    predictions are dropped rather than used, and the note says so.
    """
    from recommender.services.audio_features import load_features

    check_kind(kind)
    train = split.train
    stored = load_features(engine, with_frames=kind != CNN)
    rows = train.items.indices(stored.external_ids)
    known = rows >= 0
    if not known.any():
        return _cleared(split), (
            "stored predicted tags dropped: no audio features to refit the tagger on training tags"
        )
    items = rows[known]
    labels = (train.item_tag_counts()[items] > 0).toarray()
    labelled = labels.any(axis=1)
    tags = np.flatnonzero(labels[labelled].sum(axis=0) >= MIN_POSITIVES)
    if labelled.sum() < 2 * MIN_POSITIVES or not len(tags):
        return _cleared(split), (
            "stored predicted tags dropped: too few training tags to refit the tagger"
        )
    Y = labels[labelled][:, tags].astype(np.float64)
    embeddings = None
    if kind == CNN:
        probabilities, in_distribution, sound = _cnn_fit_and_predict(
            engine, stored.track_ids[known], labelled, Y, seed=seed, params=tagger_params
        )
        embeddings = np.zeros((train.n_items, sound.shape[1]), dtype=np.float32)
        embeddings[items] = sound
    else:
        summaries = stored.summaries[known]
        frames = [f for f, keep in zip(stored.frames, known, strict=True) if keep]
        probabilities, in_distribution = _fit_and_predict(
            kind, summaries, frames, labelled, Y, seed=seed, params=tagger_params
        )
    ood = np.zeros(train.n_items, dtype=bool)
    ood[items] = ~in_distribution

    rr, cc = np.meshgrid(items, tags, indexing="ij")
    predicted = sp.csr_matrix(
        (probabilities.ravel(), (rr.ravel(), cc.ravel())), shape=(train.n_items, len(train.tags))
    )
    version = f"{REFIT_VERSION_PREFIX}{kind}-seed{seed}"
    note = (
        f"predicted tags refit on training tags only ({kind} tagger, "
        f"{int(labelled.sum())} labelled "
        f"tracks, {len(tags)} tags, {len(items)} tracks predicted, "
        f"{int(ood.sum())} out of distribution)"
    )
    return replace(
        split,
        train=train.replace(
            predicted_tags=predicted,
            predicted_model_version=version,
            predicted_thresholds=None,  # those of the stored tagger, not of this refit
            predicted_ood=ood,
            item_embeddings=embeddings,
        ),
    ), note


def _cleared(split: Split) -> Split:
    """The split without predicted tags (none can be learned leak-free)."""
    return replace(
        split,
        train=split.train.replace(
            predicted_tags=None,
            predicted_model_version=None,
            predicted_thresholds=None,
            predicted_ood=None,
            item_embeddings=None,
        ),
    )


def _fit_and_predict(
    kind: str,
    summaries: np.ndarray,
    frames: list[np.ndarray],
    labelled: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int,
    params: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(float32 (tracks, tags), in-distribution (tracks,)): a `kind` tagger fitted on the
    `labelled` tracks' song vectors (codebook from those tracks only) and `labels`,
    predicting every track, and a novelty detector on the same vectors."""
    from recommender.core.registry import create
    from recommender.tagging.features import CodebookConfig, fit_codebook, song_matrix
    from recommender.tagging.novelty import NoveltyConfig, NoveltyDetector

    codebook = fit_codebook(
        [frames[i] for i in np.flatnonzero(labelled)], CodebookConfig(seed=seed)
    )
    features = song_matrix(summaries, frames, codebook)
    tagger = create(kind, seed=seed, **(params or {})).fit(features[labelled], labels)
    novelty = NoveltyDetector(NoveltyConfig(seed=seed)).fit(features[labelled])
    return (
        np.asarray(tagger.predict_proba(features), dtype=np.float32),
        novelty.in_distribution(novelty.score(features)),
    )


def _cnn_fit_and_predict(
    engine: Engine,
    track_ids: np.ndarray,
    labelled: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int,
    params: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same for the CNN, from the spectrograms of tracks `track_ids` (database ids),
    with its embeddings (tracks, dim) as well.

    A track whose audio no longer decodes gets no predictions (zeros) and counts as out of
    distribution. The CNN trains for the epochs its own validation share chooses.
    """
    from recommender.services.tagger_recipes import cnn_recipe

    recipe = cnn_recipe(engine, seed=seed, tagger_params=params, track_ids=track_ids)
    position = {int(t): i for i, t in enumerate(recipe.track_ids)}
    where = np.array([position.get(int(t), -1) for t in track_ids])
    fit_rows = np.array([where[i] for i in np.flatnonzero(labelled) if where[i] >= 0])
    fit_labels = labels[[j for j, i in enumerate(np.flatnonzero(labelled)) if where[i] >= 0]]
    model = recipe.fit(fit_rows, fit_labels, [str(j) for j in range(labels.shape[1])])
    probs, sound = recipe.predict(model), recipe.embeddings(model)
    flags = recipe.novelty(model).in_distribution
    decoded = where >= 0
    out = np.zeros((len(track_ids), labels.shape[1]), dtype=np.float32)
    out[decoded] = probs[where[decoded]]
    embeddings = np.zeros((len(track_ids), sound.shape[1]), dtype=np.float32)
    embeddings[decoded] = sound[where[decoded]]
    in_distribution = np.zeros(len(track_ids), dtype=bool)
    in_distribution[decoded] = flags[where[decoded]]
    return out, in_distribution, embeddings
