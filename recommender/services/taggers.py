"""Train a tagger on the database's song vectors and labels, evaluate it, store its predictions.

Protocol: labelled tracks are split into train / held-out by track (seeded);
a model fitted on the train part is scored on the held-out part against the
popularity baseline (the reported metrics). The saved model is then refit on
all labelled tracks with the same settings (more data, same recipe), and its
predictions are stored for every track with features, cold-start tracks
included, under a new model version, in one transaction; only then is the
bundle published as the current tagger (models/tagger/<version>), so the current
tagger always has its rows in the database.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine, delete, insert, select

from recommender.audio.config import FeatureConfig
from recommender.core.registry import component_class
from recommender.errors import AudioDecodeError, InputError
from recommender.services.bundles import TAGGER, publish, write_version
from recommender.services.labels import LabelConfig, LabelMatrix, crowd_labels, curated_labels
from recommender.services.novelty import TrackScores, delete_novelty, score_tracks, store_novelty
from recommender.storage.schema import PredictedTag, Tag
from recommender.tagging.evaluation import (
    TagMetrics,
    best_f1_thresholds,
    held_out_split,
    popularity_scores,
    tag_metrics,
)
from recommender.tagging.features import CodebookConfig

if TYPE_CHECKING:
    from recommender.tagging.pipeline import TaggerPipeline

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
    novelty: dict[str, Any] | None = None  # threshold and tracks flagged out of distribution

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
    engine: Engine,
    model_version: str,
    track_ids: np.ndarray,
    tags: list[str],
    probs: np.ndarray,
    *,
    novelty: TrackScores | None = None,
) -> int:
    """Replace this model version's predicted_tags with `probs` (n_tracks, n_tags), and its
    out-of-distribution flags with `novelty` (services.novelty), atomically."""
    with engine.begin() as conn:
        if novelty is not None:
            store_novelty(conn, model_version, track_ids, novelty)
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
        delete_novelty(conn, model_version)


def _labels(engine: Engine, labels_file: Path | None, config: LabelConfig) -> LabelMatrix:
    return (
        curated_labels(engine, labels_file, config) if labels_file else crowd_labels(engine, config)
    )


def train_tagger(
    engine: Engine,
    models_dir: Path,
    *,
    kind: str = "mlp",
    seed: int = 0,
    labels: LabelConfig | None = None,
    labels_file: Path | None = None,
    feature_config: FeatureConfig | None = None,
    codebook: CodebookConfig | None = None,
    test_fraction: float = 0.2,
    tagger_params: dict[str, Any] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> TaggerReport:
    """Fit, evaluate on held-out tracks, refit on all labelled tracks, store predictions,
    publish the bundle."""
    from recommender.core.registry import Spec
    from recommender.services.audio_features import load_features
    from recommender.tagging.pipeline import PipelineConfig, TaggerPipeline

    started = time.perf_counter()
    component_class(kind, "tagger")  # an unknown kind is a usage error before any work
    config = PipelineConfig(
        tagger=Spec.of(kind, **(tagger_params or {})),
        codebook=codebook or CodebookConfig(),
        features=feature_config or FeatureConfig(),
    ).with_seed(seed)
    label_config = labels or LabelConfig()
    if on_step is not None:
        on_step("training the audio tagger")

    stored = load_features(engine, config.features)
    if not len(stored.track_ids):
        raise InputError(
            f"no audio features for extractor {config.features.extractor_version} in the"
            " database; run `recsys etl audio` first"
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
    held = TaggerPipeline(config).fit(summaries[train], [frames[i] for i in train], Y[train], tags)
    scores = held.predict(summaries[test], [frames[i] for i in test])
    held_out: TagMetrics = tag_metrics(Y[test], scores, tags)
    baseline = tag_metrics(Y[test], popularity_scores(Y[train], len(test)), tags)

    final = TaggerPipeline(config).fit(summaries, frames, Y, tags)
    final.thresholds = dict(zip(tags, best_f1_thresholds(Y[test], scores), strict=True))
    fingerprint = _fingerprint(
        stored.track_ids[rows], Y, summaries, json.dumps(config.to_dict(), sort_keys=True)
    )
    final.model_version = version = _model_version(kind, fingerprint)
    manifest = {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(),
        "data_fingerprint": fingerprint,
        "labels": asdict(label_config) | {"source": label_matrix.source},
        "excluded_tags": label_matrix.excluded,
        "metrics": {"held_out": held_out.to_dict(), "popularity_baseline": baseline.to_dict()},
        "split": {
            "test_fraction": test_fraction,
            "seed": seed,
            "train": len(train),
            "test": len(test),
        },
    }
    # Predictions first (one transaction), then the bundle, then the pointer: the current
    # tagger never names a version without stored rows, and a failed save takes them out.
    # out-of-distribution flags, stored with the predictions (services.novelty)
    novelty = score_tracks(final, stored.summaries, stored.frames)
    manifest["novelty"] = novelty.summary() if novelty else None
    predicted = store_predictions(
        engine,
        version,
        stored.track_ids,
        tags,
        final.predict(stored.summaries, stored.frames),
        novelty=novelty,
    )
    try:
        path = write_version(models_dir, TAGGER, version, final, manifest)
        publish(models_dir, TAGGER, version)
    except BaseException:
        delete_predictions(engine, version)
        raise
    return TaggerReport(
        model_version=version,
        kind=kind,
        model_dir=str(path),
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
        novelty=manifest["novelty"],
    )


@dataclass
class TaggedFiles:
    model_version: str
    # {"file", "tags": [{"tag", "probability", "predicted"}], "novelty", "in_distribution"}
    results: list[dict[str, Any]]
    failures: list[AudioDecodeError]  # files that could not be decoded, in order
    novelty_threshold: float | None = None  # None: a tagger from before novelty detection


def tag_files(models_dir: Path, files: list[Path], *, top: int = 5) -> TaggedFiles:
    """The current tagger's `top` tags for each file; undecodable files are collected, not
    raised, so the others are still tagged."""
    from recommender.services.bundles import current_tagger

    pipeline = current_tagger(models_dir)
    results, failures = [], []
    for file in files:
        try:
            tagged = tag_file(pipeline, file, top=top)
        except AudioDecodeError as exc:
            failures.append(exc)
            continue
        results.append({"file": str(file), **tagged})
    threshold = None if pipeline.novelty is None else round(pipeline.novelty.threshold, 4)
    return TaggedFiles(pipeline.model_version, results, failures, threshold)


def tag_file(pipeline: TaggerPipeline, path: Path, *, top: int = 5) -> dict[str, Any]:
    """The `top` most likely tags of one audio file, each with its probability and whether
    it passes the tag's threshold, and the file's novelty and whether it is within the
    tagger's training distribution (both None for a tagger from before novelty detection);
    AudioDecodeError for a file that is not audio."""
    result = pipeline.tag_file(path)
    tags = [
        {
            "tag": tag,
            "probability": round(p, 4),
            "predicted": p >= pipeline.thresholds.get(tag, 0.5),
        }
        for tag, p in list(result.tags.items())[:top]
    ]
    novelty = None if result.novelty is None else round(result.novelty, 4)
    return {"tags": tags, "novelty": novelty, "in_distribution": result.in_distribution}
