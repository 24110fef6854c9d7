"""Intervals and paired tests over users: a 5-user case worked by hand, then a real run."""

import itertools
import math

import numpy as np
import pytest

from recommender.data.synthetic import synthetic_dataset
from recommender.evaluation.metrics import RANKING_METRICS
from recommender.evaluation.report import (
    BETTER,
    WORSE,
    interval_columns,
    interval_rows,
    markdown_report,
    significance_note,
    table_rows,
)
from recommender.evaluation.runner import evaluate_dataset
from recommender.evaluation.significance import (
    holm,
    mean_interval,
    paired_p_value,
    with_significance,
)

# NDCG@10 of 5 users under a reference and a model; per-user differences
# d = (0.1, 0.2, 0.3, 0.0, -0.1): mean 0.1, sample sd sqrt(0.1 / 4), t = 0.1 / (sd / sqrt 5)
# = sqrt 2 on 4 degrees of freedom.
REFERENCE = np.array([0.5, 0.2, 0.0, 1.0, 0.3])
MODEL = np.array([0.6, 0.4, 0.3, 1.0, 0.2])
# Student's t with 4 df in closed form: P(|T| < t) = sin(th) (1 + cos(th)^2 / 2), tan(th) =
# t / 2; at t = sqrt 2, sin(th) = 1/sqrt 3 and cos(th)^2 = 2/3, so p = 1 - 4 / (3 sqrt 3).
P_HAND = 1 - 4 / (3 * math.sqrt(3))


