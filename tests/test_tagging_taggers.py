"""Every tagger on a synthetic multi-label problem with a known answer; save/load without pickle."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from recommender.core.registry import component_class, create, names
from recommender.errors import InputError

KINDS = names("tagger")


def _problem(seed: int = 0, n: int = 300, d: int = 12, tags: int = 4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 100, size=d)  # wildly different scales
    W = rng.normal(size=(d, tags)) / X.std(axis=0)[:, None]
    Y = ((X @ W + 0.3 * rng.normal(size=(n, tags))) > 0.5).astype(np.uint8)
    return X, Y


@pytest.mark.parametrize("kind", KINDS)
def test_learns_a_known_rule_and_round_trips(kind, tmp_path):
    X, Y = _problem()
    tagger = create(kind, seed=0).fit(X[:220], Y[:220])
    probs = tagger.predict_proba(X[220:])
    assert probs.shape == (80, 4) and ((probs >= 0) & (probs <= 1)).all()
    aucs = [roc_auc_score(Y[220:, j], probs[:, j]) for j in range(4)]
    assert min(aucs) > 0.85, aucs
    loaded = component_class(kind).load(tagger.save(tmp_path / "tagger"))
    np.testing.assert_allclose(loaded.predict_proba(X[220:]), probs, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_seeded_fits_are_identical(kind):
    X, Y = _problem(seed=1, n=120)
    a = create(kind, seed=3).fit(X, Y).predict_proba(X)
    b = create(kind, seed=3).fit(X, Y).predict_proba(X)
    np.testing.assert_allclose(a, b, rtol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
def test_single_tag_and_constant_tag(kind):
    X, Y = _problem(seed=2, n=150, tags=1)
    Y2 = np.hstack([Y, np.zeros_like(Y)])  # a tag no training track has
    probs = create(kind, seed=0).fit(X, Y2).predict_proba(X)
    assert probs.shape == (150, 2)
    assert roc_auc_score(Y[:, 0], probs[:, 0]) > 0.9
    assert probs[:, 1].max() < 0.05


def test_unknown_kind_is_an_input_error():
    with pytest.raises(InputError, match="unknown tagger 'svm'"):
        component_class("svm", "tagger")


def test_mlp_gradient_is_exact():
    from scipy.optimize import check_grad

    from recommender.tagging.perceptron import MLPConfig, MLPTagger

    X, Y = _problem(seed=4, n=30, d=5, tags=2)
    captured = {}
    tagger = MLPTagger(MLPConfig(hidden=4, max_iter=1, seed=0))
    original = tagger._minimise
    tagger._minimise = lambda f, theta0: captured.update(f=f, theta=theta0) or original(f, theta0)
    tagger.fit(X, Y)
    f = captured["f"]
    error = check_grad(lambda t: f(t)[0], lambda t: f(t)[1], captured["theta"] + 0.1)
    assert error < 1e-4
