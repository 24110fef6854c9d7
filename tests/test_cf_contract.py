"""One contract, every CF model: a block-diagonal play matrix where the right answers are known.

Users in block b play only items of block b, so each model must recommend the
unplayed items of the user's own block, find neighbours inside the block, and
give the same answers after a save/load round trip or for a folded-in user.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.cf.base import CFModel, create_cf_model, load_cf_model
from recommender.cf.topn import top_n
from recommender.errors import InputError, ModelBundleError

BLOCKS, USERS_PER_BLOCK, ITEMS_PER_BLOCK, PLAYED = 4, 30, 15, 10
N_USERS, N_ITEMS = BLOCKS * USERS_PER_BLOCK, BLOCKS * ITEMS_PER_BLOCK

# small-data settings: the tuned defaults target thousands of users
PARAMS = {
    "als": {"factors": 8},
    "bpr": {"factors": 8, "learning_rate": 0.05, "iterations": 200},
    "knn": {"K": 20},
    "rp3beta": {"K": 20},
}


def block_of_user(user: int | np.ndarray) -> int | np.ndarray:
    return user // USERS_PER_BLOCK


def block_of_item(item: int | np.ndarray) -> int | np.ndarray:
    return item // ITEMS_PER_BLOCK


def make_plays(seed: int = 7) -> sp.csr_matrix:
    """Each user plays PLAYED of the ITEMS_PER_BLOCK items of their block, 1..50 times."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for user in range(N_USERS):
        block = block_of_user(user)
        items = rng.choice(ITEMS_PER_BLOCK, PLAYED, replace=False) + block * ITEMS_PER_BLOCK
        rows.extend([user] * PLAYED)
        cols.extend(items.tolist())
    counts = rng.integers(1, 51, len(rows)).astype(np.float32)
    return sp.csr_matrix((counts, (rows, cols)), shape=(N_USERS, N_ITEMS))


PLAYS = make_plays()


@pytest.fixture(scope="module", params=sorted(PARAMS))
def name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def model(name: str) -> CFModel:
    return create_cf_model(name, seed=3, **PARAMS[name]).fit(PLAYS)


def unplayed_block_items(user: int) -> set[int]:
    block = block_of_user(user)
    block_items = set(range(block * ITEMS_PER_BLOCK, (block + 1) * ITEMS_PER_BLOCK))
    return block_items - set(PLAYS[user].indices.tolist())


def test_recommends_the_unplayed_items_of_the_users_block(model: CFModel) -> None:
    users = np.arange(N_USERS)
    ids, scores = model.recommend(users, PLAYS, n=ITEMS_PER_BLOCK - PLAYED)
    assert ids.shape == scores.shape == (N_USERS, ITEMS_PER_BLOCK - PLAYED)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    hits = [set(ids[u].tolist()) == unplayed_block_items(u) for u in users]
    assert np.mean(hits) >= 0.95, (
        f"only {np.mean(hits):.2%} of users got exactly their block's unplayed items"
    )
    assert np.all(np.diff(scores, axis=1) <= 0), "scores must be sorted best first"


def test_filter_played(model: CFModel) -> None:
    users = np.arange(0, N_USERS, 7)
    ids, _ = model.recommend(users, PLAYS[users], n=PLAYED)
    for row, user in enumerate(users):
        assert not set(ids[row].tolist()) & set(PLAYS[user].indices.tolist())
    ids, _ = model.recommend(users, PLAYS[users], n=PLAYED, filter_played=False)
    played_in_top = [
        len(set(ids[r].tolist()) & set(PLAYS[u].indices.tolist())) for r, u in enumerate(users)
    ]
    assert sum(played_in_top) > 0, "without filtering, played items of the block must appear"
    assert np.all(block_of_item(ids) == block_of_user(users)[:, None])


def test_items_restricts_candidates(model: CFModel) -> None:
    user = 5  # block 0
    candidates = np.concatenate(
        [np.arange(ITEMS_PER_BLOCK, 3 * ITEMS_PER_BLOCK), sorted(unplayed_block_items(user))]
    )
    ids, scores = model.recommend(np.array([user]), PLAYS[[user]], n=8, items=candidates)
    assert set(ids[0].tolist()) <= set(candidates.tolist())
    assert set(ids[0, :5].tolist()) == unplayed_block_items(user), (
        "own-block candidates must come first"
    )
    # fewer candidates than n: padded with -1 / -inf
    few = np.array(sorted(unplayed_block_items(user)))[:2]
    ids, scores = model.recommend(np.array([user]), PLAYS[[user]], n=4, items=few)
    assert sorted(ids[0, :2].tolist()) == few.tolist()
    assert ids[0, 2:].tolist() == [-1, -1] and np.all(np.isneginf(scores[0, 2:]))


