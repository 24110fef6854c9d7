"""Train a tagger on the database's song vectors and labels, evaluate it, store its predictions.

Protocol: labelled tracks are split into train / held-out by track (seeded);
a model fitted on the train part is scored on the held-out part against the
popularity baseline (the reported metrics). The saved model is then refit on
all labelled tracks with the same settings (more data, same recipe), and its
predictions are stored for every track with features, cold-start tracks
included, under a new model version, in one transaction; only then is the
bundle swapped in, so the tagger on disk always has its rows in the database.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, delete, insert, select

from recommender.audio.config import FeatureConfig
from recommender.errors import InputError
from recommender.storage.schema import PredictedTag, Tag
from recommender.tagging.evaluation import (
    TagMetrics,
    best_f1_thresholds,
    held_out_split,
    popularity_scores,
    tag_metrics,
)
from recommender.tagging.features import CodebookConfig, fit_codebook, song_matrix
from recommender.tagging.labels import LabelConfig, LabelMatrix, crowd_labels, curated_labels

MIN_LABELLED_TRACKS = 10
INSERT_CHUNK = 20_000


@dataclass
class TaggerReport:
    model_version: str
    kind: str
    model_dir: str
    label_source: str
    labelled_tracks: int
    train_tracks: int
    test_tracks: int
    predicted_tracks: int
    tags: list[str]
    excluded_tags: dict[str, str]
    held_out: dict[str, Any]  # TagMetrics of the tagger
    baseline: dict[str, Any]  # TagMetrics of the popularity baseline
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _model_version(kind: str, fingerprint: str) -> str:
    # Starts with a UTC timestamp so MAX(model_version) is the newest (Dataset's default).
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")  # one training run, one version
    return f"tagger-{stamp}-{kind}-{fingerprint[:8]}"


def _fingerprint(track_ids: np.ndarray, Y: np.ndarray, summaries: np.ndarray, extra: str) -> str:
    digest = hashlib.sha256(extra.encode())
    for array in (track_ids, Y, summaries):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _tag_ids(conn, names: list[str]) -> list[int]:
    """Database ids of `names`, creating tags a curated label file introduced."""
    existing = dict(conn.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names))).all())
    missing = [n for n in names if n not in existing]
    if missing:
        conn.execute(insert(Tag), [{"name": n} for n in missing])
        existing |= dict(conn.execute(select(Tag.name, Tag.id).where(Tag.name.in_(missing))).all())
    return [existing[n] for n in names]


def store_predictions(
    engine: Engine, model_version: str, track_ids: np.ndarray, tags: list[str], probs: np.ndarray
) -> int:
    """Replace this model version's predicted_tags with `probs` (n_tracks, n_tags), atomically."""
    with engine.begin() as conn:
        tag_ids = _tag_ids(conn, tags)
        conn.execute(delete(PredictedTag).where(PredictedTag.model_version == model_version))
        rows = [
            {
                "track_id": int(t),
                "tag_id": tag_ids[j],
                "model_version": model_version,
                "probability": float(probs[i, j]),
            }
            for i, t in enumerate(track_ids)
            for j in range(len(tags))
        ]
        for start in range(0, len(rows), INSERT_CHUNK):
            conn.execute(insert(PredictedTag), rows[start : start + INSERT_CHUNK])
    return len(track_ids)


def delete_predictions(engine: Engine, model_version: str) -> None:
    """Remove one model version's predicted_tags (a tagger whose bundle was never published)."""
    with engine.begin() as conn:
        conn.execute(delete(PredictedTag).where(PredictedTag.model_version == model_version))


def _labels(engine: Engine, labels_file: Path | None, config: LabelConfig) -> LabelMatrix:
    return (
        curated_labels(engine, labels_file, config) if labels_file else crowd_labels(engine, config)
    )


