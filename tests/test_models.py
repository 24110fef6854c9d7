"""The model registry: every CF model is a Ranker built by name, and importing it is cheap."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.data.dataset import Dataset, TagEvents
from recommender.data.vocabulary import Vocabulary
from recommender.errors import InputError
from recommender.evaluation.protocol import Ranker
from recommender.models import RANKERS, create_ranker


def tiny_dataset() -> Dataset:
    rng = np.random.default_rng(0)
    dense = (rng.random((20, 12)) < 0.4) * rng.integers(1, 30, (20, 12))
    dense[:, 11] = 0  # a cold item nobody played
    empty = np.empty(0, dtype=np.int32)
    return Dataset(
        users=Vocabulary.from_ids([f"u{i}" for i in range(20)], kind="user"),
        items=Vocabulary.from_ids([f"t{i}" for i in range(12)], kind="track"),
        tags=Vocabulary.from_ids([], kind="tag"),
        plays=sp.csr_matrix(dense.astype(np.float32)),
        tag_events=TagEvents(empty, empty, empty),
    )


@pytest.mark.parametrize("name", ["als", "bpr", "knn", "rp3beta"])
def test_cf_rankers_keep_the_protocol(name: str) -> None:
    data = tiny_dataset()
    ranker = (
        create_ranker(name, seed=1, factors=4)
        if name in ("als", "bpr")
        else create_ranker(name, seed=1, K=5)
    )
    assert isinstance(ranker, Ranker) and ranker.name == name
    assert ranker.fit(data) is ranker
    scores = ranker.score(np.array([0, 5, 19]))
    assert scores.shape == (3, data.n_items) and scores.dtype == np.float32
    again = (
        create_ranker(name, seed=1, factors=4)
        if name in ("als", "bpr")
        else create_ranker(name, seed=1, K=5)
    )
    np.testing.assert_array_equal(again.fit(data).score(np.array([0, 5, 19])), scores)


def test_registry_entries_are_lazy_strings() -> None:
    assert {"als", "bpr", "knn"} <= set(RANKERS)
    assert all(isinstance(target, str) and ":" in target for target in RANKERS.values())


def test_unknown_model_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown model 'svd'.*als"):
        create_ranker("svd")
    with pytest.raises(InputError, match="unknown parameter"):
        create_ranker("als", depth=3)


def test_importing_the_registry_loads_no_heavy_library() -> None:
    code = (
        "import sys, recommender.models, recommender.cf.base;"
        "heavy = [m for m in ('implicit', 'lightgbm', 'librosa', 'sklearn') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
