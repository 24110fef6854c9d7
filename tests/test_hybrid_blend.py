"""The blend: cold items are scored by content alone, well-played items by CF, on one scale."""

from __future__ import annotations

import numpy as np

from recommender.hybrid.blend import (
    blend_scores,
    content_scores,
    sources_for,
    standardize_rows,
)
from recommender.hybrid.configs import BlendConfig


def test_cold_items_ignore_cf_and_popular_items_ignore_content():
    rng = np.random.default_rng(0)
    cf, mapped, match = (rng.normal(size=(3, 6)).astype(np.float32) for _ in range(3))
    plays = np.array([0, 0, 1, 10, 1000, 100000])
    params = BlendConfig(k=5)
    base = blend_scores(cf, mapped, match, plays, params=params)
    swapped = cf.copy()
    swapped[:, [0, 1]] = cf[:, [1, 0]]  # swap the two cold items' CF scores: row statistics stay
    changed = blend_scores(swapped, mapped, match, plays, params=params)
    assert np.allclose(changed[:, :2], base[:, :2], atol=1e-6)
    match2 = match.copy()
    match2[:, 5] += 10
    assert np.allclose(
        blend_scores(cf, mapped, match2, plays, params=params)[:, 5], base[:, 5], atol=1e-3
    )


def test_standardize_and_content_scores():
    z = standardize_rows(np.array([[1, 2, 3], [5, 5, 5]], np.float32))
    assert np.allclose(z[0].mean(), 0) and np.allclose(z[0].std(), 1) and not z[1].any()
    match = np.array([[0.1, 0.9, 0.5]], np.float32)
    only_match = content_scores(None, match, content_mix=0.5)
    assert np.argmax(only_match) == 1
    attention = np.array([10.0, 0.0, 0.0], np.float32)
    assert (
        np.argmax(
            content_scores(None, match, content_mix=0.0, attention=attention, attention_weight=5)
        )
        == 0
    )


def test_sources_follow_the_cf_weight():
    labels = sources_for(np.array([0, 1, 5, 20, 500]), k=5).tolist()
    assert labels == ["content", "content", "hybrid", "cf", "cf"]


def test_cold_items_get_a_bounded_number_of_slots():
    from recommender.hybrid.blend import cap_cold_items

    scores = np.array([[5.0, 4.0, 3.0, 2.0, 1.0, 0.5]], np.float32)
    plays = np.array([0, 0, 0, 7, 9, 0])  # items 0, 1, 2 and 5 were never played
    capped = cap_cold_items(scores, plays, slots=2)
    order = np.argsort(-capped[0]).tolist()
    assert order[:4] == [0, 1, 3, 4]  # the two best cold items keep their place, the rest drop
    assert set(order[4:]) == {2, 5} and capped[0, 2] > capped[0, 5]
    assert np.array_equal(cap_cold_items(scores, plays, slots=-1), scores)
