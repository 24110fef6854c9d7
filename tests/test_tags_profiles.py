"""Tag profiles: the popular-tag discount, predicted tags for untagged items, new-user profiles."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.data.dataset import Dataset, TagEvents
from recommender.data.vocabulary import Vocabulary
from recommender.tags.profiles import build_tag_space, tag_idf, top_tags

TAGS = ["seen live", "shoegaze", "jazz", "drone"]


def small_dataset() -> Dataset:
    """6 users x 4 items; every user tags everything "seen live"; user 0 also "shoegaze" once."""
    plays = sp.csr_matrix(np.array([[5, 1, 0, 0]] * 3 + [[0, 0, 4, 2]] * 3, dtype=np.float32))
    users, items, tags = [], [], []
    for u in range(6):
        for i in plays[u].indices:
            users.append(u), items.append(i), tags.append(0)
    users.append(0), items.append(0), tags.append(1)
    users.append(3), items.append(2), tags.append(2)
    predicted = sp.csr_matrix((np.array([0.9, 0.8], np.float32), ([3, 3], [3, 2])), shape=(4, 4))
    return Dataset(
        users=Vocabulary.from_ids([f"u{u}" for u in range(6)], kind="user"),
        items=Vocabulary.from_ids([f"t{i}" for i in range(4)], kind="track"),
        tags=Vocabulary.from_ids(TAGS, kind="tag"),
        plays=plays,
        tag_events=TagEvents(
            np.array(users, np.int32), np.array(items, np.int32), np.array(tags, np.int32)
        ),
        predicted_tags=predicted,
    )


def test_a_tag_every_user_applies_ranks_below_a_distinctive_one():
    data = small_dataset()
    idf = tag_idf(data.user_tag_counts())
    assert idf[0] == 0 and idf[1] > 0
    space = build_tag_space(data)
    ranked = [TAGS[t] for t, _ in top_tags(space.user_profiles[0], n=4)]
    # user 0 applied "seen live" twice and "shoegaze" once, yet shoegaze leads the profile
    assert ranked[0] == "shoegaze"
    assert "seen live" not in ranked
    weights = dict(top_tags(space.user_profiles[0], n=4))
    assert np.isclose(np.sqrt(sum(w * w for w in weights.values())), 1.0, atol=1e-5)


def test_items_without_crowd_tags_use_predicted_tags():
    space = build_tag_space(small_dataset())
    assert space.item_from_predicted.tolist() == [False, False, False, True]
    drone, jazz = space.item_vectors[3, 3], space.item_vectors[3, 2]
    assert drone > jazz > 0
    match = space.match(np.array([3, 0]))
    assert match.shape == (2, 4)
    assert match[0, 3] > match[1, 3]  # the jazz tagger matches the predicted jazz/drone item more


def test_out_of_distribution_predicted_vectors_are_scaled_by_their_weight():
    data = small_dataset()
    flagged = data.replace(predicted_ood=np.array([True, False, False, True]))
    plain = build_tag_space(data)
    assert build_tag_space(flagged).item_vectors.toarray() == pytest.approx(
        plain.item_vectors.toarray()
    )  # weight 1 by default: flags change nothing
    half = build_tag_space(flagged, ood_weight=0.5)
    # item 3 (predicted tags, flagged) is halved; item 0 is flagged but crowd-tagged: kept
    expected = plain.item_vectors.toarray()
    expected[3] *= 0.5
    assert half.item_vectors.toarray() == pytest.approx(expected)
    jazz_fan = plain.profile_for_tags(np.array([2]))  # the same in both spaces
    match_half = (jazz_fan @ half.item_vectors.T).toarray()[0]
    match_plain = (jazz_fan @ plain.item_vectors.T).toarray()[0]
    assert match_half[3] == pytest.approx(0.5 * match_plain[3]) and match_plain[3] > 0
    assert build_tag_space(flagged, ood_weight=0.0).item_vectors[3].sum() == 0


def test_profile_for_new_user_tags_is_unit_length_on_those_tags():
    space = build_tag_space(small_dataset())
    profile = space.profile_for_tags(np.array([1, 2]))
    assert set(profile.indices.tolist()) == {1, 2}
    assert np.isclose(np.linalg.norm(profile.data), 1.0)
