"""Every registered component passes the one contract (`recommender.core.contract`)."""

from __future__ import annotations

import pytest

from recommender.core.contract import NONE, PERSONAL, POPULAR, check_ranker, check_tagger
from recommender.core.registry import Spec, component_class, create, names

# small-data settings: the tuned defaults target thousands of users
SMALL = {
    "als": {"factors": 8},
    "spark-als": {"factors": 8},
    "bpr": {"factors": 8, "learning_rate": 0.05, "iterations": 200},
    "knn": {"K": 20},
    "rp3beta": {"K": 20},
}
SMALL_CF = Spec.of("als", factors=8)
ANSWERS = {"random": NONE, "pop": POPULAR, "tag-pop": POPULAR}


def small(name: str, seed: int = 3):
    if name in ("content", "hybrid"):
        return create(name, cf=SMALL_CF, seed=seed)
    if name == "rerank":
        hybrid = component_class("hybrid").Config(cf=SMALL_CF)
        return create(name, hybrid=hybrid, seed=seed)
    return create(name, seed=seed, **SMALL.get(name, {}))


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.spark) if n == "spark-als" else n
        for n in names("cf", "baseline", "hybrid")
    ],
)
def test_ranker_contract(name: str, request: pytest.FixtureRequest) -> None:
    if name == "spark-als":
        request.getfixturevalue("spark")  # local-mode Spark, or a skip (a failure under CI)
    check_ranker(lambda: small(name), answer=ANSWERS.get(name, PERSONAL))


@pytest.mark.parametrize("name", names("tagger"))
def test_tagger_contract(name: str) -> None:
    check_tagger(lambda: create(name, seed=5))


@pytest.mark.parametrize("name", names())
def test_every_config_round_trips_with_its_seed(name: str) -> None:
    cls = component_class(name)
    config = cls.Config().with_seed(11)
    assert cls.Config.from_dict(config.to_dict()) == config
    assert "seed" not in config.to_dict() or config.to_dict()["seed"] == 11
