"""The tag filter (`hybrid.tagfilter`) on a six-item catalogue whose answers are counted by hand.

Crowd tags (distinct users per item and tag):
    i0: electronic 10, rock 1   -> rock weighs 1/10: one stray assignment, not a rock item
    i1: rock 6, pop 2           -> rock 1, pop 1/3
    i2: rock 4, jazz 3          -> rock 1, jazz 3/4
    i3: jazz 5, rock 1          -> jazz 1, rock 1/5
    i4, i5: no crowd tags, audio-predicted only: i4 rock 0.7, jazz 0.4; i5 rock 0.49
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.core.bundle import read_bundle
from recommender.data.dataset import Dataset, TagEvents
from recommender.data.vocabulary import Vocabulary
from recommender.errors import InputError, ModelBundleError, NoMatchError, UnknownIdError
from recommender.hybrid.configs import TagFilterConfig
from recommender.hybrid.recommender import HybridRecommender, RecommenderConfig
from recommender.hybrid.tagfilter import carriers, crowd_weights, tag_weights

TAGS = ["rock", "jazz", "pop", "electronic"]
ROCK, JAZZ, POP, ELECTRONIC = range(4)
CROWD = {  # item -> [(tag, how many users applied it)]
    0: [(ELECTRONIC, 10), (ROCK, 1)],
    1: [(ROCK, 6), (POP, 2)],
    2: [(ROCK, 4), (JAZZ, 3)],
    3: [(JAZZ, 5), (ROCK, 1)],
}
N_USERS, N_ITEMS = 12, 6


def crowd_events() -> list[tuple[int, int, int]]:
    """(user, item, tag): the tag's first `count` users apply it."""
    return [(u, item, tag) for item, tags in CROWD.items() for tag, n in tags for u in range(n)]


def plays_of(user: int) -> dict[int, int]:
    """u plays items u % 4 and (u + 1) % 4: i4 and i5 are never played (cold)."""
    return {user % 4: 3 + user % 5, (user + 1) % 4: 1 + user % 3}


def make_dataset(thresholds: np.ndarray | None = None) -> Dataset:
    rows = [(u, i, c) for u in range(N_USERS) for i, c in plays_of(u).items()]
    u, i, c = map(np.asarray, zip(*rows, strict=True))
    plays = sp.csr_matrix((c.astype(np.float32), (u, i)), shape=(N_USERS, N_ITEMS))
    ev = np.asarray(crowd_events(), dtype=np.int32)
    predicted = np.zeros((N_ITEMS, len(TAGS)), dtype=np.float32)
    predicted[4, ROCK], predicted[4, JAZZ], predicted[5, ROCK] = 0.7, 0.4, 0.49
    return Dataset(
        users=Vocabulary.from_ids([f"u{u}" for u in range(N_USERS)], kind="user"),
        items=Vocabulary.from_ids([f"i{i}" for i in range(N_ITEMS)], kind="track"),
        tags=Vocabulary.from_ids(TAGS, kind="tag"),
        plays=plays,
        tag_events=TagEvents(ev[:, 0], ev[:, 1], ev[:, 2]),
        predicted_tags=sp.csr_matrix(predicted),
        predicted_model_version="test",
        predicted_thresholds=thresholds,
    )


@pytest.fixture(scope="module")
def rec() -> HybridRecommender:
    return HybridRecommender.train(make_dataset(), model="als", factors=4, seed=0)


def weights_of(dataset: Dataset, config: TagFilterConfig | None = None) -> np.ndarray:
    return tag_weights(
        dataset.item_tag_counts(),
        dataset.predicted_tags,
        config or TagFilterConfig(),
        thresholds=dataset.predicted_thresholds,
    ).toarray()


def test_crowd_weight_is_the_share_of_the_items_top_tag():
    weights = crowd_weights(make_dataset().item_tag_counts()).toarray()
    assert weights[0, ROCK] == pytest.approx(0.1) and weights[0, ELECTRONIC] == 1.0
    assert weights[1, ROCK] == 1.0 and weights[1, POP] == pytest.approx(1 / 3)
    assert weights[2, JAZZ] == pytest.approx(0.75) and weights[3, ROCK] == pytest.approx(0.2)
    assert not weights[4:].any()


def test_a_catalogue_nobody_tagged_has_no_weights():
    weights = tag_weights(sp.csr_matrix((3, 0)), None, TagFilterConfig())
    assert weights.shape == (3, 0) and weights.nnz == 0


def test_weights_keep_what_passes_its_bar_and_nothing_else():
    expected = np.zeros((N_ITEMS, len(TAGS)), dtype=np.float32)
    expected[0, ELECTRONIC] = 1.0  # its stray rock (0.1) is gone
    expected[1, ROCK], expected[1, POP] = 1.0, 1 / 3
    expected[2, ROCK], expected[2, JAZZ] = 1.0, 0.75
    expected[3, JAZZ] = 1.0  # its stray rock (0.2) is gone
    expected[4, ROCK] = 0.7  # predicted 0.7 >= 0.5; its jazz 0.4 and i5's rock 0.49 are not
    np.testing.assert_allclose(weights_of(make_dataset()), expected, rtol=1e-6)