def train_tagger(
    engine: Engine,
    model_dir: Path,
    *,
    kind: str = "mlp",
    seed: int = 0,
    labels: LabelConfig | None = None,
    labels_file: Path | None = None,
    feature_config: FeatureConfig | None = None,
    codebook: CodebookConfig | None = None,
    test_fraction: float = 0.2,
    tagger_params: dict[str, Any] | None = None,
) -> TaggerReport:
    """Fit, evaluate on held-out tracks, refit on all labelled tracks, save, store predictions."""
    from recommender.audio.store import load_features
    from recommender.tagging.base import make_tagger
    from recommender.tagging.bundle import TaggerBundle

    started = time.perf_counter()
    feature_config = feature_config or FeatureConfig()
    label_config = labels or LabelConfig()
    codebook = codebook or CodebookConfig(seed=seed)
    params = dict(seed=seed) | (tagger_params or {})
    make_tagger(kind, **params)  # fail fast on an unknown kind or parameter

    stored = load_features(engine, feature_config)
    if not len(stored.track_ids):
        raise InputError(
            f"no audio features for extractor {feature_config.extractor_version} in the database; "
            "run `recsys etl audio` first"
        )
    label_matrix = _labels(engine, labels_file, label_config)
    row_of = {int(t): i for i, t in enumerate(stored.track_ids)}
    labelled = [i for i, t in enumerate(label_matrix.track_ids) if int(t) in row_of]
    if len(labelled) < MIN_LABELLED_TRACKS or not label_matrix.tag_names:
        raise InputError(
            f"only {len(labelled)} labelled tracks with audio features and "
            f"{len(label_matrix.tag_names)} "
            f"usable tags (need >= {MIN_LABELLED_TRACKS} tracks and 1 tag; excluded: "
            f"{len(label_matrix.excluded)}); add tags, lower --min-positives/--min-users, "
            "or scan more audio"
        )
    rows = np.array([row_of[int(label_matrix.track_ids[i])] for i in labelled])
    Y = label_matrix.Y[labelled].astype(np.float64)
    summaries = stored.summaries[rows]
    frames = [stored.frames[r] for r in rows]
    tags = label_matrix.tag_names

    train, test = held_out_split(stored.track_ids[rows], test_fraction=test_fraction, seed=seed)
    book = fit_codebook([frames[i] for i in train], codebook)
    tagger = make_tagger(kind, **params).fit(
        song_matrix(summaries[train], [frames[i] for i in train], book), Y[train]
    )
    scores = tagger.predict_proba(song_matrix(summaries[test], [frames[i] for i in test], book))
    held_out: TagMetrics = tag_metrics(Y[test], scores, tags)
    baseline = tag_metrics(Y[test], popularity_scores(Y[train], len(test)), tags)
    thresholds = best_f1_thresholds(Y[test], scores)

    final_book = fit_codebook(frames, codebook)
    final = make_tagger(kind, **params).fit(song_matrix(summaries, frames, final_book), Y)
    fingerprint = _fingerprint(stored.track_ids[rows], Y, summaries, f"{kind}|{params}|{seed}")
    version = _model_version(kind, fingerprint)
    bundle = TaggerBundle(
        feature_config=feature_config,
        codebook=final_book,
        tagger=final,
        tags=tags,
        model_version=version,
        manifest={
            "created_at": datetime.now(UTC).isoformat(),
            "data_fingerprint": fingerprint,
            "labels": asdict(label_config) | {"source": label_matrix.source},
            "codebook_config": asdict(codebook),
            "thresholds": dict(zip(tags, thresholds, strict=True)),
            "excluded_tags": label_matrix.excluded,
            "metrics": {"held_out": held_out.to_dict(), "popularity_baseline": baseline.to_dict()},
            "split": {
                "test_fraction": test_fraction,
                "seed": seed,
                "train": len(train),
                "test": len(test),
            },
        },
    )
    # Predictions first (one transaction), then the bundle: `model_dir` never names a
    # version without stored rows, and a failed save takes its rows back out.
    predicted = store_predictions(
        engine, version, stored.track_ids, tags, bundle.predict(stored.summaries, stored.frames)
    )
    try:
        bundle.save(model_dir)
    except BaseException:
        delete_predictions(engine, version)
        raise
    return TaggerReport(
        model_version=version,
        kind=kind,
        model_dir=str(model_dir),
        label_source=label_matrix.source,
        labelled_tracks=len(rows),
        train_tracks=len(train),
        test_tracks=len(test),
        predicted_tracks=predicted,
        tags=tags,
        excluded_tags=label_matrix.excluded,
        held_out=held_out.to_dict(),
        baseline=baseline.to_dict(),
        seconds=time.perf_counter() - started,
        notes=[f"{label_matrix.skipped_rows} label-file rows skipped"]
        if label_matrix.skipped_rows
        else [],
    )