def test_batch_equals_single_user_and_score(model: CFModel) -> None:
    users = np.array([0, 31, 64, 100, 119])
    ids, scores = model.recommend(users, PLAYS[users], n=6)
    for row, user in enumerate(users):
        one_ids, one_scores = model.recommend(np.array([user]), PLAYS[[user]], n=6)
        np.testing.assert_array_equal(one_ids[0], ids[row])
        np.testing.assert_allclose(one_scores[0], scores[row], rtol=1e-5)
    dense = model.score(users)
    assert dense.shape == (len(users), N_ITEMS) and dense.dtype == np.float32
    expected, _ = top_n(dense, 6, exclude=PLAYS[users])
    assert np.mean(expected == ids) >= 0.95  # equal up to float ties


def test_more_than_catalogue_is_padded(model: CFModel) -> None:
    ids, scores = model.recommend(np.array([0]), PLAYS[[0]], n=N_ITEMS + 3)
    assert ids.shape == (1, N_ITEMS + 3)
    valid = ids[0][ids[0] >= 0]
    assert len(valid) == N_ITEMS - PLAYED and len(set(valid.tolist())) == len(valid)
    assert np.all(np.isneginf(scores[0, len(valid) :]))


def test_similar_items_share_a_block(model: CFModel) -> None:
    for item in (0, 17, 44, 59):
        ids, scores = model.similar_items(item, n=5)
        assert len(ids) == 5 and item not in ids.tolist()
        assert np.all(block_of_item(ids) == block_of_item(item))
        assert np.all(np.diff(scores) <= 0)


def test_fold_in_matches_a_trained_user(model: CFModel) -> None:
    """A user the model never saw, with a trained user's history, gets that user's block items."""
    users = np.array([2, 40, 77, 111])
    history = PLAYS[users]
    ids, scores = model.recommend_history(history, n=ITEMS_PER_BLOCK - PLAYED)
    trained, _ = model.recommend(users, history, n=ITEMS_PER_BLOCK - PLAYED)
    for row, user in enumerate(users):
        assert np.all(block_of_item(ids[row]) == block_of_user(user))
        overlap = len(set(ids[row].tolist()) & set(trained[row].tolist()))
        assert overlap >= 4, f"fold-in shares only {overlap} of 5 items with the trained user"
        assert not set(ids[row].tolist()) & set(history[row].indices.tolist())
    with pytest.raises(InputError, match="item columns"):
        model.recommend_history(sp.csr_matrix((1, N_ITEMS + 1), dtype=np.float32))


def test_same_seed_same_model(name: str, model: CFModel) -> None:
    again = create_cf_model(name, seed=3, **PARAMS[name]).fit(PLAYS)
    np.testing.assert_array_equal(again.score(np.arange(N_USERS)), model.score(np.arange(N_USERS)))


def test_factors_exposed_for_mf_models(name: str, model: CFModel) -> None:
    if name in ("knn", "rp3beta"):
        assert model.item_factors is None and model.user_factors is None
        return
    assert model.item_factors.shape[0] == N_ITEMS and model.user_factors.shape[0] == N_USERS
    np.testing.assert_allclose(
        model.user_factors[:3] @ model.item_factors.T,
        model.score(np.arange(3)),
        rtol=1e-4,
        atol=1e-5,
    )


