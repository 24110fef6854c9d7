"""The data model (SQLAlchemy 2.0 typed ORM), shared by ETL, models and the CLI.

External ids are strings everywhere a user sees them; the integer primary keys
are database-internal and never leave it. Models keep their own contiguous
indices, saved with the model.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Longest external id, name or tag we accept; longer values are rejected at ETL time.
MAX_ID_LENGTH = 255
MAX_TEXT_LENGTH = 1024


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(MAX_ID_LENGTH), unique=True)


class Track(Base):
    __tablename__ = "tracks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(MAX_ID_LENGTH), unique=True)
    title: Mapped[str | None] = mapped_column(String(MAX_TEXT_LENGTH))
    artist: Mapped[str | None] = mapped_column(String(MAX_TEXT_LENGTH))
    audio_path: Mapped[str | None] = mapped_column(Text)
    duration: Mapped[float | None] = mapped_column(Float)
    checksum: Mapped[str | None] = mapped_column(String(64))


class Listen(Base):
    """Aggregated implicit feedback: how often a user played a track."""

    __tablename__ = "listens"
    __table_args__ = (
        CheckConstraint("play_count > 0", name="ck_listens_positive"),
        Index("ix_listens_track", "track_id"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"), primary_key=True)
    play_count: Mapped[int] = mapped_column(BigInteger)
    # Unix seconds of the latest event, when the source had timestamps (time-based splits).
    last_played: Mapped[int | None] = mapped_column(BigInteger)


class ListenEvent(Base):
    """Raw play events, kept when a source has them; `listens` is their aggregate."""

    __tablename__ = "listen_events"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"), primary_key=True)
    played_at: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class UserUpdate(Base):
    """A user whose listens changed after loading (`POST /listens`), in arrival order.

    A bundle records the last `seq` it was trained on; a server folds in, from the
    database, every user with a later `seq` instead of serving their trained row.
    """

    __tablename__ = "user_updates"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(MAX_ID_LENGTH), unique=True)


class TagAssignment(Base):
    """A crowd-sourced tag: user U applied tag T to track X."""

    __tablename__ = "tag_assignments"
    __table_args__ = (Index("ix_tag_assignments_track", "track_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True)
    # Unix seconds when the source has a date for the assignment.
    tagged_at: Mapped[int | None] = mapped_column(BigInteger)


class TrackFeatures(Base):
    """A song vector, keyed by extractor version so a config change never mixes vectors."""

    __tablename__ = "track_features"

    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"), primary_key=True)
    extractor_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    checksum: Mapped[str] = mapped_column(String(64))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class PredictedTag(Base):
    __tablename__ = "predicted_tags"
    __table_args__ = (Index("ix_predicted_tags_model", "model_version"),)

    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    probability: Mapped[float] = mapped_column(Float)


class TrackNovelty(Base):
    """How unlike its tagger's training audio a track is (`recommender.tagging.novelty`): one row
    per track with predicted_tags of that model version (none for taggers from before it).

    Out-of-distribution tracks (in_distribution false) have unreliable predicted tags; the
    hybrid discounts their content scores (ContentConfig.ood_content_weight).
    """

    __tablename__ = "track_novelty"
    __table_args__ = (Index("ix_track_novelty_model", "model_version"),)

    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id"), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    novelty: Mapped[float] = mapped_column(Float)
    in_distribution: Mapped[bool] = mapped_column(Boolean)


class EtlRun(Base):
    __tablename__ = "etl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[str | None] = mapped_column(Text)  # JSON
    status: Mapped[str] = mapped_column(String(16))  # running | ok | failed | interrupted
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    rows_in: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_loaded: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    message: Mapped[str | None] = mapped_column(Text)


class Reject(Base):
    """A quarantined input row (or audio file) with where it came from and why."""

    __tablename__ = "rejects"
    __table_args__ = (UniqueConstraint("file", "line", "reason", name="uq_rejects_where"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("etl_runs.id"))
    file: Mapped[str] = mapped_column(Text)
    line: Mapped[int] = mapped_column(Integer)  # 1-based physical line; 0 for a whole file
    reason: Mapped[str] = mapped_column(String(64))
    raw: Mapped[str | None] = mapped_column(Text)
