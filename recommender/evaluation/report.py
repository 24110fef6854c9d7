"""Evaluation results as table rows, a Markdown report and JSON: one source, three views."""

from __future__ import annotations

import math
from typing import Any

from recommender.evaluation.metrics import RANKING_METRICS

COLUMNS = ("precision", "recall", "ndcg", "map", "hit", "coverage", "novelty", "avg_popularity")
TIED_SHARE = 0.5  # models with constant scores for this share of users get a footnote
# Short headers so the table fits a terminal; LEGEND spells them out in reports.
HEADERS = ("P", "R", "NDCG", "MAP", "HR", "Cov", "Nov", "Pop")
LEGEND = (
    "P precision, R recall, NDCG (binary gain), MAP, HR hit rate, Cov catalogue coverage, "
    "Nov novelty (mean self-information, bits), Pop average training popularity (users) "
    "of the recommended items; fit/rank in seconds"
)


BETTER, WORSE = "\u25b2", "\u25bc"  # significantly better / worse than the reference


def table_columns(result: dict[str, Any]) -> list[str]:
    k = result["k"]
    return ["model", *(f"{name}@{k}" for name in HEADERS), "fit s", "rank s"]


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    """One row per model at the headline cut-off k; a failed model shows its error."""
    k = result["k"]
    rows = []
    for model in result["models"]:
        if "error" in model:
            rows.append([model["name"], f"failed: {model['error']}", *[""] * (len(COLUMNS) + 1)])
            continue
        metrics = model["metrics"]
        rows.append(
            [
                model["name"] + ("*" if _mostly_tied(model) else ""),
                *(_fmt(metrics.get(f"{c}@{k}")) + _mark(model, f"{c}@{k}") for c in COLUMNS),
                _fmt(model["fit_seconds"]),
                _fmt(model["rank_seconds"]),
            ]
        )
    return rows


def _mark(model: dict[str, Any], key: str) -> str:
    """BETTER or WORSE where the paired test against the reference survives Holm's correction."""
    test = model.get("vs_reference", {}).get(key)
    if not test or not test["significant"]:
        return ""
    return BETTER if test["difference"] > 0 else WORSE


def significance_note(result: dict[str, Any]) -> str | None:
    """What the marks mean, or None when the result has no paired tests."""
    settings = result.get("significance")
    if not settings or settings["reference"] is None:
        return None
    compared = sum("vs_reference" in model for model in result["models"])
    return (
        f"{BETTER}/{WORSE} better/worse than {settings['reference']} over the same "
        f"{settings['users']} users: paired t-test, Holm-adjusted p < "
        f"{settings['alpha']:g} over the {compared} models compared"
    )


def interval_columns(result: dict[str, Any], metric: str = "ndcg") -> list[str]:
    """Headers of `interval_rows`: the metric, its interval, the paired difference and p."""
    key = f"{HEADERS[COLUMNS.index(metric)]}@{result['k']}"
    settings = result["significance"]
    level = f"{settings['confidence']:.0%} CI"
    reference = settings["reference"]
    if reference is None:
        return ["model", key, level]
    return ["model", key, level, f"\u0394 {reference}", f"\u0394 {level}", "p", "Holm p"]


def interval_rows(result: dict[str, Any], metric: str = "ndcg") -> list[list[str]]:
    """Per model: mean and interval of one metric at k, and its paired test with the reference."""
    key = f"{metric}@{result['k']}"
    with_tests = result["significance"]["reference"] is not None
    rows = []
    for model in result["models"]:
        if "ci" not in model:
            continue
        row = [model["name"], _fmt(model["metrics"][key]), _span(model["ci"][key], signed=False)]
        test = model.get("vs_reference", {}).get(key)
        if test:
            row += [
                f"{test['difference']:+.4f}" + _mark(model, key),
                _span(test["ci"], signed=True),
                _p(test["p"]),
                _p(test["p_holm"]),
            ]
        elif with_tests:
            row += ["reference", "", "", ""]
        rows.append(row)
    return rows


