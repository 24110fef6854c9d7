"""The CNN's genre mode: the feature taggers' k-fold genre evaluation, on spectrograms.

`evaluate_cnn_genres` uses the folds of `evaluation.evaluate_genres` (stratified,
grouped when groups are given), trains the CNN on each fold's training clips (its
own validation share of them picks the epoch) and scores the fold's test clips
through ONNX Runtime, as a served model would. It returns the same `GenreScores`
plus what a small data set needs to be read honestly: each fold's loss curves and
the training and inference times. `ensemble_genres` averages the out-of-fold
probabilities of several models (e.g. the CNN and the two-layer perceptron).

Trains with PyTorch (the `cnn` extra).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from recommender.tagging.cnn.model import CNNConfig
from recommender.tagging.evaluation import GenreScores, genre_folds, genre_scores


@dataclass(frozen=True)
class CNNGenreScores:
    scores: GenreScores  # accuracy, macro ROC-AUC, per genre, confusion, out-of-fold probs
    folds: list[dict[str, Any]] = field(default_factory=list)
    # per fold: train/test clips, accuracy, epochs_run, best_epoch, train_loss (augmented
    # random crops, per chunk), validation_loss (whole held-back training clips, per
    # clip), train_seconds (fit + ONNX export), inference_seconds, test_audio_seconds
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def train_seconds(self) -> float:
        return float(sum(f["train_seconds"] for f in self.folds))

    @property
    def inference_seconds(self) -> float:
        return float(sum(f["inference_seconds"] for f in self.folds))

    @property
    def inference_speed(self) -> float:
        """Audio seconds scored per wall second (spectrogram in, probabilities out)."""
        audio = sum(f["test_audio_seconds"] for f in self.folds)
        return audio / max(self.inference_seconds, 1e-12)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "train_seconds": self.train_seconds,
            "inference_seconds": self.inference_seconds,
            "inference_speed": self.inference_speed,
        }


def evaluate_cnn_genres(
    mels: Sequence[np.ndarray],
    labels: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    groups: np.ndarray | None = None,
    config: CNNConfig | None = None,
    on_fold: Callable[[int, dict[str, Any]], None] | None = None,
) -> CNNGenreScores:
    """Stratified (grouped) k-fold genre classification with the CNN, one tag per genre.

    `mels`: one log-mel spectrogram (n_mels, frames) per clip, from `mel.mel_file` with
    `config.mel`. The folds are exactly those `evaluate_genres` uses for the same
    labels, groups, folds and seed, so the out-of-fold probabilities can be averaged.
    """
    from recommender.tagging.cnn.train import train_cnn

    config = (config or CNNConfig()).with_seed(seed)
    labels = np.asarray(labels)
    classes = np.unique(labels)
    onehot = (labels[:, None] == classes[None, :]).astype(np.float64)
    seconds_per_frame = config.mel.hop_length / config.mel.sr
    probs = np.zeros_like(onehot)
    fold_acc, fold_info = [], []
    for k, (train, test) in enumerate(genre_folds(labels, groups, folds, seed)):
        started = time.perf_counter()
        tagger = train_cnn([mels[i] for i in train], onehot[train], list(classes), config)
        trained = time.perf_counter()
        probs[test] = tagger.predict_mels([mels[i] for i in test])[0]
        scored = time.perf_counter()
        fold_acc.append(float(np.mean(probs[test].argmax(axis=1) == onehot[test].argmax(axis=1))))
        info = {
            "fold": k,
            "train_clips": int(len(train)),
            "test_clips": int(len(test)),
            "accuracy": fold_acc[-1],
            **{
                key: tagger.training[key]
                for key in ("epochs_run", "best_epoch", "train_loss", "validation_loss")
            },
            "train_seconds": trained - started,
            "inference_seconds": scored - trained,
            "test_audio_seconds": float(sum(mels[i].shape[1] for i in test) * seconds_per_frame),
        }
        fold_info.append(info)
        if on_fold is not None:
            on_fold(k, info)
    return CNNGenreScores(
        scores=genre_scores("cnn", labels, probs, fold_acc),
        folds=fold_info,
        config=config.to_dict(),
    )


def ensemble_genres(
    labels: Sequence[str], members: Sequence[GenreScores], *, name: str = ""
) -> GenreScores:
    """The mean of members' out-of-fold probabilities, scored like any of them.

    Members must come from the same folds (same labels, groups, folds and seed); the
    per-fold accuracies are not kept (only the pooled ones are comparable).
    """
    if not members or any(not m.probabilities for m in members):
        raise ValueError("ensemble_genres needs members with out-of-fold probabilities")
    if len({tuple(m.classes) for m in members}) != 1:
        raise ValueError("ensemble members disagree on the genres")
    mean = np.mean([np.asarray(m.probabilities) for m in members], axis=0)
    return genre_scores(name or " + ".join(m.model for m in members), labels, mean, [])
