"""Train a tagger on the database's audio and labels, evaluate it, store its predictions.

Song-vector taggers read the stored features; the CNN decodes each track's audio
into spectrograms (`tagger_recipes`); everything below is the same for both.

Protocol: labelled tracks are split into train / held-out by track (seeded);
a model fitted on the train part is scored on the held-out part against the
popularity baseline (the reported metrics). The saved model is then refit on
all labelled tracks with the same settings (more data, same recipe), and its
predictions are stored for every track with features, cold-start tracks
included (with the CNN's embeddings), under a new model version, in one
transaction; only then is the bundle published as the current tagger
(models/tagger/<version>), so the current tagger always has its rows in the database.
`recsys train` leaves the publishing to the recommender's commit (`services.bundles`);
`prune_predictions` drops the rows of tagger versions whose bundles are gone.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, delete, insert, select

from recommender.audio.config import FeatureConfig
from recommender.core.process import fault_point
from recommender.errors import InputError
from recommender.services.bundles import TAGGER, lease, publish, tidy, write_version
from recommender.services.labels import LabelConfig, LabelMatrix, crowd_labels, curated_labels
from recommender.services.novelty import TrackScores, delete_novelty, store_novelty
from recommender.services.tagger_kinds import CNN, check_kind
from recommender.storage.schema import PredictedTag, Tag, Track, TrackFeatures
from recommender.tagging.evaluation import (
    TagMetrics,
    best_f1_thresholds,
    held_out_split,
    popularity_scores,
    tag_metrics,
)
from recommender.tagging.features import CodebookConfig

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


def _fingerprint(track_ids: np.ndarray, Y: np.ndarray, inputs: bytes, extra: str) -> str:
    digest = hashlib.sha256(extra.encode())
    for array in (track_ids, Y):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(inputs)
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
    embeddings: np.ndarray | None = None,
    novelty: TrackScores | None = None,
) -> int:
    """Replace this model version's predicted_tags with `probs` (n_tracks, n_tags), its
    embeddings (n_tracks, dim) if it has them, and its out-of-distribution flags with
    `novelty` (services.novelty), atomically."""
    from recommender.services.audio_features import embedding_version, to_bytes

    with engine.begin() as conn:
        _delete_version(conn, model_version)
        if novelty is not None:
            store_novelty(conn, model_version, track_ids, novelty)
        tag_ids = _tag_ids(conn, tags)
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
        if embeddings is not None:
            key = embedding_version(model_version)
            # every track's checksum: an IN list of a large catalogue exceeds SQLite's limits
            audio = dict(conn.execute(select(Track.id, Track.checksum)).all())
            conn.execute(
                insert(TrackFeatures),
                [
                    {
                        "track_id": int(t),
                        "extractor_version": key,
                        "checksum": audio.get(int(t)) or "",  # of the audio it describes
                        "dim": int(embeddings.shape[1]),
                        "vector": to_bytes(embeddings[i][None, :]),
                    }
                    for i, t in enumerate(track_ids)
                ],
            )
    return len(track_ids)


def delete_predictions(engine: Engine, model_version: str) -> None:
    """Remove one model version's predicted_tags and embeddings (a tagger whose bundle was
    never published)."""
    with engine.begin() as conn:
        _delete_version(conn, model_version)


def prune_predictions(engine: Engine, keep: set[str]) -> list[str]:
    """Delete the predicted_tags, novelty flags and embeddings of every tagger version not
    in `keep` (the versions whose bundles exist: `services.bundles.tidy`); returns them."""
    from recommender.storage.schema import TrackNovelty

    with engine.connect() as conn:
        stored = set(conn.execute(select(PredictedTag.model_version).distinct()).scalars())
        stored |= set(conn.execute(select(TrackNovelty.model_version).distinct()).scalars())
    gone = sorted(stored - keep)
    if gone:
        with engine.begin() as conn:
            for version in gone:
                _delete_version(conn, version)
    return gone


def tidy_models(engine: Engine, models_dir: Path) -> None:
    """What every training run does first and last: clear killed runs' leftovers, apply
    retention to bundles, and keep only the predictions of tagger bundles that remain."""
    prune_predictions(engine, tidy(models_dir))


def _delete_version(conn, model_version: str) -> None:
    from recommender.services.audio_features import embedding_version

    conn.execute(delete(PredictedTag).where(PredictedTag.model_version == model_version))
    delete_novelty(conn, model_version)
    conn.execute(
        delete(TrackFeatures).where(
            TrackFeatures.extractor_version == embedding_version(model_version)
        )
    )


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
    make_current: bool = True,
) -> TaggerReport:
    """Fit, evaluate on held-out tracks, refit on all labelled tracks, store predictions,
    publish the bundle (unless `make_current` is False: `recsys train` publishes it with
    the recommender bundle that names it)."""
    check_kind(kind)
    with lease(models_dir) as claims:
        if make_current:
            tidy_models(engine, models_dir)
        return _train_tagger(
            engine,
            models_dir,
            claims,
            kind=kind,
            seed=seed,
            labels=labels,
            labels_file=labels_file,
            feature_config=feature_config,
            codebook=codebook,
            test_fraction=test_fraction,
            tagger_params=tagger_params,
            on_step=on_step,
            make_current=make_current,
        )


def _train_tagger(
    engine: Engine,
    models_dir: Path,
    claims,
    *,
    kind: str,
    seed: int,
    labels: LabelConfig | None,
    labels_file: Path | None,
    feature_config: FeatureConfig | None,
    codebook: CodebookConfig | None,
    test_fraction: float,
    tagger_params: dict[str, Any] | None,
    on_step: Callable[[str], None] | None,
    make_current: bool,
) -> TaggerReport:
    from recommender.services.tagger_recipes import cnn_recipe, feature_recipe

    started = time.perf_counter()
    label_config = labels or LabelConfig()
    if on_step is not None:
        on_step("training the audio tagger" if kind != CNN else "training the CNN tagger")
    recipe = (
        cnn_recipe(engine, seed=seed, tagger_params=tagger_params)
        if kind == CNN
        else feature_recipe(
            engine,
            kind,
            seed=seed,
            feature_config=feature_config,
            codebook=codebook,
            tagger_params=tagger_params,
        )
    )
    label_matrix = _labels(engine, labels_file, label_config)
    row_of = {int(t): i for i, t in enumerate(recipe.track_ids)}
    labelled = [i for i, t in enumerate(label_matrix.track_ids) if int(t) in row_of]
    if len(labelled) < MIN_LABELLED_TRACKS or not label_matrix.tag_names:
        excluded = "; ".join(f"{t}: {why}" for t, why in list(label_matrix.excluded.items())[:3])
        raise InputError(
            f"only {len(labelled):,} labelled tracks with audio features and "
            f"{len(label_matrix.tag_names):,} usable tags (need >= {MIN_LABELLED_TRACKS} tracks"
            f" and 1 tag; {len(label_matrix.excluded):,} tags left out{': ' if excluded else ''}"
            f"{excluded}); give your own labels with --labels FILE (columns track,tag), add"
            " tags, lower --min-positives/--min-users, or load and scan more audio"
            " (`recsys etl csv --catalogue FILE`, `recsys etl audio`)"
        )
    rows = np.array([row_of[int(label_matrix.track_ids[i])] for i in labelled])
    Y = label_matrix.Y[labelled].astype(np.float64)
    tags = label_matrix.tag_names

    train, test = held_out_split(recipe.track_ids[rows], test_fraction=test_fraction, seed=seed)
    held = recipe.fit(rows[train], Y[train], tags)
    scores = recipe.predict(held, rows[test])
    held_out: TagMetrics = tag_metrics(Y[test], scores, tags)
    baseline = tag_metrics(Y[test], popularity_scores(Y[train], len(test)), tags)

    final = recipe.fit(rows, Y, tags, like=held)
    final.thresholds = dict(zip(tags, best_f1_thresholds(Y[test], scores), strict=True))
    fingerprint = _fingerprint(recipe.track_ids[rows], Y, recipe.digest(rows), recipe.describe())
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
    if kind == CNN:
        manifest["training"] = {"held_out_run": held.training, "final_run": final.training}
    # Predictions first (one transaction), then the bundle, then the pointer: the current
    # tagger never names a version without stored rows, and a failed save takes them out.
    novelty = recipe.novelty(final)  # out-of-distribution flags, stored with the predictions
    manifest["novelty"] = novelty.summary()
    claims.claim(version)  # a concurrent run's tidy must not take these rows meanwhile
    predicted = store_predictions(
        engine,
        version,
        recipe.track_ids,
        tags,
        recipe.predict(final),
        embeddings=recipe.embeddings(final),
        novelty=novelty,
    )
    fault_point("tagger-stored")  # rows committed, no bundle yet
    try:
        path = write_version(models_dir, TAGGER, version, final, manifest)
        if make_current:
            publish(models_dir, TAGGER, version)
    except BaseException:
        delete_predictions(engine, version)
        raise
    notes = list(recipe.notes)
    if label_matrix.skipped_rows:
        notes.append(f"{label_matrix.skipped_rows} label-file rows skipped")
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
        notes=notes,
        novelty=manifest["novelty"],
    )
