"""The contract test every component must pass, shipped with the core so that a new
component (ours or yours) is checked exactly like the registered ones.

`check_ranker` and `check_tagger` are plain functions that raise AssertionError;
`tests/test_contract.py` runs them over every registered component. The data has
known answers, as in implicit's own contract test: on a checkerboard (even users
play even items, odd users odd items, the diagonal held out) the right first
recommendation for user u is item u; a non-personalised ranker's is the lowest-index
unplayed item (all items tie); a tagger must get every clear-cut example right.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recommender.core.component import Component, Ranker, Tagger
from recommender.core.configs import Config
from recommender.data.dataset import Dataset, TagEvents

PERSONAL, POPULAR, NONE = "personal", "popular", "none"


def checkerboard(size: int = 40, *, seed: int = 0) -> Dataset:
    """size x size plays: user u played every item of u's parity except item u (1..20 plays).
    Half the users (u % 4 < 2) tagged everything they played with its parity's tag
    ("even"/"odd") and "favorites", which, applied by half of all users, carries no weight.
    Items "sound" like their parity: a 3-d audio embedding near (1, 0, .) for even items
    and (0, 1, .) for odd ones."""
    rng = np.random.default_rng(seed)
    board = (np.add.outer(np.arange(size), np.arange(size)) % 2 == 0).astype(np.float32)
    np.fill_diagonal(board, 0)
    plays = sp.csr_matrix(board * rng.integers(1, 21, size=board.shape).astype(np.float32))
    rows, cols = plays.nonzero()
    tagged = rows % 4 < 2
    users, items = rows[tagged], cols[tagged]
    events = TagEvents(
        np.concatenate([users, users]).astype(np.int32),
        np.concatenate([items, items]).astype(np.int32),
        np.concatenate([items % 2, np.full(len(items), 2)]).astype(np.int32),
    )
    base = Dataset.from_plays(plays, tag_events=events, n_tags=3)
    from recommender.data.vocabulary import Vocabulary

    parity = np.arange(size) % 2
    sound = np.column_stack([parity == 0, parity == 1, rng.random(size) * 0.1]).astype(np.float32)
    return base.replace(
        tags=Vocabulary.from_ids(["even", "odd", "favorites"], kind="tag"), item_embeddings=sound
    )


def check_config(cls: type[Component], config: Config) -> None:
    """The config survives JSON and comes back equal, nested configs included."""
    text = json.dumps(config.to_dict())
    assert cls.Config.from_dict(json.loads(text)) == config, f"{cls.name}: config round trip"
    assert cls.Config.from_dict(cls.Config().to_dict()) == cls.Config()


def check_ranker(make: Callable[[], Ranker], *, answer: str = PERSONAL, size: int = 40) -> None:
    """Shapes, seeded determinism, filtering, batch independence, save/load, known answers."""
    data = checkerboard(size)
    model = make().fit(data)
    check_config(type(model), model.config)
    users = np.arange(size)
    scores = model.score(users)
    assert scores.shape == (size, size) and scores.dtype == np.float32, f"{model.name}: scores"
    again = make().fit(data).score(users)
    assert np.array_equal(scores, again), f"{model.name}: same data and seed, other scores"

    top = model.recommend(users, n=3, exclude=data.plays)
    assert top.ids.shape == top.scores.shape == (size, 3) and top.ids.dtype == np.int64
    assert not data.plays[users[:, None], np.maximum(top.ids, 0)].toarray().any(), (
        f"{model.name}: recommended a played item"
    )
    alone = np.vstack([model.score([u]) for u in users])
    if model.batch_invariant:
        assert np.array_equal(alone, scores), f"{model.name}: a user alone != in a batch"
    else:  # BLAS: the same scores up to the last bits
        assert np.allclose(alone, scores, rtol=1e-5, atol=1e-6), f"{model.name}: batch scores"
    odd = np.arange(1, size, 2)
    only_odd = model.recommend(users, n=3, candidates=odd).ids
    assert np.isin(only_odd[only_odd >= 0], odd).all(), f"{model.name}: candidate filter"

    if answer == PERSONAL:
        assert top.ids[:, 0].tolist() == users.tolist(), (
            f"{model.name}: top items {top.ids[:, 0].tolist()}, the held-out item is the user's own"
        )
    elif answer == POPULAR:  # every item has the same audience: ties go to the lower index
        expected = [0 if u == 0 else 1 if u % 2 == 0 else 0 for u in users]
        assert top.ids[:, 0].tolist() == expected, f"{model.name}: tie order"

    with tempfile.TemporaryDirectory() as tmp:
        for mmap in (False, True):
            loaded = type(model).load(model.save(Path(tmp) / f"bundle-{mmap}"), mmap=mmap)
            assert loaded.config == model.config, f"{model.name}: config after load"
            assert np.array_equal(loaded.score(users), scores), f"{model.name}: scores after load"


def separable_tags(n: int = 240, width: int = 6, *, seed: int = 0):
    """(X, Y, clear): tag j is on when feature j > 0; `clear` marks rows far from every edge."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, width))
    Y = (X[:, :3] > 0).astype(np.float64)
    clear = (np.abs(X[:, :3]) > 1.0).all(axis=1)
    return X, Y, clear


def check_tagger(make: Callable[[], Tagger]) -> None:
    """Shapes, determinism, save/load, and every clear-cut held-out example right."""
    X, Y, clear = separable_tags()
    train = np.arange(len(X)) % 4 != 0
    model = make().fit(X[train], Y[train])
    check_config(type(model), model.config)
    held = ~train
    probs = model.predict_proba(X[held])
    assert probs.shape == (held.sum(), 3) and ((probs >= 0) & (probs <= 1)).all()
    assert np.array_equal(probs, make().fit(X[train], Y[train]).predict_proba(X[held]))
    sure = clear[held]
    assert np.array_equal(probs[sure] >= 0.5, Y[held][sure] == 1), (
        f"{model.name}: a clear-cut held-out example was tagged wrong"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for mmap in (False, True):
            loaded = type(model).load(model.save(Path(tmp) / f"bundle-{mmap}"), mmap=mmap)
            assert np.array_equal(loaded.predict_proba(X[held]), probs)
