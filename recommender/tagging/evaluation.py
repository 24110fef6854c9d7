"""How good are the tags: per-tag ROC-AUC / PR-AUC (macro and micro) on held-out tracks,
and a genre mode (stratified k-fold accuracy) for folders of labelled clips.

All functions take arrays and return plain dataclasses, so notebooks, the
trainer and the benchmark share them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from recommender.tagging.features import CodebookConfig, fit_codebook, song_matrix


@dataclass(frozen=True)
class TagMetrics:
    per_tag: list[dict[str, Any]]  # tag, positives, roc_auc, pr_auc (NaN when one class only)
    macro_roc_auc: float
    macro_pr_auc: float
    micro_roc_auc: float
    micro_pr_auc: float
    n_tracks: int
    n_tags_scored: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tag_metrics(Y_true: np.ndarray, scores: np.ndarray, tag_names: Sequence[str]) -> TagMetrics:
    """Per-tag and averaged ranking metrics; tags with one class in Y_true are left out of means."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    Y_true = np.asarray(Y_true)
    per_tag, rocs, prs = [], [], []
    scorable = []
    for j, name in enumerate(tag_names):
        positives = int(Y_true[:, j].sum())
        roc = pr = float("nan")
        if 0 < positives < Y_true.shape[0]:
            roc = float(roc_auc_score(Y_true[:, j], scores[:, j]))
            pr = float(average_precision_score(Y_true[:, j], scores[:, j]))
            rocs.append(roc)
            prs.append(pr)
            scorable.append(j)
        per_tag.append({"tag": name, "positives": positives, "roc_auc": roc, "pr_auc": pr})
    micro_roc = micro_pr = float("nan")
    if scorable:
        flat_true = Y_true[:, scorable].ravel()
        flat_score = scores[:, scorable].ravel()
        micro_roc = float(roc_auc_score(flat_true, flat_score))
        micro_pr = float(average_precision_score(flat_true, flat_score))
    return TagMetrics(
        per_tag=per_tag,
        macro_roc_auc=float(np.mean(rocs)) if rocs else float("nan"),
        macro_pr_auc=float(np.mean(prs)) if prs else float("nan"),
        micro_roc_auc=micro_roc,
        micro_pr_auc=micro_pr,
        n_tracks=int(Y_true.shape[0]),
        n_tags_scored=len(scorable),
    )


def popularity_scores(Y_train: np.ndarray, n_rows: int) -> np.ndarray:
    """The baseline: every track gets each tag's training frequency."""
    return np.tile(np.asarray(Y_train, dtype=np.float64).mean(axis=0), (n_rows, 1))


def held_out_split(
    groups: np.ndarray, *, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices with every group (a track, or an artist) on one side only."""
    from sklearn.model_selection import GroupShuffleSplit

    splitter = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    train, test = next(splitter.split(np.zeros(len(groups)), groups=groups))
    return np.sort(train), np.sort(test)


def best_f1_thresholds(Y_true: np.ndarray, scores: np.ndarray) -> list[float]:
    """Per tag, the score threshold with the best F1 on held-out data (0.5 when undefined)."""
    from sklearn.metrics import precision_recall_curve

    out = []
    for j in range(Y_true.shape[1]):
        if not 0 < Y_true[:, j].sum() < Y_true.shape[0]:
            out.append(0.5)
            continue
        precision, recall, thresholds = precision_recall_curve(Y_true[:, j], scores[:, j])
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        out.append(float(thresholds[int(np.argmax(f1))]))
    return out


@dataclass(frozen=True)
class GenreScores:
    model: str
    accuracy: float
    macro_roc_auc: float
    fold_accuracy: list[float] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)  # sorted genres: columns below
    per_genre: list[dict[str, Any]] = field(default_factory=list)  # genre, clips, recall, ROC-AUC
    confusion: list[list[int]] = field(default_factory=list)  # [true genre][predicted genre]
    probabilities: list[list[float]] = field(default_factory=list)  # out-of-fold, rows sum to 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def genre_scores(
    name: str, labels: np.ndarray, probs: np.ndarray, fold_acc: list[float]
) -> GenreScores:
    """Scores of out-of-fold probabilities (n_clips, n_genres; columns in sorted genre order)."""
    from sklearn.metrics import confusion_matrix, roc_auc_score

    labels = np.asarray(labels)
    classes = np.unique(labels)
    y = np.searchsorted(classes, labels)
    probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
    guess = probs.argmax(axis=1)
    per_genre = [
        {
            "genre": str(g),
            "clips": int(np.sum(y == j)),
            "recall": float(np.mean(guess[y == j] == j)),
            "roc_auc": float(roc_auc_score(y == j, probs[:, j])),
        }
        for j, g in enumerate(classes)
    ]
    return GenreScores(
        model=name,
        accuracy=float(np.mean(guess == y)),
        macro_roc_auc=float(roc_auc_score(y, probs, multi_class="ovr", average="macro")),
        fold_accuracy=fold_acc,
        classes=[str(g) for g in classes],
        per_genre=per_genre,
        confusion=confusion_matrix(y, guess, labels=np.arange(len(classes))).tolist(),
        probabilities=probs.tolist(),
    )


def genre_folds(labels: np.ndarray, groups: np.ndarray | None, folds: int, seed: int):
    """(train, test) index pairs: stratified k-fold, grouped when `groups` is given."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if groups is None:
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(
            labels, labels
        )
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return splitter.split(labels, labels, groups)


def evaluate_genres(
    summaries: np.ndarray,
    frames: Sequence[np.ndarray],
    labels: Sequence[str],
    *,
    kind: str = "mlp",
    folds: int = 5,
    seed: int = 0,
    codebook: CodebookConfig | None = None,
    groups: np.ndarray | None = None,
    tagger_params: dict[str, Any] | None = None,
) -> GenreScores:
    """Stratified k-fold genre classification with a tagger (one tag per genre, argmax wins).

    The codebook is refit inside each fold on that fold's training frames only.
    Pass `groups` (e.g. artist) to keep a group's clips in one fold.
    """
    from recommender.core.registry import create

    labels = np.asarray(labels)
    classes = np.unique(labels)
    onehot = (labels[:, None] == classes[None, :]).astype(np.float64)
    codebook = codebook or CodebookConfig(seed=seed)
    probs = np.zeros_like(onehot)
    fold_acc = []
    for train, test in genre_folds(labels, groups, folds, seed):
        book = fit_codebook([frames[i] for i in train], codebook)
        X_train = song_matrix(summaries[train], [frames[i] for i in train], book)
        X_test = song_matrix(summaries[test], [frames[i] for i in test], book)
        tagger = create(kind, seed=seed, **(tagger_params or {})).fit(X_train, onehot[train])
        probs[test] = tagger.predict_proba(X_test)
        fold_acc.append(float(np.mean(probs[test].argmax(axis=1) == onehot[test].argmax(axis=1))))
    return genre_scores(kind, labels, probs, fold_acc)


def evaluate_logistic_baseline(
    X: np.ndarray,
    labels: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> GenreScores:
    """The reference: standardised multinomial logistic regression on fixed features, same folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray(labels)
    classes = np.unique(labels)
    probs = np.zeros((len(labels), len(classes)))
    fold_acc = []
    for train, test in genre_folds(labels, groups, folds, seed):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        model.fit(X[train], labels[train])
        probs[test] = model.predict_proba(X[test])
        fold_acc.append(float(np.mean(classes[probs[test].argmax(axis=1)] == labels[test])))
    return genre_scores("logistic-baseline", labels, probs, fold_acc)
