"""ALS specifics: the relative regularization keeps the tuned defaults working on small data."""

from __future__ import annotations

import numpy as np

from recommender.cf.als import ALSConfig, ALSModel
from recommender.core.contract import checkerboard

DATA = checkerboard(40)
PLAYS = DATA.plays


def als(**params) -> ALSModel:
    return ALSModel(ALSConfig(**params))


def test_defaults_work_on_a_small_catalogue() -> None:
    """Tuned on 1,892 users; with an absolute lambda they would flatten 40 users' factors to 0."""
    model = als().fit(DATA)
    top = model.recommend(np.arange(40), n=1, exclude=PLAYS)
    assert top.ids[:, 0].tolist() == list(range(40))
    assert np.abs(model.user_factors).mean() > 0.05


def test_effective_regularization_follows_the_confidence_mass() -> None:
    small = als(factors=4, iterations=2).fit(DATA)
    doubled = als(factors=4, iterations=2, alpha=2.0).fit(DATA)
    np.testing.assert_allclose(doubled.effective_regularization, 2 * small.effective_regularization)
    mass = small.weighting.transform(PLAYS).sum() / PLAYS.shape[0]
    np.testing.assert_allclose(small.effective_regularization, 0.134 * mass, rtol=1e-5)


def test_fold_in_recovers_a_trained_users_factor() -> None:
    """recalculate_user on a trained user's own history lands next to that user's learned factor."""
    model = als(factors=8, iterations=30).fit(DATA)
    users = np.array([7, 20, 33])
    folded = model.implicit_model(len(users)).recalculate_user(
        users, model.weighting.transform(PLAYS[users])
    )
    trained = model.user_factors[users]
    norms = np.linalg.norm(folded, axis=1) * np.linalg.norm(trained, axis=1)
    cosine = (folded * trained).sum(1) / norms
    assert np.all(cosine > 0.99), cosine


def test_fit_does_not_trigger_implicits_blas_warning() -> None:
    """implicit warns when OpenBLAS/MKL run their own threads; we limit BLAS to one around fit."""
    import subprocess
    import sys

    code = (
        "import numpy as np, scipy.sparse as sp, threadpoolctl\n"
        "with threadpoolctl.threadpool_limits(limits=2, user_api='blas'):\n"
        "    from recommender.core.registry import create\n"
        "    from recommender.data.dataset import Dataset\n"
        "    plays = sp.random(60, 40, density=0.2, format='csr', dtype=np.float32,"
        " random_state=0)\n"
        "    create('als', factors=4, iterations=2).fit(Dataset.from_plays(plays))\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-500:]


def test_multithreaded_fit_is_still_deterministic() -> None:
    """implicit's ALS solves each user independently, so threads do not change the factors."""
    first = als(seed=5, factors=8, iterations=3, num_threads=2).fit(DATA)
    second = als(seed=5, factors=8, iterations=3, num_threads=2).fit(DATA)
    assert first.threads == 2
    np.testing.assert_array_equal(first.user_factors, second.user_factors)
    np.testing.assert_array_equal(first.item_factors, second.item_factors)
    assert als(factors=8, iterations=1).fit(DATA).threads == 1  # tiny data: one thread
