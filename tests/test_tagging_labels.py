"""Crowd labels (user threshold, min positives, uninformative tags) and curated label files."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from recommender.errors import DataFileError
from recommender.services.labels import LabelConfig, crowd_labels, curated_labels
from recommender.storage.schema import Tag, TagAssignment, Track, User


@pytest.fixture
def tagged(engine):
    """12 artists x 2 tracks; 'rock' on the first 8 tracks by 2 users, 'jazz' on 4 by 1 user,
    'meh' on every track (by one user), 'rare' on 1 track."""
    with engine.begin() as conn:
        conn.execute(insert(User), [{"external_id": f"u{i}"} for i in range(3)])
        conn.execute(
            insert(Track), [{"external_id": f"t{i}", "artist": f"a{i // 2}"} for i in range(24)]
        )
        conn.execute(insert(Tag), [{"name": n} for n in ("rock", "jazz", "meh", "rare")])
        rows = []
        for t in range(1, 25):
            rows.append({"user_id": 3, "track_id": t, "tag_id": 3})
            if t <= 8:
                rows += [
                    {"user_id": 1, "track_id": t, "tag_id": 1},
                    {"user_id": 2, "track_id": t, "tag_id": 1},
                ]
            elif t <= 12:
                rows.append({"user_id": 1, "track_id": t, "tag_id": 2})
        rows.append({"user_id": 2, "track_id": 24, "tag_id": 4})
        conn.execute(insert(TagAssignment), rows)
    return engine


def test_crowd_labels_thresholds_and_exclusions(tagged):
    labels = crowd_labels(tagged, LabelConfig(min_users=1, min_positives=3))
    assert labels.tag_names == ["jazz", "rock"]
    assert labels.Y.shape == (24, 2) and labels.Y.sum(axis=0).tolist() == [4, 8]
    assert "tracks" in labels.excluded["meh"]  # on 100% of tracks
    assert "positive" in labels.excluded["rare"]
    strict = crowd_labels(tagged, LabelConfig(min_users=2, min_positives=3))
    assert strict.tag_names == ["rock"] and "jazz" in strict.excluded  # one user each: not enough


def test_artist_spread_and_stop_list(tagged):
    # 'meh' everywhere: caught by the artist-spread rule too when the share rule is off
    labels = crowd_labels(tagged, LabelConfig(min_positives=3, max_track_share=1.0))
    assert "artists" in labels.excluded["meh"]
    labels = crowd_labels(tagged, LabelConfig(min_positives=3, stop_tags=("Rock",)))
    assert labels.excluded["rock"] == "stop list"


def test_curated_file(tagged, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(
        "track,tag\nt0, Blues \nt1,blues\nt2,blues\nt3,soul\nt4,soul\nt5,soul\n"
        ",blues\nnope,blues\nt6,\n"
    )
    labels = curated_labels(tagged, path, LabelConfig(min_positives=3))
    assert labels.tag_names == ["blues", "soul"] and labels.skipped_rows == 3
    assert labels.Y.tolist() == [[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0, 1]]
    assert labels.source == "curated:labels.csv"


@pytest.mark.parametrize(
    "text,needle",
    [
        (None, "not found"),
        ("song,label\nt0,x\n", "lacks track,tag"),
        ("track,tag\nzz,x\n", "none of 1 rows"),
    ],
)
def test_curated_file_errors(tagged, tmp_path, text, needle):
    path = tmp_path / "labels.csv"
    if text is not None:
        path.write_text(text)
    with pytest.raises(DataFileError, match=needle) as info:
        curated_labels(tagged, path)
    assert str(path) in str(info.value)