def exact_bootstrap_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The percentile interval of the exact bootstrap: every one of the n**n resamples once."""
    n = len(values)
    means = [values[list(pick)].mean() for pick in itertools.product(range(n), repeat=n)]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def hand_result() -> dict:
    """An evaluation result as the runner shapes it, with the per-user values above."""
    ones = np.ones(5)

    def row(name, ndcg):
        return {
            "name": name,
            "metrics": {"ndcg@10": float(ndcg.mean()), "hit@10": 1.0},
            "per_user": {"ndcg@10": ndcg, "hit@10": ones},
        }

    return {
        "k": 10,
        "ks": [10],
        "seed": 0,
        "users_evaluated": 5,
        "notes": [],
        "models": [row("als", REFERENCE), row("hybrid", MODEL), {"name": "bad", "error": "no"}],
    }


def test_the_hand_case_difference_interval_and_p_value():
    result = with_significance(hand_result(), reference="als", resamples=20_000)
    als, hybrid, bad = result["models"]
    test = hybrid["vs_reference"]["ndcg@10"]
    assert test["difference"] == pytest.approx(0.1)
    assert test["p"] == pytest.approx(P_HAND, abs=1e-12)  # 0.2302
    assert test["p_holm"] == pytest.approx(P_HAND, abs=1e-12)  # one comparison: unchanged
    assert test["significant"] is False
    # exact bootstrap of the differences: (-0.02, 0.22); of the model's values: (0.28, 0.76)
    assert exact_bootstrap_interval(MODEL - REFERENCE) == pytest.approx((-0.02, 0.22))
    assert exact_bootstrap_interval(MODEL) == pytest.approx((0.28, 0.76))
    assert test["ci"] == pytest.approx([-0.02, 0.22])
    assert hybrid["ci"]["ndcg@10"] == pytest.approx([0.28, 0.76])
    # the same value for every user: no spread, nothing to test
    assert hybrid["ci"]["hit@10"] == [1.0, 1.0]
    assert hybrid["vs_reference"]["hit@10"] == {
        "difference": 0.0,
        "ci": [0.0, 0.0],
        "p": 1.0,
        "p_holm": 1.0,
        "significant": False,
    }
    assert "vs_reference" not in als and "ci" in als and "ci" not in bad
    assert not any("per_user" in model for model in result["models"])
    assert result["significance"]["reference"] == "als"
    assert result["significance"]["confidence"] == 0.95


def test_holm_on_three_p_values_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01, max(0.03, 2 x 0.03), max(0.06, 1 x 0.04)
    adjusted, significant = holm([0.01, 0.04, 0.03], alpha=0.05)
    assert adjusted == pytest.approx([0.03, 0.06, 0.06])
    assert significant == [True, False, False]  # 0.04 and 0.03 pass alone, not together
    assert holm([], alpha=0.05) == ([], [])


def test_intervals_are_seeded_and_degenerate_cases_are_defined():
    values = np.random.default_rng(3).random(200)
    assert mean_interval(values, seed=1) == mean_interval(values, seed=1)
    assert mean_interval(values, seed=1) != mean_interval(values, seed=2)
    low, high = mean_interval(values, confidence=0.9)
    assert low < values.mean() < high and (low, high) != mean_interval(values, confidence=0.99)
    assert mean_interval(np.zeros(4)) == (0.0, 0.0)
    assert all(math.isnan(bound) for bound in mean_interval(np.array([])))
    assert paired_p_value(np.zeros(4)) == 1.0
    assert paired_p_value(np.full(4, 0.2)) == 0.0  # every user gains exactly the same


def test_unknown_or_failed_reference_and_summarised_results():
    with pytest.raises(ValueError, match="'knn' is not one of the evaluated rows"):
        with_significance(hand_result(), reference="knn")
    failed = with_significance(hand_result(), reference="bad")
    assert failed["significance"]["reference"] is None
    assert failed["notes"] == ["no paired tests: the reference bad failed to evaluate"]
    assert not any("vs_reference" in model for model in failed["models"])
    assert significance_note(failed) is None
    assert interval_columns(failed) == ["model", "NDCG@10", "95% CI"]
    alone = with_significance(hand_result(), reference=None)
    assert alone["models"][1]["ci"]["ndcg@10"] == pytest.approx([0.28, 0.76], abs=0.021)
    with pytest.raises(ValueError, match="no per-user values"):
        with_significance(alone, reference="als")


@pytest.fixture(scope="module")
def evaluated():
    data = synthetic_dataset(n_users=300, n_items=200, plays_per_user=15, seed=1)
    return evaluate_dataset(data, split="random", models=["als", "knn"], k=10, seed=0)


def test_a_run_keeps_per_user_values_that_average_to_its_metrics(evaluated):
    users = evaluated["users_evaluated"]
    for model in evaluated["models"]:
        assert set(model["per_user"]) == {f"{m}@10" for m in RANKING_METRICS}
        for key, values in model["per_user"].items():
            assert values.shape == (users,)
            assert values.mean() == pytest.approx(model["metrics"][key])


def test_a_run_compared_with_als_marks_and_reports(evaluated):
    result = with_significance(evaluated, reference="als")
    rows = {model["name"]: model for model in result["models"]}
    assert list(rows) == ["random", "pop", "als", "knn"]
    for model in rows.values():
        low, high = model["ci"]["ndcg@10"]
        assert low < model["metrics"]["ndcg@10"] < high
    for name in ("random", "pop", "knn"):
        test = rows[name]["vs_reference"]["ndcg@10"]
        difference = rows[name]["metrics"]["ndcg@10"] - rows["als"]["metrics"]["ndcg@10"]
        assert test["difference"] == pytest.approx(difference)
        assert test["ci"][0] < test["difference"] < test["ci"][1]
        assert test["p"] <= test["p_holm"] <= min(1.0, 3 * test["p"])
    # random is far below als on this data, knn far above
    assert rows["random"]["vs_reference"]["ndcg@10"]["significant"]
    assert rows["knn"]["vs_reference"]["ndcg@10"]["significant"]
    table = {row[0]: row for row in table_rows(result)}
    assert table["random"][3].endswith(WORSE) and table["knn"][3].endswith(BETTER)
    assert not table["als"][3].endswith((BETTER, WORSE))
    assert significance_note(result).startswith(f"{BETTER}/{WORSE} better/worse than als")
    assert interval_columns(result) == [
        "model",
        "NDCG@10",
        "95% CI",
        "\u0394 als",
        "\u0394 95% CI",
        "p",
        "Holm p",
    ]
    intervals = {row[0]: row for row in interval_rows(result)}
    assert intervals["als"][3] == "reference"
    assert intervals["knn"][3] == f"{rows['knn']['vs_reference']['ndcg@10']['difference']:+.4f}▲"
    report = markdown_report(result)
    assert "## Confidence intervals and paired tests" in report
    assert report.count("| model | ") == 6  # the main table and one per ranking metric
    assert "paired t-test" in report and "Holm-Bonferroni" in report
