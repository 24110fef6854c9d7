"""The blend: cold items are scored by content alone, well-played items by CF, on one scale."""

from __future__ import annotations

import numpy as np

from recommender.hybrid.blend import (
    blend_scores,
    content_scores,
    item_priors,
    sources_for,
    standardize_rows,
)
from recommender.hybrid.configs import BlendConfig


def _priors(plays, attention=None, k=10.0):
    attention = np.log1p(plays).astype(np.float32) if attention is None else attention
    return item_priors(plays, attention, np.log1p(plays).astype(np.float32), k=k)


def _blend(cf, mapped, match, content, activity, plays, **params):
    config = BlendConfig(**params)
    return blend_scores(
        cf,
        mapped,
        standardize_rows(match),
        content,
        activity,
        params=config,
        priors=_priors(plays, k=config.k),
    )


def test_cold_items_ignore_cf_and_popular_items_ignore_content():
    rng = np.random.default_rng(0)
    cf, mapped, match, content = (rng.normal(size=(3, 6)).astype(np.float32) for _ in range(4))
    plays = np.array([0, 0, 1, 10, 1000, 100000])
    active = np.full(3, 1000.0)
    base = _blend(cf, mapped, match, content, active, plays, k=5, user_k=0)
    swapped = cf.copy()
    swapped[:, [0, 1]] = cf[:, [1, 0]]  # swap the two cold items' CF scores: row statistics stay
    changed = _blend(swapped, mapped, match, content, active, plays, k=5, user_k=0)
    assert np.allclose(changed[:, :2], base[:, :2], atol=1e-6)
    match2 = match.copy()
    match2[:, 5] += 10
    assert np.allclose(
        _blend(cf, mapped, match2, content, active, plays, k=5, user_k=0)[:, 5],
        base[:, 5],
        atol=1e-3,
    )


def test_cold_items_are_ordered_by_the_content_component():
    rng = np.random.default_rng(1)
    cf, mapped, match, content = (rng.normal(size=(4, 30)).astype(np.float32) for _ in range(4))
    plays = np.where(np.arange(30) < 12, 0, rng.integers(1, 50, 30))  # 12 never-played items
    for user_k in (0, 8):
        scores = _blend(cf, mapped, match, content, np.array([0, 1, 5, 90]), plays, user_k=user_k)
        for row in range(4):
            assert np.argsort(-scores[row, :12]).tolist() == np.argsort(-content[row, :12]).tolist()


def test_a_user_without_history_gets_popularity_and_their_tags():
    rng = np.random.default_rng(2)
    cf, mapped, match = (rng.normal(size=(2, 8)).astype(np.float32) for _ in range(3))
    plays = np.array([3, 50, 0, 7, 400, 1, 9, 20])
    content = np.zeros((2, 8), np.float32)  # no tags, no profile: content says nothing
    scores = _blend(cf, mapped, match, content, np.array([0, 10_000]), plays, user_k=8)
    assert np.argsort(-scores[0]).tolist() == np.argsort(-plays, kind="stable").tolist()
    assert not np.array_equal(np.argsort(-scores[1]), np.argsort(-scores[0]))


def test_standardize_and_content_scores():
    z = standardize_rows(np.array([[1, 2, 3], [5, 5, 5]], np.float32))
    assert np.allclose(z[0].mean(), 0) and np.allclose(z[0].std(), 1) and not z[1].any()
    z_match = standardize_rows(np.array([[0.1, 0.9, 0.5]], np.float32))
    plays = np.array([3, 3, 3])
    flat = _priors(plays, attention=np.zeros(3, np.float32))
    only_match = content_scores(None, z_match, content_mix=0.5, attention_weight=0, priors=flat)
    assert np.argmax(only_match) == 1
    attention = _priors(plays, attention=np.array([10.0, 0.0, 0.0], np.float32))
    scores = content_scores(None, z_match, content_mix=0.0, attention_weight=5, priors=attention)
    assert np.argmax(scores) == 0


def test_sources_follow_the_cf_weight():
    labels = sources_for(np.array([0, 1, 5, 20, 500]), k=5).tolist()
    assert labels == ["content", "content", "hybrid", "cf", "cf"]


def test_cold_items_get_a_bounded_number_of_slots():
    from recommender.hybrid.blend import cap_cold_items

    scores = np.array([[5.0, 4.0, 3.0, 2.0, 1.0, 0.5]], np.float32)
    cold = np.flatnonzero(np.array([0, 0, 0, 7, 9, 0]) == 0)  # items 0, 1, 2 and 5: no plays
    capped = cap_cold_items(scores, cold, slots=2)
    order = np.argsort(-capped[0]).tolist()
    assert order[:4] == [0, 1, 3, 4]  # the two best cold items keep their place, the rest drop
    assert set(order[4:]) == {2, 5} and capped[0, 2] > capped[0, 5]
    assert np.array_equal(cap_cold_items(scores, cold, slots=-1), scores)
