"""Is a difference in the table real? Confidence intervals and paired tests over users.

Every ranking metric is a mean over the test users, so the users are the sampling unit:
another draw of users would give other means. Two models a few thousandths of NDCG apart
(the hybrid and ALS on HetRec) may differ by more than that draw, or not: a table of
means alone cannot say. What this module adds, each from a maintained library:

- An interval for each model's mean: percentile bootstrap over users
  (`scipy.stats.bootstrap`). BCa would correct for the skew of per-user values (a
  third of HetRec's users score 0 on NDCG@10), but on thousands of users the two agree to the fourth
  decimal (hybrid - ALS on HetRec: +0.0020..+0.0084 either way), while BCa's jackknife
  costs O(users^2): a second per interval on HetRec's 1,884 users, 80 s for one table.
- A paired comparison of every model with one reference model on the same users: the
  mean of the per-user differences with its percentile bootstrap interval, and the
  two-sided p-value of a paired t-test of that mean (`scipy.stats.ttest_1samp` of the
  differences against 0). Why this test: it tests the mean difference, the number the
  table and the interval show (Wilcoxon's signed-rank tests the ranks instead and drops
  the many users whose difference is 0, so it can disagree with the mean); on the
  hundreds to thousands of users of an evaluation the mean difference is normal enough
  by the central limit theorem whatever the shape of the per-user values; and its
  p-value is exact arithmetic, where a randomisation test's is Monte Carlo with a
  floor of 2 / (resamples + 1), which Holm multiplies by the number of models (with
  1000 resamples and seven models nothing could pass alpha = 0.01). In IR evaluations
  the t-test agrees with the randomisation test and beats Wilcoxon and sign tests
  (Smucker, Allan and Carterette, CIKM 2007; Urbano, Lima and Hanjalic, SIGIR 2019).
  On a few dozen users (a small demo) read its p-values as approximate.
- Multiple comparisons: m models against one reference are m tests per metric. Holm-
  Bonferroni (`statsmodels.stats.multitest.multipletests`) keeps the chance of any false
  "significant" among them at alpha under any dependence between the tests, and rejects
  at least what Bonferroni does. The family is one metric at one cut-off. (scipy alone
  offers only Benjamini-Hochberg, which bounds the false discovery rate instead.)

What the intervals and tests do not cover: the randomness of the split and of training.
They hold the trained models fixed and ask only how much the choice of users moves the
means; another CF seed can move a model more than that (on HetRec the hybrid's NDCG@10
moved by 0.002 between two CF seeds). Repeat with other --seed values for that part.

ranx has comparisons too, but only from its own Qrels/Run objects: it would mean a
second implementation of the metrics; its tests have no Holm correction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# numpy and scipy load inside the functions: the CLI reads these defaults at start-up
RESAMPLES = 1000
ALPHA = 0.05
INTERVAL = "percentile bootstrap over users"
TEST = "two-sided paired t-test of the mean per-user difference"
CORRECTION = "Holm-Bonferroni over the models compared with the reference, per metric"


def mean_interval(
    values: np.ndarray, *, confidence: float = 1 - ALPHA, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """(low, high) of a percentile bootstrap interval of the mean of `values` (one per user).

    Constant values have a zero-width interval (every resample has their mean).
    """
    import numpy as np
    from scipy.stats import bootstrap

    values = np.asarray(values, dtype=np.float64)
    if not len(values):
        return math.nan, math.nan
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    interval = bootstrap(
        (values,),
        np.mean,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    ).confidence_interval
    return float(interval.low), float(interval.high)


def paired_p_value(differences: np.ndarray) -> float:
    """Two-sided p-value of "the mean per-user difference is 0": a paired t-test.

    Equal differences for every user have no spread to test against: 1 when they
    are all 0 (two models that score every user alike), else 0.
    """
    import numpy as np
    from scipy.stats import ttest_1samp

    differences = np.asarray(differences, dtype=np.float64)
    if np.ptp(differences) == 0:
        return 1.0 if not np.any(differences) else 0.0
    return float(ttest_1samp(differences, 0.0).pvalue)


def holm(p_values: Sequence[float], *, alpha: float = ALPHA) -> tuple[list[float], list[bool]]:
    """(Holm-adjusted p-values, which survive at `alpha`), in the order given."""
    if not len(p_values):
        return [], []
    from statsmodels.stats.multitest import multipletests

    reject, adjusted, _, _ = multipletests(list(p_values), alpha=alpha, method="holm")
    return [float(p) for p in adjusted], [bool(r) for r in reject]


def with_significance(
    result: dict[str, Any],
    *,
    reference: str | None,
    resamples: int = RESAMPLES,
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """A copy of an evaluation result with intervals and paired tests, without per-user values.

    Every model row gets "ci" ({"ndcg@10": [low, high], ...}, confidence 1 - alpha); with
    a `reference` row, every other row also gets "vs_reference" ({"ndcg@10": {"difference",
    "ci", "p", "p_holm", "significant"}}); "significance" records how. Seeded by the
    result's seed, each computation afresh, so a row's numbers do not depend on which
    other models ran. A reference that failed to evaluate is noted, not compared with.
    """
    import numpy as np

    rows = [dict(entry) for entry in result["models"]]
    names = [entry["name"] for entry in rows]
    if reference is not None and reference not in names:
        raise ValueError(f"reference {reference!r} is not one of the evaluated rows {names}")
    scored = [entry for entry in rows if "per_user" in entry]
    if len(scored) < sum("error" not in entry for entry in rows):
        raise ValueError("the result has no per-user values (already summarised?)")
    seed, confidence = int(result["seed"]), 1 - alpha
    draws = {"confidence": confidence, "resamples": resamples, "seed": seed}
    notes = list(result.get("notes", []))
    base = next((entry for entry in scored if entry["name"] == reference), None)
    if reference is not None and base is None:
        notes.append(f"no paired tests: the reference {reference} failed to evaluate")
    for entry in scored:
        entry["ci"] = {
            key: list(mean_interval(values, **draws)) for key, values in entry["per_user"].items()
        }
    others = [entry for entry in scored if base is not None and entry is not base]
    for entry in others:
        entry["vs_reference"] = {}
        for key, values in entry["per_user"].items():
            differences = values - base["per_user"][key]
            entry["vs_reference"][key] = {
                "difference": float(np.mean(differences)),
                "ci": list(mean_interval(differences, **draws)),
                "p": paired_p_value(differences),
            }
    for key in others[0]["vs_reference"] if others else ():
        tests = [entry["vs_reference"][key] for entry in others]
        adjusted, survives = holm([test["p"] for test in tests], alpha=alpha)
        for test, p_holm, significant in zip(tests, adjusted, survives, strict=True):
            test.update(p_holm=p_holm, significant=significant)
    users = len(next(iter(scored[0]["per_user"].values()))) if scored else 0
    for entry in scored:
        del entry["per_user"]
    return {
        **result,
        "models": rows,
        "notes": notes,
        "significance": {
            "reference": reference if base is not None else None,
            "alpha": alpha,
            "confidence": confidence,
            "resamples": resamples,
            "seed": seed,
            "users": users,
            "interval": INTERVAL,
            "test": TEST,
            "correction": CORRECTION,
        },
    }
