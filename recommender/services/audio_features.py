"""Song vectors in the database: float32 bytes in `track_features`, two rows per track.

Row `extractor_version` holds the summary vector (dim = its length); row
`frames_version` holds the frame sample, flattened row-major (dim = frame_dim,
n_frames = len(bytes) / 4 / dim). Other models (cold-start) read the summary
rows through `load_summaries`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, select

from recommender.audio.config import FeatureConfig
from recommender.storage.schema import Track, TrackFeatures


def embedding_version(model_version: str) -> str:
    """`track_features` key of the per-track embeddings a tagger version stored (the CNN's
    penultimate layer), one row per track beside its predicted tags."""
    return f"{model_version}-embedding"


def load_embeddings(conn, model_version: str, track_keys: np.ndarray) -> np.ndarray | None:
    """(len(track_keys), dim) float32 embeddings of tagger `model_version`, zero rows for
    tracks without one; None when that version stored none (song-vector taggers)."""
    rows = conn.execute(
        select(TrackFeatures.track_id, TrackFeatures.dim, TrackFeatures.vector).where(
            TrackFeatures.extractor_version == embedding_version(model_version)
        )
    ).all()
    if not rows:
        return None
    position = {int(k): i for i, k in enumerate(np.asarray(track_keys).tolist())}
    out = np.zeros((len(position), int(rows[0][1])), dtype=np.float32)
    for track_id, dim, blob in rows:
        if int(track_id) in position:
            out[position[int(track_id)]] = from_bytes(blob, dim)[0]
    return out


def to_bytes(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array, dtype="<f4").tobytes()


def from_bytes(blob: bytes, dim: int) -> np.ndarray:
    flat = np.frombuffer(blob, dtype="<f4")
    return flat.reshape(-1, dim) if dim else flat.reshape(0, 0)


@dataclass(frozen=True)
class StoredFeatures:
    """Features of every scanned track, aligned: row i belongs to `track_ids[i]`."""

    track_ids: np.ndarray  # database ids, int64
    external_ids: list[str]
    summaries: np.ndarray  # (n_tracks, summary_dim) float32
    frames: list[np.ndarray]  # per track (n_i, frame_dim) float32


def load_summaries(
    engine: Engine, config: FeatureConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(track database ids, summary matrix) for every track with features of this config."""
    stored = load_features(engine, config, with_frames=False)
    return stored.track_ids, stored.summaries


def load_features(
    engine: Engine, config: FeatureConfig | None = None, *, with_frames: bool = True
) -> StoredFeatures:
    config = config or FeatureConfig()
    versions = [config.extractor_version] + ([config.frames_version] if with_frames else [])
    query = (
        select(
            TrackFeatures.track_id,
            Track.external_id,
            TrackFeatures.extractor_version,
            TrackFeatures.dim,
            TrackFeatures.vector,
        )
        .join(Track, Track.id == TrackFeatures.track_id)
        .where(TrackFeatures.extractor_version.in_(versions))
        .order_by(TrackFeatures.track_id)
    )
    summaries: dict[int, np.ndarray] = {}
    frames: dict[int, np.ndarray] = {}
    names: dict[int, str] = {}
    with engine.connect() as conn:
        for track_id, external_id, version, dim, blob in conn.execute(query):
            names[track_id] = external_id
            if version == config.extractor_version:
                summaries[track_id] = from_bytes(blob, dim)[0]
            else:
                frames[track_id] = from_bytes(blob, dim)
    ids = sorted(summaries)
    if with_frames:
        ids = [i for i in ids if i in frames]
    return StoredFeatures(
        track_ids=np.asarray(ids, dtype=np.int64),
        external_ids=[names[i] for i in ids],
        summaries=(np.vstack([summaries[i] for i in ids]) if ids else np.zeros((0, 0), np.float32)),
        frames=[frames[i] for i in ids] if with_frames else [],
    )