def _span(interval: list[float], *, signed: bool) -> str:
    low, high = interval
    if math.isnan(low):
        return "-"
    return f"{low:+.4f}\u2026{high:+.4f}" if signed else f"{low:.4f}\u2026{high:.4f}"


def _p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _mostly_tied(model: dict[str, Any]) -> bool:
    return model.get("constant_score_users", 0.0) >= TIED_SHARE


def tie_note(result: dict[str, Any]) -> str | None:
    """A footnote for models that gave most users identical scores for every candidate."""
    tied = [m["name"] for m in result["models"] if "metrics" in m and _mostly_tied(m)]
    if not tied:
        return None
    return (
        f"* {', '.join(tied)}: equal scores for every candidate item for at least "
        f"{TIED_SHARE:.0%} of the users, so their lists are item order (ties are broken by item "
        "index): read those rows as 'cannot rank these items', not as a measured accuracy"
    )


def title(result: dict[str, Any]) -> str:
    data = result["data"]
    params = ", ".join(
        f"{key}={value}" for key, value in result["split_params"].items() if key != "cutoffs"
    )
    return (
        f"{result['split']} split ({params}): {result['users_evaluated']:,} users evaluated, "
        f"{data['candidate_items']:,} candidate items, "
        f"{data['test_interactions']:,} test interactions"
    )


def markdown_report(result: dict[str, Any], *, command: str | None = None) -> str:
    """A self-contained Markdown report: the protocol, the table, and how to reproduce it."""
    data = result["data"]
    columns = table_columns(result)
    lines = [
        f"# Offline evaluation: {result['split']} split",
        "",
        f"- Data: {data['users']} users, {data['items']} items, "
        f"fingerprint `{data['fingerprint']}`",
        f"- Split: {result['split']} {result['split_params']}, seed {result['seed']}",
        f"- Train / validation / test interactions: {data['train_interactions']} / "
        f"{data['validation_interactions']} / {data['test_interactions']}; "
        f"training tag assignments: {data['train_tag_assignments']}",
        f"- Users evaluated (with a test interaction): {result['users_evaluated']}",
        f"- Ranking: full ranking over {data['candidate_items']} candidate items, "
        "each user's training and validation items excluded, ties by item index",
    ]
    for note in result.get("notes", []):
        lines.append(f"- Note: {note}")
    if command:
        lines.append(f"- Reproduce: `{command}`")
    lines.append(f"- Columns: {LEGEND}")
    lines += ["", "| " + " | ".join(columns) + " |", "|" + "---|" + "---:|" * (len(columns) - 1)]
    for row in table_rows(result):
        lines.append("| " + " | ".join(row) + " |")
    footnote = tie_note(result)
    if footnote:
        lines += ["", footnote]
    if "significance" in result:
        lines += _significance_section(result)
    if len(result["ks"]) > 1:
        lines += ["", "## Metrics by cut-off", ""]
        for model in result["models"]:
            if "error" in model:
                continue
            lines.append(
                f"- {model['name']}: "
                + ", ".join(f"{key} {_fmt(value)}" for key, value in model["metrics"].items())
            )
    return "\n".join(lines) + "\n"


def _significance_section(result: dict[str, Any]) -> list[str]:
    """Every ranking metric's intervals and paired tests, one table per metric."""
    settings = result["significance"]
    note = significance_note(result)
    lines = [
        "",
        "## Confidence intervals and paired tests",
        "",
        f"- Intervals: {settings['interval']}, {settings['confidence']:.0%}, "
        f"{settings['resamples']} resamples, seed {settings['seed']}",
    ]
    if settings["reference"] is not None:
        lines += [
            f"- Paired with {settings['reference']}: mean per-user difference \u0394 (its "
            f"interval as above); p: {settings['test']}; Holm p: {settings['correction']}",
        ]
    if note:
        lines += [f"- {note}"]
    for metric in RANKING_METRICS:
        columns = interval_columns(result, metric)
        lines += ["", "| " + " | ".join(columns) + " |", "|---|" + "---:|" * (len(columns) - 1)]
        lines += ["| " + " | ".join(row) + " |" for row in interval_rows(result, metric)]
    return lines
