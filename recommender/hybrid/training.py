"""`recsys train` as a library call: tagger (if audio exists), CF, content map, validation, bundle.

The bundle goes to models/<version>/ and `models/current` moves to it only once
it is complete, so a running `recsys recommend` never sees half a model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text

from recommender.data.dataset import Dataset

if TYPE_CHECKING:
    from recommender.evaluation.splitters import Split


@dataclass
class TrainReport:
    version: str
    path: str
    model: str
    users: int
    items: int
    cold_items: int
    tagger: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def has_audio_features(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT 1 FROM track_features LIMIT 1")).first())


def validation_metrics(
    dataset: Dataset,
    *,
    model: str,
    params: dict[str, Any],
    seed: int,
    k: int = 10,
    prepare: Callable[[Split], tuple[Split, str]] | None = None,
) -> dict[str, Any]:
    """NDCG/recall/precision@k of the blend, the LightGBM re-ranker and plain CF on a seeded
    random 80/10/10 split (scored on its test part).

    `prepare` is `evaluate_dataset`'s hook: without one, stored predicted tags are
    dropped, because their tagger saw the held-out labels (see `train_bundle`).
    """
    from recommender.evaluation.runner import evaluate_dataset
    from recommender.hybrid.rankers import HybridRanker
    from recommender.hybrid.rerank import RerankRanker

    warm_only = HybridRanker(seed=seed, model=model, cold_slots=0, **params)
    warm_only.name = "hybrid-warm"  # no cold-track slots: ranking quality on played items alone
    rankers = [
        HybridRanker(seed=seed, model=model, **params),
        warm_only,
        RerankRanker(seed=seed, model=model, **params),
        model,
    ]
    result = evaluate_dataset(
        dataset, split="random", models=rankers, k=k, seed=seed, baselines=False, prepare=prepare
    )
    keep = (f"ndcg@{k}", f"recall@{k}", f"precision@{k}")
    out: dict[str, Any] = {"split": "random 80/10/10 (test part)", "seed": seed}
    if result["notes"]:
        out["notes"] = result["notes"]
    for entry in result["models"]:
        metrics = entry.get("metrics", {})
        out[entry["name"]] = {m: round(metrics[m], 4) for m in keep if m in metrics}
        if "error" in entry:
            out[entry["name"]] = {"error": entry["error"]}
    return out


def ranker_decision(metrics: dict[str, Any], *, k: int = 10) -> str:
    """Why the blend is the default, from the measured numbers.

    The re-ranker is compared with the blend without cold-track slots ("hybrid-warm"):
    held-out plays can never reward a never-played track, so that is the fair contest.
    """
    blend = metrics.get("hybrid-warm", {}).get(f"ndcg@{k}")
    rerank = metrics.get("rerank", {}).get(f"ndcg@{k}")
    if blend is None or rerank is None:
        return "blend (the re-ranker was not measured)"
    if rerank <= blend:
        return (
            f"blend: without cold-track slots it scored NDCG@{k} {blend} vs the LightGBM"
            f" re-ranker's {rerank} on held-out plays"
        )
    return (
        f"blend: the LightGBM re-ranker scored higher on held-out plays (NDCG@{k} {rerank} vs"
        f" {blend} for the blend without cold-track slots), but serving the re-ranker is not"
        " implemented yet"
    )


def train_bundle(
    engine: Engine,
    models_dir: Path,
    *,
    model: str = "als",
    factors: int | None = None,
    seed: int = 0,
    tagger: bool | None = None,
    validate: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> TrainReport:
    """Train everything on the whole store and publish a new bundle; returns what was done.

    `tagger=None` trains the audio tagger exactly when audio features exist. The bundle
    reads that tagger's predictions; validation refits a tagger on the split's
    training tags instead, so the ranker decision is not made on leaked labels.
    """
    from recommender.bundle import new_version, publish
    from recommender.data.dataset import load_dataset
    from recommender.hybrid.recommender import HybridRecommender

    started = time.perf_counter()
    step = on_step or (lambda _message: None)
    models_dir = Path(models_dir)
    tagger_summary = None
    if tagger or (tagger is None and has_audio_features(engine)):
        from recommender.tagging.training import train_tagger

        step("training the audio tagger")
        report = train_tagger(engine, models_dir / "tagger", seed=seed)
        tagger_summary = {
            "model_version": report.model_version,
            "kind": report.kind,
            "predicted_tracks": report.predicted_tracks,
            "tags": len(report.tags),
        }
    step("loading the dataset")
    # the tagger just trained, not whichever version sorts last in predicted_tags
    dataset = load_dataset(
        engine, predicted_model_version=tagger_summary["model_version"] if tagger_summary else None
    )
    step(f"training {model} + content map")
    rec = HybridRecommender.train(dataset, model=model, factors=factors, seed=seed)
    if tagger_summary:
        rec.manifest["tagger"] = tagger_summary
    if validate:
        step("validating on a held-out split")
        params = {"factors": factors} if factors else {}
        # The stored predicted tags were learned from every crowd tag, held-out ones
        # included: validate with a tagger refit on the split's training tags only.
        prepare = None
        if dataset.predicted_tags is not None:
            from recommender.evaluation.split_tagger import leak_free_predicted_tags

            prepare = leak_free_predicted_tags(engine, seed=seed)
        rec.manifest["metrics"] = validation_metrics(
            dataset, model=model, params=params, seed=seed, prepare=prepare
        )
        rec.manifest["default_ranker_reason"] = ranker_decision(rec.manifest["metrics"])
    else:
        rec.manifest["default_ranker_reason"] = "blend (not validated: --no-validate)"
    version = new_version(dataset.fingerprint())
    rec.manifest["version"] = version
    step("writing the bundle")
    path = rec.save(models_dir / version)
    publish(models_dir, version)
    return TrainReport(
        version=version,
        path=str(path),
        model=model,
        users=dataset.n_users,
        items=dataset.n_items,
        cold_items=int((rec.scorer.play_counts == 0).sum()),
        tagger=tagger_summary,
        metrics=rec.manifest.get("metrics", {}),
        seconds=round(time.perf_counter() - started, 2),
    )
