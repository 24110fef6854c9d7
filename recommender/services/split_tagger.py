"""Audio-predicted tags that a split may use: a tagger refit on the split's training tags only.

The stored predictions come from a tagger fitted on every crowd tag, including
the tags that held-out listeners gave held-out (e.g. cold) items, so a content
model reading them would be graded on labels it has already seen. Here the
tagger (the audio engineer's `recommender.tagging` models and features) is
refit on the training tag events of the split and predicts every track with
stored audio features; the split's training Dataset gets those predictions.

Every caller names the tagger by its registry `kind` and reaches it through
`refit_predicted_tags`, the one place a tagger is refit on a split: a tagger
that learns from audio rather than stored song vectors plugs in there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Engine

from recommender.core.registry import component_class
from recommender.data.splits import Split
from recommender.errors import InputError

MIN_POSITIVES = 5  # as the tagger's own LabelConfig: rarer tags cannot be learned
REFIT_VERSION_PREFIX = "split-refit-"


def leak_free_predicted_tags(
    engine: Engine, *, seed: int = 0, kind: str = "linear"
) -> Callable[[Split], tuple[Split, str]]:
    """The `prepare` hook of `evaluate_dataset`: refit the tagger on each split's training tags.

    One hook for `recsys evaluate` and the validation of `recsys train`, so both
    grade content models on predicted tags learned without the held-out labels.
    `kind` is a registered tagger (`linear`, `mlp`, `lightgbm`, ...).
    """
    component_class(kind, "tagger")  # an unknown kind fails now, naming the choices

    def prepare(split: Split) -> tuple[Split, str]:
        return refit_predicted_tags(engine, split, kind=kind, seed=seed)

    return prepare


def require_features(engine: Engine) -> None:
    """An InputError unless the database holds audio features a tagger can be refit on."""
    from recommender.services.audio_features import load_summaries

    if not len(load_summaries(engine)[0]):
        raise InputError(
            "--taggers: no audio features to refit a tagger on; run `recsys etl audio` first"
        )


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
    engine: Engine, split: Split, *, kind: str = "linear", seed: int = 0
) -> tuple[Split, str]:
    """(split with leak-free predicted tags, a one-line note of what was done).

    Labels: a track is positive for a tag when a training user applied it; only
    tracks someone tagged in training are labelled. Tracks without stored audio
    features get no predicted tags. Without features at all, the stored
    predictions are dropped rather than used, and the note says so.
    """
    from recommender.services.audio_features import load_features

    component_class(kind, "tagger")
    train = split.train
    stored = load_features(engine)
    rows = train.items.indices(stored.external_ids)
    known = rows >= 0
    if not known.any():
        cleared = replace(
            split, train=train.replace(predicted_tags=None, predicted_model_version=None)
        )
        return (
            cleared,
            "stored predicted tags dropped: no audio features to refit the tagger on training tags",
        )
    items = rows[known]
    summaries = stored.summaries[known]
    frames = [f for f, keep in zip(stored.frames, known, strict=True) if keep]

    labels = (train.item_tag_counts()[items] > 0).toarray()
    labelled = labels.any(axis=1)
    tags = np.flatnonzero(labels[labelled].sum(axis=0) >= MIN_POSITIVES)
    if labelled.sum() < 2 * MIN_POSITIVES or not len(tags):
        cleared = replace(
            split, train=train.replace(predicted_tags=None, predicted_model_version=None)
        )
        return cleared, "stored predicted tags dropped: too few training tags to refit the tagger"
    probabilities = _fit_and_predict(
        kind, summaries, frames, labelled, labels[labelled][:, tags], seed=seed
    )

    rr, cc = np.meshgrid(items, tags, indexing="ij")
    predicted = sp.csr_matrix(
        (probabilities.ravel(), (rr.ravel(), cc.ravel())), shape=(train.n_items, len(train.tags))
    )
    version = f"{REFIT_VERSION_PREFIX}{kind}-seed{seed}"
    note = (
        f"predicted tags refit on training tags only ({kind} tagger, "
        f"{int(labelled.sum())} labelled "
        f"tracks, {len(tags)} tags, {len(items)} tracks predicted)"
    )
    return replace(
        split, train=train.replace(predicted_tags=predicted, predicted_model_version=version)
    ), note


def _fit_and_predict(
    kind: str,
    summaries: np.ndarray,
    frames: list[np.ndarray],
    labelled: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int,
) -> np.ndarray:
    """float32 (tracks, tags): a `kind` tagger fitted on the `labelled` tracks' song
    vectors (codebook from those tracks only) and `labels`, predicting every track."""
    from recommender.core.registry import create
    from recommender.tagging.features import CodebookConfig, fit_codebook, song_matrix

    codebook = fit_codebook(
        [frames[i] for i in np.flatnonzero(labelled)], CodebookConfig(seed=seed)
    )
    features = song_matrix(summaries, frames, codebook)
    tagger = create(kind, seed=seed).fit(features[labelled], labels.astype(np.float64))
    return np.asarray(tagger.predict_proba(features), dtype=np.float32)
