"""Row counts and recent ETL runs: what `recsys db stats` shows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from recommender.storage.schema import (
    EtlRun,
    Listen,
    ListenEvent,
    PredictedTag,
    Reject,
    Tag,
    TagAssignment,
    Track,
    TrackFeatures,
    User,
)


def database_stats(engine: Engine, *, last_runs: int = 5) -> dict[str, Any]:
    with engine.connect() as conn:

        def count(stmt) -> int:
            return int(conn.execute(stmt).scalar_one())

        counts = {
            "users": count(select(func.count()).select_from(User)),
            "tracks": count(select(func.count()).select_from(Track)),
            "listens": count(select(func.count()).select_from(Listen)),
            "listen_events": count(select(func.count()).select_from(ListenEvent)),
            "plays": count(select(func.coalesce(func.sum(Listen.play_count), 0))),
            "tags": count(select(func.count()).select_from(Tag)),
            "tag_assignments": count(select(func.count()).select_from(TagAssignment)),
            "tracks_with_audio": count(
                select(func.count()).select_from(Track).where(Track.audio_path.is_not(None))
            ),
            "tracks_without_listens": count(
                select(func.count())
                .select_from(Track)
                .where(~select(Listen.track_id).where(Listen.track_id == Track.id).exists())
            ),
            "track_features": count(select(func.count()).select_from(TrackFeatures)),
            "predicted_tags": count(select(func.count()).select_from(PredictedTag)),
            "rejects": count(select(func.count()).select_from(Reject)),
        }
        runs = conn.execute(select(EtlRun).order_by(EtlRun.id.desc()).limit(last_runs)).all()
    return {
        "counts": counts,
        "last_runs": [
            {
                "id": r.id,
                "source": r.source,
                "status": r.status,
                "started_at": r.started_at.isoformat(timespec="seconds") if r.started_at else None,
                "finished_at": r.finished_at.isoformat(timespec="seconds")
                if r.finished_at
                else None,
                "rows_in": r.rows_in,
                "rows_loaded": r.rows_loaded,
                "rows_rejected": r.rows_rejected,
                "message": r.message,
            }
            for r in runs
        ],
    }


def list_rejects(engine: Engine, *, limit: int | None = 50) -> dict[str, Any]:
    """The newest quarantined rows (file, line, reason, raw) and the totals per reason."""
    with engine.connect() as conn:
        by_reason = dict(
            conn.execute(
                select(Reject.reason, func.count()).group_by(Reject.reason).order_by(Reject.reason)
            ).all()
        )
        stmt = select(Reject).order_by(Reject.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        rows = conn.execute(stmt).all()
    return {
        "total": sum(by_reason.values()),
        "by_reason": by_reason,
        "rejects": [
            {
                "id": r.id,
                "run_id": r.run_id,
                "file": r.file,
                "line": r.line,
                "reason": r.reason,
                "raw": r.raw,
            }
            for r in rows
        ],
    }
