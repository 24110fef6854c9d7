"""Out-of-distribution flags of stored predictions: written with a tagger's predicted_tags,
read back into the Dataset so the hybrid can discount those tracks' content scores.

The detector itself is core (`recommender.tagging.novelty`); this module is its
database side: table `track_novelty`, one row per (track, tagger version).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection, delete, insert, inspect, text

from recommender.storage.schema import TrackNovelty

if TYPE_CHECKING:
    from recommender.tagging.novelty import NoveltyDetector

INSERT_CHUNK = 20_000


@dataclass(frozen=True)
class TrackScores:
    """Novelty of stored tracks (in the order of the predictions they go with)."""

    novelty: np.ndarray  # (n_tracks,) float64
    in_distribution: np.ndarray  # (n_tracks,) bool
    threshold: float

    @classmethod
    def of(cls, detector: NoveltyDetector, scores: np.ndarray) -> TrackScores:
        return cls(scores, detector.in_distribution(scores), detector.threshold)

    def summary(self) -> dict[str, Any]:
        """For the tagger's manifest and report."""
        return {
            "threshold": self.threshold,
            "tracks": len(self.novelty),
            "out_of_distribution": int((~self.in_distribution).sum()),
        }


def store_novelty(
    conn: Connection, model_version: str, track_ids: np.ndarray, scores: TrackScores
) -> None:
    """Replace this model version's rows (inside the caller's transaction)."""
    delete_novelty(conn, model_version)
    rows = [
        {
            "track_id": int(t),
            "model_version": model_version,
            "novelty": float(scores.novelty[i]),
            "in_distribution": bool(scores.in_distribution[i]),
        }
        for i, t in enumerate(track_ids)
    ]
    for start in range(0, len(rows), INSERT_CHUNK):
        conn.execute(insert(TrackNovelty), rows[start : start + INSERT_CHUNK])


def delete_novelty(conn: Connection, model_version: str) -> None:
    conn.execute(delete(TrackNovelty).where(TrackNovelty.model_version == model_version))


def out_of_distribution(
    conn: Connection, model_version: str, track_keys: np.ndarray
) -> np.ndarray | None:
    """(len(track_keys),) bool: tracks this tagger version flagged out of distribution.

    None when the version stored no flags (a tagger from before novelty detection) or the
    database predates the table (opened without creating the schema).
    """
    if not inspect(conn).has_table(TrackNovelty.__tablename__):
        return None
    rows = conn.execute(
        text("SELECT track_id, in_distribution FROM track_novelty WHERE model_version = :v"),
        {"v": model_version},
    ).all()
    if not rows:
        return None
    flagged = np.array([int(t) for t, ok in rows if not ok], dtype=np.int64)
    return np.isin(np.asarray(track_keys), flagged)