def test_a_lower_min_weight_lets_lesser_tags_in():
    low = weights_of(make_dataset(), TagFilterConfig(min_weight=0.1))
    assert np.flatnonzero(low[:, ROCK]).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(InputError, match=r"tag_filter.min_weight must be in \(0, 1\], got '0'"):
        TagFilterConfig(min_weight=0)


def test_predicted_tags_use_the_taggers_threshold_where_it_stored_one():
    bars = np.array([np.nan, 0.3, np.nan, np.nan], dtype=np.float32)  # jazz: 0.3
    weights = weights_of(make_dataset(thresholds=bars))
    assert weights[4, JAZZ] == pytest.approx(0.4)  # 0.4 >= the tagger's 0.3
    assert weights[4, ROCK] == pytest.approx(0.7) and weights[5, ROCK] == 0  # default 0.5
    strict = weights_of(make_dataset(thresholds=np.array([0.8, np.nan, np.nan, np.nan])))
    assert strict[4, ROCK] == 0  # 0.7 < the tagger's 0.8


def test_carriers_all_of_and_one_of():
    weights = sp.csr_matrix(weights_of(make_dataset()))
    assert carriers(weights, [ROCK], []).tolist() == [1, 2, 4]
    assert carriers(weights, [ROCK, JAZZ], []).tolist() == [2]
    assert carriers(weights, [ROCK, ROCK], []).tolist() == [1, 2, 4]  # a repeat is one tag
    assert carriers(weights, [], [ROCK, JAZZ]).tolist() == [1, 2, 3, 4]
    assert carriers(weights, [ROCK], [JAZZ, POP]).tolist() == [1, 2]


def test_recommend_filters_by_every_tag_and_one_of_the_any_tags(rec):
    def listed(**filters) -> list[str]:
        results = rec.recommend("u0", n=10, include_listened=True, **filters)
        return sorted(r.item_id for r in results)

    assert listed(tags=["rock"]) == ["i1", "i2", "i4"]  # i0's one stray "rock" is not enough
    assert listed(tags=["rock", "jazz"]) == ["i2"]
    assert listed(any_tags=["rock", "jazz"]) == ["i1", "i2", "i3", "i4"]
    assert listed(tags=["Rock "], any_tags=["jazz", "pop"]) == ["i1", "i2"]
    unplayed = rec.recommend("u0", n=10, tags=["rock"])  # u0 played i0 and i1
    assert sorted(r.item_id for r in unplayed) == ["i2", "i4"]


def test_a_filter_no_item_passes_says_why(rec):
    with pytest.raises(NoMatchError) as caught:
        rec.recommend("u0", tags=["electronic", "jazz"])
    assert str(caught.value).startswith(
        "no item carries electronic and jazz (items carrying each alone: electronic 1, jazz 2,"
        " counting a crowd tag from weight 0.25 of the item's top tag"
    )
    assert "try --any-tag for any of them" in str(caught.value)
    with pytest.raises(NoMatchError, match="no item carries jazz and one of electronic, pop"):
        rec.carrying(["jazz"], ["electronic", "pop"])
    with pytest.raises(UnknownIdError, match="unknown tag 'bagpipes'"):
        rec.recommend("u0", any_tags=["bagpipes"])


def test_an_empty_list_because_every_carrier_is_played_says_so(rec):
    # u1 played i1 and i2; i2 is the only item carrying rock and jazz
    with pytest.raises(NoMatchError) as caught:
        rec.recommend("u1", tags=["rock", "jazz"])
    assert str(caught.value) == (
        "the one item carrying rock and jazz is already played by u1; add --include-listened"
        " to list them, or widen the filter with --any-tag"
    )
    listed = rec.recommend("u1", tags=["rock", "jazz"], include_listened=True)
    assert [r.item_id for r in listed] == ["i2"]


def test_the_bundle_keeps_the_weights_and_refuses_an_older_layout(rec, tmp_path, monkeypatch):
    rec.save(tmp_path / "now")
    back = HybridRecommender.load(tmp_path / "now")
    assert (back.tag_weights != rec.tag_weights).nnz == 0
    assert back.config == rec.config and back.config.tag_filter == TagFilterConfig()
    assert back.carrying(["rock", "jazz"]).tolist() == [2]
    monkeypatch.setattr(HybridRecommender, "schema", 1)
    rec.save(tmp_path / "old")
    monkeypatch.undo()
    with pytest.raises(ModelBundleError) as caught:
        read_bundle(tmp_path / "old")
    message = str(caught.value)
    assert "holds a 'recommender' saved in layout 1; this recsys reads layout 2" in message
    assert message.endswith("run `recsys train` to build a new model bundle")


def test_the_threshold_is_part_of_the_typed_config():
    config = RecommenderConfig(tag_filter=TagFilterConfig(min_weight=0.1))
    assert RecommenderConfig.from_dict(config.to_dict()) == config
    rec = HybridRecommender(config).fit(make_dataset())
    assert rec.carrying(["rock"]).tolist() == [0, 1, 2, 3, 4]
