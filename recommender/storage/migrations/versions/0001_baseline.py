"""Baseline: the schema of recsys 0.1.0, as `Base.metadata.create_all` made it before migrations.

A database from before migrations may lack tables that were added over time (user_updates,
track_novelty): the baseline creates only the tables (and their indexes) that are missing,
as that recsys did on every open, so such a database is adopted as this revision.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def _tables() -> list[tuple[str, list, list[tuple[str, list[str]]]]]:
    """(table, columns and constraints, indexes) in dependency order, frozen at 0.1.0."""
    return [
        (
            "users",
            [
                sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
                sa.Column("external_id", sa.String(255), nullable=False, unique=True),
            ],
            [],
        ),
        (
            "tracks",
            [
                sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
                sa.Column("external_id", sa.String(255), nullable=False, unique=True),
                sa.Column("title", sa.String(1024), nullable=True),
                sa.Column("artist", sa.String(1024), nullable=True),
                sa.Column("audio_path", sa.Text(), nullable=True),
                sa.Column("duration", sa.Float(), nullable=True),
                sa.Column("checksum", sa.String(64), nullable=True),
            ],
            [],
        ),
        (
            "tags",
            [
                sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
                sa.Column("name", sa.String(255), nullable=False, unique=True),
            ],
            [],
        ),
        (
            "etl_runs",
            [
                sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
                sa.Column("source", sa.String(64), nullable=False),
                sa.Column("arguments", sa.Text(), nullable=True),
                sa.Column("status", sa.String(16), nullable=False),
                sa.Column("started_at", sa.DateTime(), nullable=False),
                sa.Column("finished_at", sa.DateTime(), nullable=True),
                sa.Column("rows_in", sa.BigInteger(), nullable=False),
                sa.Column("rows_loaded", sa.BigInteger(), nullable=False),
                sa.Column("rows_rejected", sa.BigInteger(), nullable=False),
                sa.Column("message", sa.Text(), nullable=True),
            ],
            [],
        ),
        (
            "listens",
            [
                sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
                sa.Column("track_id", sa.Integer(), sa.ForeignKey("tracks.id"), primary_key=True),
                sa.Column("play_count", sa.BigInteger(), nullable=False),
                sa.Column("last_played", sa.BigInteger(), nullable=True),
                sa.CheckConstraint("play_count > 0", name="ck_listens_positive"),
            ],
            [("ix_listens_track", ["track_id"])],
        ),
        (
            "listen_events",
            [
                sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
                sa.Column("track_id", sa.Integer(), sa.ForeignKey("tracks.id"), primary_key=True),
                sa.Column("played_at", sa.BigInteger(), primary_key=True, autoincrement=False),
            ],
            [],
        ),
        (
            "user_updates",
            [
                sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
                sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
                sa.Column(
                    "updated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False
                ),
            ],
            [("ix_user_updates_user_id", ["user_id"])],
        ),
        (
            "tag_assignments",
            [
                sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
                sa.Column("track_id", sa.Integer(), sa.ForeignKey("tracks.id"), primary_key=True),
                sa.Column("tag_id", sa.Integer(), sa.ForeignKey("tags.id"), primary_key=True),
                sa.Column("tagged_at", sa.BigInteger(), nullable=True),
            ],
            [("ix_tag_assignments_track", ["track_id"])],
        ),
        (
            "track_features",
            [
                sa.Column("track_id", sa.Integer(), sa.ForeignKey("tracks.id"), primary_key=True),
                sa.Column("extractor_version", sa.String(64), primary_key=True),
                sa.Column("checksum", sa.String(64), nullable=False),
                sa.Column("dim", sa.Integer(), nullable=False),
                sa.Column("vector", sa.LargeBinary(), nullable=False),
                sa.Column(
                    "created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False
                ),
            ],
            [],
        ),
        (
            "predicted_tags",
            [
                sa.Column("track_id", sa.Integer(), sa.ForeignKey("tracks.id"), primary_key=True),
                sa.Column("tag_id", sa.Integer(), sa.ForeignKey("tags.id"), primary_key=True),
                sa.Column("model_version", sa.String(64), primary_key=True),
                sa.Column("probability", sa.Float(), nullable=False),
            ],
            [("ix_predicted_tags_model", ["model_version"])],
        ),
        (
            "track_novelty",
            [
                sa.Column("track_id", sa.Integer(), sa.ForeignKey("tracks.id"), primary_key=True),
                sa.Column("model_version", sa.String(64), primary_key=True),
                sa.Column("novelty", sa.Float(), nullable=False),
                sa.Column("in_distribution", sa.Boolean(), nullable=False),
            ],
            [("ix_track_novelty_model", ["model_version"])],
        ),
        (
            "rejects",
            [
                sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
                sa.Column("run_id", sa.Integer(), sa.ForeignKey("etl_runs.id"), nullable=False),
                sa.Column("file", sa.Text(), nullable=False),
                sa.Column("line", sa.Integer(), nullable=False),
                sa.Column("reason", sa.String(64), nullable=False),
                sa.Column("raw", sa.Text(), nullable=True),
                sa.UniqueConstraint("file", "line", "reason", name="uq_rejects_where"),
            ],
            [],
        ),
    ]


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, columns, indexes in _tables():
        if name in existing:
            continue
        op.create_table(name, *columns)
        for index, index_columns in indexes:
            op.create_index(index, name, index_columns)


def downgrade() -> None:
    raise NotImplementedError("the baseline is the first revision: restore a backup instead")