def test_save_load_round_trip(model: CFModel, tmp_path: Path) -> None:
    model.save(tmp_path / "cf")
    assert not list((tmp_path / "cf").glob(".*tmp")), "temporary files must be renamed away"
    manifest = json.loads((tmp_path / "cf" / "cf.json").read_text())
    assert manifest["name"] == model.name and manifest["seed"] == 3
    with np.load(tmp_path / "cf" / "cf.npz", allow_pickle=False) as arrays:
        assert all(arrays[key].dtype != object for key in arrays.files)
    loaded = load_cf_model(tmp_path / "cf")
    assert type(loaded) is type(model) and loaded.params == model.params
    users = np.arange(N_USERS)
    np.testing.assert_array_equal(loaded.score(users), model.score(users))
    for a, b in zip(
        loaded.recommend(users, PLAYS, n=7), model.recommend(users, PLAYS, n=7), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        loaded.recommend_history(PLAYS[:3], n=5)[0], model.recommend_history(PLAYS[:3], n=5)[0]
    )
    np.testing.assert_array_equal(loaded.similar_items(3, n=4)[0], model.similar_items(3, n=4)[0])
    assert type(model).load(tmp_path / "cf").n_items == N_ITEMS


def test_load_missing_or_corrupt_says_run_train(model: CFModel, tmp_path: Path) -> None:
    with pytest.raises(ModelBundleError, match="recsys train"):
        load_cf_model(tmp_path / "nowhere")
    model.save(tmp_path / "cf")
    (tmp_path / "cf" / "cf.npz").write_bytes(b"not a zip file")
    with pytest.raises(ModelBundleError, match="corrupt.*recsys train"):
        load_cf_model(tmp_path / "cf")
    model.save(tmp_path / "cf")
    (tmp_path / "cf" / "cf.json").write_text("{truncated")
    with pytest.raises(ModelBundleError, match="recsys train"):
        load_cf_model(tmp_path / "cf")
    model.save(tmp_path / "cf")
    manifest = json.loads((tmp_path / "cf" / "cf.json").read_text())
    (tmp_path / "cf" / "cf.json").write_text(json.dumps(manifest | {"n_items": N_ITEMS + 1}))
    with pytest.raises(ModelBundleError, match="corrupt"):
        load_cf_model(tmp_path / "cf")
    (tmp_path / "cf" / "cf.npz").unlink()
    with pytest.raises(ModelBundleError, match="incomplete"):
        load_cf_model(tmp_path / "cf")


def test_load_refuses_a_pickled_array(model: CFModel, tmp_path: Path) -> None:
    """An npz smuggling an object array must fail to load instead of executing code."""
    model.save(tmp_path / "cf")
    with np.load(tmp_path / "cf" / "cf.npz", allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    first = sorted(arrays)[0]
    arrays[first] = np.array([{"evil": 1}], dtype=object)
    np.savez(tmp_path / "cf" / "cf.npz", **arrays)
    with pytest.raises(ModelBundleError, match="corrupt"):
        load_cf_model(tmp_path / "cf")


def test_load_with_the_wrong_class(name: str, model: CFModel, tmp_path: Path) -> None:
    from recommender.cf.base import cf_model_class

    model.save(tmp_path / "cf")
    other = cf_model_class("knn" if name != "knn" else "als")
    with pytest.raises(ModelBundleError, match="not"):
        other.load(tmp_path / "cf")


def test_unknown_model_and_parameter_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown CF model 'svd'"):
        create_cf_model("svd")
    with pytest.raises(InputError, match="unknown parameter.*factorz"):
        create_cf_model("als", factorz=3)
    with pytest.raises(InputError, match="unknown weighting"):
        create_cf_model("als", weighting="tfidf")
    with pytest.raises(InputError, match="similarity"):
        create_cf_model("knn", similarity="jaccard")


def test_unfitted_model_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        create_cf_model("als").score(np.array([0]))


def test_batched_scoring_gives_the_same_answers(
    model: CFModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large user sets are scored in batches; the batch size must not change any answer."""
    import recommender.cf.base as base

    users = np.arange(N_USERS)
    whole = model.recommend(users, PLAYS, n=5)
    folded = model.recommend_history(PLAYS[:9], n=5)
    monkeypatch.setattr(base, "BATCH_CELLS", N_ITEMS * 7)  # 7 users per batch
    for a, b in zip(model.recommend(users, PLAYS, n=5), whole, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.recommend_history(PLAYS[:9], n=5), folded, strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.recommend(users[:0], PLAYS[:0], n=5)[0].shape == (0, 5)


def test_base_class_load_dispatches(model: CFModel, tmp_path: Path) -> None:
    model.save(tmp_path / "cf")
    assert type(CFModel.load(tmp_path / "cf")) is type(model)
