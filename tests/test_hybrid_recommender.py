"""HybridRecommender on a two-taste synthetic catalogue where the right answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recommender.data.dataset import Dataset, TagEvents
from recommender.data.vocabulary import Vocabulary
from recommender.errors import InputError, UnknownIdError
from recommender.hybrid.recommender import HybridRecommender

TAGS = ["jazz", "metal", "favorites", "piano", "guitar"]


def make_dataset(seed: int = 0) -> Dataset:
    """40 users (even: jazz fans, odd: metal fans), 30 warm items per genre, 4 cold items per genre.

    Items 0-29 jazz, 30-59 metal (crowd-tagged), 60-63 cold jazz, 64-67 cold metal
    (no plays, no crowd tags, predicted tags only). Every user tags things "favorites";
    a quarter of users name the genre, another quarter the instrument.
    """
    rng = np.random.default_rng(seed)
    n_users, n_items = 40, 68
    rows, cols, counts = [], [], []
    for u in range(n_users):
        genre = np.arange(30) if u % 2 == 0 else np.arange(30, 60)
        for item in rng.choice(genre, size=12, replace=False):
            rows.append(u), cols.append(item), counts.append(rng.integers(1, 20))
    plays = sp.csr_matrix((np.asarray(counts, np.float32), (rows, cols)), shape=(n_users, n_items))
    ev_u, ev_i, ev_t = [], [], []
    for u in range(n_users):
        played = plays[u].indices
        for item in played[:4]:
            if u % 4 < 2:  # half of each taste group names the genre (a quarter of all users)
                ev_u.append(u), ev_i.append(item), ev_t.append(0 if item < 30 else 1)
            ev_u.append(u), ev_i.append(item), ev_t.append(2)  # everybody's "favorites"
        if u % 4 == 3:
            ev_u.append(u), ev_i.append(played[5]), ev_t.append(3 if played[5] < 30 else 4)
    predicted = np.zeros((n_items, len(TAGS)), dtype=np.float32)
    predicted[60:64, 0], predicted[60:64, 3] = 0.9, 0.8
    predicted[64:68, 1], predicted[64:68, 4] = 0.9, 0.7
    meta = pd.DataFrame(
        {
            "title": [f"Song {i}" for i in range(n_items)],
            "artist": [
                "Jazz Band" if i < 30 or 60 <= i < 64 else "Metal Band" for i in range(n_items)
            ],
            "has_audio": [True] * n_items,
        }
    )
    return Dataset(
        users=Vocabulary.from_ids([f"u{u:02d}" for u in range(n_users)], kind="user"),
        items=Vocabulary.from_ids([f"t{i:02d}" for i in range(n_items)], kind="track"),
        tags=Vocabulary.from_ids(TAGS, kind="tag"),
        plays=plays,
        tag_events=TagEvents(
            np.asarray(ev_u, np.int32), np.asarray(ev_i, np.int32), np.asarray(ev_t, np.int32)
        ),
        predicted_tags=sp.csr_matrix(predicted),
        predicted_model_version="test",
        item_meta=meta,
    )


@pytest.fixture(scope="module")
def rec() -> HybridRecommender:
    return HybridRecommender.train(make_dataset(), model="als", factors=8, seed=0)


def genre_of(item_id: str) -> str:
    i = int(item_id[1:])
    return "jazz" if i < 30 or 60 <= i < 64 else "metal"


def test_recommendations_follow_taste_and_skip_played(rec):
    dataset = make_dataset()
    for user in ("u00", "u01"):
        results = rec.recommend(user, n=8)
        assert len(results) == 8
        wanted = "jazz" if user == "u00" else "metal"
        assert sum(genre_of(r.item_id) == wanted for r in results) >= 7
        played = set(dataset.items.ids[dataset.plays[dataset.users.index_of(user)].indices])
        assert not played & {r.item_id for r in results}
        assert all(r.source in ("cf", "content", "hybrid") for r in results)
        assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_include_listened_returns_played_items(rec):
    dataset = make_dataset()
    played = set(dataset.items.ids[dataset.plays[0].indices])
    results = rec.recommend("u00", n=30, include_listened=True)
    assert played & {r.item_id for r in results}


def test_tag_filter_keeps_only_items_carrying_the_tag(rec):
    results = rec.recommend("u00", n=10, tags=["piano"])
    assert results
    carriers = {
        rec.items.id_of(int(i)) for i in rec.tag_weights[:, rec.tags.index_of("piano")].nonzero()[0]
    }
    assert {r.item_id for r in results} <= carriers
    # predicted-only carriers count: the cold jazz tracks carry "piano" from audio alone
    assert {"t60", "t61", "t62", "t63"} <= carriers
    with pytest.raises(UnknownIdError, match="unknown tag 'bagpipes'"):
        rec.recommend("u00", tags=["bagpipes"])


def test_cold_tracks_reach_matching_users_through_content(rec):
    scores = rec.ranker.score(np.arange(40))
    cold_jazz, cold_metal = scores[:, 60:64].mean(axis=1), scores[:, 64:68].mean(axis=1)
    jazz_fans = np.arange(0, 40, 2)
    assert (cold_jazz[jazz_fans] > cold_metal[jazz_fans]).all()
    assert (cold_metal[jazz_fans + 1] > cold_jazz[jazz_fans + 1]).all()
    audience = rec.audience("t60", n=10)
    assert len(audience) == 10
    assert all(int(m.user_id[1:]) % 2 == 0 for m in audience)
    assert audience[0].source == "content" and "jazz" in audience[0].matched_tags


def test_explanations_name_real_tags_and_played_items(rec):
    dataset = make_dataset()
    results = rec.recommend("u00", n=5, explain=True)
    played_labels = {
        f"{a} - {t}"
        for a, t in zip(
            rec.artists[dataset.plays[0].indices],
            rec.titles[dataset.plays[0].indices],
            strict=False,
        )
    }
    for r in results:
        why = r.explanation
        assert why is not None and why.close_to  # items without any tag still have neighbours
        assert {t.tag for t in why.tags} <= set(TAGS) - {"favorites"}
        cold = (
            int(r.item_id[1:]) >= 60
        )  # cold items carry predicted tags only, warm ones crowd tags
        assert all(t.origin == ("predicted" if cold else "crowd") for t in why.tags)
        assert set(why.close_to) <= played_labels
    assert sum(bool(r.explanation.tags) for r in results) >= 3
    assert "jazz" in {t.tag for r in results for t in r.explanation.tags}
    cold = rec.recommend("u00", n=4, tags=["piano"], explain=True)
    predicted = [
        t for r in cold if r.item_id in {"t60", "t61", "t62", "t63"} for t in r.explanation.tags
    ]
    assert predicted and {t.origin for t in predicted} == {"predicted"}
    assert "(predicted)" in next(r for r in cold if r.item_id >= "t60").explanation.summary()


def test_new_user_from_tags(rec):
    results = rec.recommend_for_tags(["metal", "guitar"], n=6)
    assert len(results) == 6
    assert all(genre_of(r.item_id) == "metal" for r in results)
    with pytest.raises(InputError):
        rec.recommend_for_tags([])


def test_similar_uses_cf_for_warm_and_content_for_cold(rec):
    warm = rec.similar("t00", n=5)
    assert warm and all(r.source == "cf" for r in warm) and "t00" not in {r.item_id for r in warm}
    cold = rec.similar("t61", n=5)
    assert cold and all(r.source == "content" for r in cold)
    assert all(genre_of(r.item_id) == "jazz" for r in cold)


def test_user_tags_and_unknown_ids(rec):
    tags = [t.tag for t in rec.user_tags("u01", n=3)]
    assert tags[0] == "metal" and "favorites" not in tags
    with pytest.raises(UnknownIdError, match="unknown user 'nobody'"):
        rec.recommend("nobody")
    with pytest.raises(UnknownIdError, match="unknown track 'zz'"):
        rec.similar("zz")


def test_same_data_and_seed_give_the_same_recommendations(rec):
    again = HybridRecommender.train(make_dataset(), model="als", factors=8, seed=0)
    for user in ("u00", "u05", "u33"):
        assert [(r.item_id, r.score) for r in again.recommend(user, n=10)] == [
            (r.item_id, r.score) for r in rec.recommend(user, n=10)
        ]
