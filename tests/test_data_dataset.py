import numpy as np
import pytest
from sqlalchemy import insert

from recommender.data.vocabulary import Vocabulary
from recommender.errors import UnknownIdError
from recommender.services.datasets import load_dataset
from recommender.storage.schema import (
    Listen,
    PredictedTag,
    Tag,
    TagAssignment,
    Track,
    TrackNovelty,
    User,
)


def test_vocabulary_lookup_and_unknown_id():
    vocab = Vocabulary.from_ids(["b", "a", "c"], kind="user")
    assert vocab.index_of("a") == 1
    assert vocab.indices(["c", "zz", "b"]).tolist() == [2, -1, 0]
    with pytest.raises(UnknownIdError, match="unknown user 'zz'"):
        vocab.index_of("zz")


def test_vocabulary_rejects_duplicates():
    with pytest.raises(ValueError, match="duplicate"):
        Vocabulary.from_ids(["a", "a"])


def test_load_dataset_builds_user_item_matrix_with_cold_items(engine):
    with engine.begin() as conn:
        conn.execute(
            insert(User), [{"id": 10, "external_id": "u1"}, {"id": 20, "external_id": "u2"}]
        )
        conn.execute(
            insert(Track),
            [
                {"id": 5, "external_id": "t1", "title": "One", "audio_path": "/a.wav"},
                {"id": 6, "external_id": "t2", "title": "Two", "audio_path": None},
                {"id": 7, "external_id": "cold", "title": "Cold", "audio_path": "/c.wav"},
            ],
        )
        conn.execute(insert(Tag), [{"id": 1, "name": "jazz"}, {"id": 2, "name": "rock"}])
        conn.execute(
            insert(Listen),
            [
                {"user_id": 10, "track_id": 5, "play_count": 3, "last_played": 100},
                {"user_id": 20, "track_id": 6, "play_count": 7, "last_played": 200},
            ],
        )
        conn.execute(insert(TagAssignment), [{"user_id": 10, "track_id": 5, "tag_id": 1}])
        conn.execute(
            insert(PredictedTag),
            [
                {"track_id": 7, "tag_id": 2, "model_version": "v1", "probability": 0.25},
                {"track_id": 7, "tag_id": 2, "model_version": "v2", "probability": 0.75},
            ],
        )
    data = load_dataset(engine)
    assert data.plays.shape == (2, 3)
    assert data.plays.toarray().tolist() == [[3, 0, 0], [0, 7, 0]]
    assert data.item_play_counts().tolist() == [1, 1, 0]
    assert data.item_tag_counts().toarray()[0].tolist() == [1, 0]
    assert data.predicted_model_version == "v2"
    assert data.predicted_tags[
        data.items.index_of("cold"), data.tags.index_of("rock")
    ] == pytest.approx(0.75)
    assert data.last_played[1, 1] == 200
    assert data.item_meta["has_audio"].tolist() == [True, False, True]
    assert data.fingerprint() == load_dataset(engine).fingerprint()
    np.testing.assert_array_equal(data.users.ids, ["u1", "u2"])
    assert data.predicted_ood is None  # v2 stored no novelty (a tagger from before it)

    with engine.begin() as conn:
        conn.execute(
            insert(TrackNovelty),
            [
                {"track_id": 7, "model_version": "v2", "novelty": 9.5, "in_distribution": False},
                {"track_id": 7, "model_version": "v1", "novelty": 1.0, "in_distribution": True},
                {"track_id": 5, "model_version": "v2", "novelty": 1.0, "in_distribution": True},
            ],
        )
    assert load_dataset(engine).predicted_ood.tolist() == [False, False, True]
    assert load_dataset(engine, predicted_model_version="v1").predicted_ood.tolist() == [
        False,
        False,
        False,
    ]


def test_rows_referencing_missing_keys_fail_loudly():
    from recommender.errors import RecsysError
    from recommender.services.datasets import _contiguous

    assert _contiguous(np.array([12, 10]), np.array([10, 11, 12])).tolist() == [2, 0]
    assert _contiguous(np.array([30, 10]), np.array([10, 20, 30])).tolist() == [2, 0]
    with pytest.raises(RecsysError, match="changed while it was being read"):
        _contiguous(np.array([13]), np.array([10, 11, 12]))  # gap-free keys, beyond the end
    with pytest.raises(RecsysError, match="changed while it was being read"):
        _contiguous(np.array([25]), np.array([10, 20, 30]))  # between two keys


def test_load_dataset_reads_one_snapshot_while_a_writer_commits(tmp_path):
    """A user committed by another connection mid-read is not half-seen (SQLite WAL)."""
    from sqlalchemy import text as sql

    from recommender.services import datasets as dataset_module
    from recommender.storage.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as conn:
        conn.execute(insert(User), [{"id": 1, "external_id": "u1"}])
        conn.execute(insert(Track), [{"id": 1, "external_id": "t1", "audio_path": None}])
        conn.execute(insert(Listen), [{"user_id": 1, "track_id": 1, "play_count": 2}])
    writer = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    real_read = dataset_module.read_int_columns

    def read_after_a_commit(conn, table, columns, **kwargs):
        if table == "listens":  # users were already read: now a load commits a new user
            with writer.begin() as other:
                other.execute(sql("INSERT INTO users (id, external_id) VALUES (2, 'u2')"))
                other.execute(
                    sql("INSERT INTO listens (user_id, track_id, play_count) VALUES (2, 1, 5)")
                )
        return real_read(conn, table, columns, **kwargs)

    dataset_module.read_int_columns = read_after_a_commit
    try:
        data = load_dataset(engine)
    finally:
        dataset_module.read_int_columns = real_read
    assert data.plays.shape == (1, 1) and data.plays.nnz == 1  # the snapshot before the commit
    assert load_dataset(engine).plays.shape == (2, 1)
