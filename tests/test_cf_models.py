"""What CF models add to the contract: similar items, fold-in, factors, and their errors.

On the contract's checkerboard (even users play even items, the diagonal held out),
so the right answers are known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.cf.base import CFModel
from recommender.core import component
from recommender.core.contract import checkerboard
from recommender.core.registry import component_class, create
from recommender.errors import InputError, ModelBundleError
from tests.test_contract import SMALL

DATA = checkerboard(40)
NAMES = ("als", "bpr", "knn", "rp3beta")


@pytest.fixture(scope="module", params=NAMES)
def model(request: pytest.FixtureRequest) -> CFModel:
    return create(request.param, seed=3, **SMALL[request.param]).fit(DATA)


def test_similar_items_share_a_parity(model: CFModel) -> None:
    for item in (0, 7, 22, 39):
        ids, scores = model.similar_items(item, n=5)
        assert len(ids) == 5 and item not in ids.tolist()
        assert (ids % 2 == item % 2).all() and (np.diff(scores) <= 0).all()


def test_fold_in_of_a_trained_history_finds_the_held_out_item(model: CFModel) -> None:
    users = np.array([2, 9, 20, 33])
    scores = model.score_history(DATA.plays[users])
    assert scores.shape == (4, 40) and scores.dtype == np.float32
    top = component.top_k(scores, 1, exclude=DATA.plays[users]).ids[:, 0]
    assert top.tolist() == users.tolist()
    with pytest.raises(InputError, match="item columns"):
        model.score_history(sp.csr_matrix((1, 41), dtype=np.float32))


def test_factors_are_exposed_for_factor_models(model: CFModel) -> None:
    if model.name in ("knn", "rp3beta"):
        assert model.item_factors is None and model.user_factors is None
        return
    np.testing.assert_allclose(
        model.user_factors[:3] @ model.item_factors.T, model.score(np.arange(3)), rtol=1e-5
    )


def test_batches_do_not_change_the_lists(model: CFModel, monkeypatch) -> None:
    users = np.arange(40)
    whole = model.recommend(users, n=5, exclude=DATA.plays)
    monkeypatch.setattr(component, "BATCH_CELLS", 40 * 3)  # three users a batch
    monkeypatch.setattr(component.row_batches, "__defaults__", (40 * 3,))
    batched = model.recommend(users, n=5, exclude=DATA.plays)
    np.testing.assert_array_equal(batched.ids[:, 0], whole.ids[:, 0])


def test_loading_another_model_class_or_a_pickled_array_is_refused(model, tmp_path) -> None:
    path = model.save(tmp_path / "cf")
    other = component_class("knn" if model.name in ("als", "bpr") else "als")
    with pytest.raises(ModelBundleError, match="not a"):
        other.load(path)
    name = sorted((path / "arrays").iterdir())[0]
    with open(name, "wb") as handle:  # a pickled object array in place of the real one
        np.save(handle, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ModelBundleError, match="recsys train"):
        type(model).load(path)


def test_unknown_models_and_parameters_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown component 'svd'"):
        create("svd")
    with pytest.raises(InputError, match="unknown parameter.*factorz"):
        create("als", factorz=3)
    with pytest.raises(InputError, match="unknown weighting"):
        create("als", **{"weighting.kind": "tfidf"})
    with pytest.raises(InputError, match="similarity"):
        create("knn", similarity="jaccard")
    with pytest.raises(InputError, match="RP3beta needs"):
        create("rp3beta", beta=-1.0)


def test_an_unfitted_model_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        create("als").recommend(np.array([0]))
