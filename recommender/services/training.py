"""`recsys train` as a library call: tagger (if audio exists), ranker, validation, bundle.

The bundle goes to models/recommender/<version>/ and `current` moves to it only once
it is complete, so a running `recsys recommend` never sees half a model. The tagger trained
on the way is published by that same flip (`services.bundles`): a run killed anywhere
publishes both or neither, and the next run clears what it left (`tidy_models`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text

from recommender.core.registry import Spec, component_class
from recommender.data.dataset import Dataset
from recommender.errors import InputError, shown
from recommender.hybrid.configs import ranker_spec

if TYPE_CHECKING:
    from recommender.data.splits import Split
    from recommender.services.config_file import TrainingConfig

MIN_VALIDATION_USERS = 10  # fewer users with held-out plays measure nothing


@dataclass
class TrainReport:
    version: str
    path: str
    model: str
    ranker: str
    users: int
    items: int
    cold_items: int
    tagger: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    ranker_reason: str = ""
    config_file: str | None = None  # the settings file it started from (None: the defaults)
    seconds: float = 0.0


def has_audio_features(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT 1 FROM track_features LIMIT 1")).first())


def validation_metrics(
    dataset: Dataset,
    configs: dict[str, Spec],
    *,
    seed: int,
    k: int = 10,
    prepare: Callable[[Split], tuple[Split, str]] | None = None,
) -> dict[str, Any]:
    """NDCG/recall/precision@k of each named candidate on a seeded random 80/10/10 split
    (scored on its test part); a one-line reason instead when the data is too small.

    `prepare` is `evaluate_dataset`'s hook: without one, stored predicted tags are
    dropped, because their tagger saw the held-out labels (see `train_bundle`).
    """
    from recommender.core.registry import create
    from recommender.data.splits import random_split
    from recommender.evaluation.runner import evaluate_dataset

    users = len(random_split(dataset, seed=seed).test_users)
    if users < MIN_VALIDATION_USERS:
        return {
            "skipped": f"validation skipped: {users} users have held-out plays in a random"
            f" 80/10/10 split, {MIN_VALIDATION_USERS} are needed to measure anything"
        }
    rankers = [(label, create(spec.name, spec.config)) for label, spec in configs.items()]
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


def choose_ranker(metrics: dict[str, Any], *, k: int = 10) -> tuple[str, str]:
    """("hybrid" or "rerank", why), from the measured numbers: the re-ranker is served
    only when it beat the blend on held-out plays."""
    if "skipped" in metrics:
        return "hybrid", f"blend ({metrics['skipped']})"
    blend = metrics.get("hybrid", {}).get(f"ndcg@{k}")
    rerank = metrics.get("rerank", {}).get(f"ndcg@{k}")
    if rerank is None:
        reason = metrics.get("rerank", {}).get("error", "not trained (use --reranker)")
        return "hybrid", f"blend (re-ranker {reason})"
    if blend is None or rerank <= blend:
        return "hybrid", f"blend: NDCG@{k} {blend} vs the LightGBM re-ranker's {rerank}"
    return "rerank", f"re-ranker: NDCG@{k} {rerank} vs the blend's {blend} on held-out plays"


def config_provenance(config: TrainingConfig, model: str, fingerprint: str) -> dict[str, Any]:
    """What the manifest says about the settings: the config file (or none), and the
    `recsys tune` searches behind the sections this bundle used, each marked with whether
    it was run on the data this bundle was trained on."""
    searches = {}
    for target in (model, "hybrid"):
        search = config.tuning.get(target)
        if isinstance(search, dict):
            tuned_on = search.get("data", {}).get("fingerprint")
            searches[target] = {**search, "same_data": tuned_on == fingerprint}
    return {"file": str(config.path) if config.path else None, "tuning": searches}


def with_tagger_thresholds(dataset: Dataset, models_dir: Path) -> Dataset:
    """`dataset` with the per-tag decision thresholds of the tagger whose predictions it
    holds (from that tagger's bundle), so the tag filter takes a predicted tag where the
    tagger itself would; unchanged when there are no predictions or no such bundle."""
    import numpy as np

    from recommender.errors import ModelBundleError
    from recommender.services.bundles import TAGGER, kind_dir, read_tagger

    version = dataset.predicted_model_version
    if dataset.predicted_tags is None or not version:
        return dataset
    try:
        tagger = read_tagger(kind_dir(models_dir, TAGGER) / version)
    except ModelBundleError:  # pruned or never kept: the filter falls back to its default
        return dataset
    bars = np.full(len(dataset.tags), np.nan, dtype=np.float32)
    for tag, threshold in tagger.thresholds.items():
        if tag in dataset.tags:
            bars[dataset.tags.index_of(tag)] = threshold
    return dataset.replace(predicted_thresholds=bars)


def train_bundle(
    engine: Engine,
    models_dir: Path,
    *,
    model: str = "als",
    seed: int = 0,
    cf_params: dict[str, Any] | None = None,
    reranker: bool = False,
    tagger: bool | None = None,
    tagger_kind: str = "mlp",
    validate: bool = True,
    config: TrainingConfig | None = None,
    on_step: Callable[[str], None] | None = None,
) -> TrainReport:
    """Train everything on the whole store and publish a new recommender bundle.

    `config` (RECSYS_HOME/config.json, `services.config_file`) gives the CF model's, the
    blend's and the content side's parameters (`cf_params` override it); the manifest
    records it and the `recsys tune` searches it came from.

    `tagger=None` trains the audio tagger (`tagger_kind`: mlp, linear, lightgbm, or cnn)
    exactly when audio features exist. The bundle
    reads that tagger's predictions; validation refits a tagger on the split's
    training tags instead, so no decision is made on leaked labels. With `reranker`,
    the LightGBM re-ranker is trained too and served if it beats the blend on
    validation; without it, no re-ranker is trained at all.
    """
    from recommender.services.bundles import lease
    from recommender.services.tagger_training import tidy_models

    models_dir = Path(models_dir)
    if reranker and not validate:
        raise InputError("--reranker is chosen on validation; drop --no-validate")
    with lease(models_dir) as claims:
        tidy_models(engine, models_dir)  # what a killed run left, before anything new
        report = _train_bundle(
            engine,
            models_dir,
            claims,
            model=model,
            seed=seed,
            cf_params=cf_params,
            reranker=reranker,
            tagger=tagger,
            tagger_kind=tagger_kind,
            validate=validate,
            config=config,
            on_step=on_step,
        )
        tidy_models(engine, models_dir)  # retention, now that the new bundles are current
    return report


def _train_bundle(
    engine: Engine,
    models_dir: Path,
    claims,
    *,
    model: str,
    seed: int,
    cf_params: dict[str, Any] | None,
    reranker: bool,
    tagger: bool | None,
    tagger_kind: str,
    validate: bool,
    config: TrainingConfig | None,
    on_step: Callable[[str], None] | None,
) -> TrainReport:
    from recommender.core.process import fault_point
    from recommender.hybrid.recommender import HybridRecommender, RecommenderConfig
    from recommender.services.bundles import (
        RECOMMENDER,
        TAGGER,
        new_version,
        publish,
        write_version,
    )
    from recommender.services.config_file import TrainingConfig
    from recommender.services.datasets import load_dataset

    started = time.perf_counter()
    step = on_step or (lambda _message: None)
    config = config or TrainingConfig()
    settings = {
        "cf_config": config.cf.get(model),
        "blend": config.blend,
        "content": config.content,
        **(cf_params or {}),
    }
    hybrid = ranker_spec(model, seed=seed, **settings)
    candidates = {"hybrid": hybrid}  # only what could be served is trained and validated
    if reranker:
        candidates["rerank"] = ranker_spec(model, seed=seed, reranker=True, **settings)
    tagger_summary = None
    if tagger or (tagger is None and has_audio_features(engine)):
        from recommender.services.tagger_training import train_tagger

        step(f"training the audio tagger ({tagger_kind})")
        report = train_tagger(engine, models_dir, kind=tagger_kind, seed=seed, make_current=False)
        tagger_summary = {
            "model_version": report.model_version,
            "kind": report.kind,
            "predicted_tracks": report.predicted_tracks,
            "tags": len(report.tags),
        }
        fault_point("after-tagger")  # tagger bundle and rows written, not published
    step("loading the dataset")
    from recommender.services.live import WATERMARK, last_update

    watermark = last_update(engine)  # read first: listens arriving during loading count as newer
    # the tagger just trained, not whichever version sorts last in predicted_tags
    dataset = load_dataset(
        engine, predicted_model_version=tagger_summary["model_version"] if tagger_summary else None
    )
    if dataset.plays.nnz == 0:
        raise InputError(
            "the database has no listens to train on; load data first with `recsys etl ...`"
        )
    dataset = with_tagger_thresholds(dataset, models_dir)
    metrics: dict[str, Any] = {}
    if validate:
        step("validating on a held-out split")
        # The stored predicted tags were learned from every crowd tag, held-out ones
        # included: validate with a tagger refit on the split's training tags only.
        prepare = None
        if dataset.predicted_tags is not None:
            from recommender.services.split_tagger import leak_free_predicted_tags

            prepare = leak_free_predicted_tags(engine, seed=seed)
        metrics = validation_metrics(dataset, candidates, seed=seed, prepare=prepare)
    ranker, reason = choose_ranker(metrics) if validate else ("hybrid", "blend (--no-validate)")
    step(f"training the {ranker} ranker on {model}")
    rec = HybridRecommender(RecommenderConfig(ranker=candidates[ranker])).fit(dataset)
    version = new_version(dataset.fingerprint())
    cold = int((dataset.item_play_counts() == 0).sum())
    manifest = {
        "version": version,
        "data": {
            "fingerprint": dataset.fingerprint(),
            "users": dataset.n_users,
            "items": dataset.n_items,
            "tags": len(dataset.tags),
            "plays": int(dataset.plays.nnz),
            "tag_assignments": len(dataset.tag_events),
            "cold_items": cold,
            "predicted_tags_model": dataset.predicted_model_version,
            WATERMARK: watermark,
        },
        "tagger": tagger_summary,
        "config": config_provenance(config, model, dataset.fingerprint()),
        "metrics": metrics,
        "ranker": ranker,
        "ranker_reason": reason,
    }
    step("writing the bundle")
    claims.claim(version)
    path = write_version(models_dir, RECOMMENDER, version, rec, manifest)
    fault_point("before-publish")
    publish(models_dir, RECOMMENDER, version)  # the commit: this bundle and its tagger
    fault_point("after-publish")
    if tagger_summary:  # the tagger is already current through the manifest; say it plainly
        publish(models_dir, TAGGER, tagger_summary["model_version"])
    return TrainReport(
        version=version,
        path=str(path),
        model=model,
        ranker=ranker,
        users=dataset.n_users,
        items=dataset.n_items,
        cold_items=cold,
        tagger=tagger_summary,
        metrics=metrics,
        ranker_reason=reason,
        config_file=str(config.path) if config.path else None,
        seconds=round(time.perf_counter() - started, 2),
    )


def train(
    engine: Engine,
    models_dir: Path,
    *,
    model: str = "als",
    factors: int | None = None,
    seed: int = 0,
    reranker: bool = False,
    validate: bool = True,
    engine_name: str = "local",
    spark_master: str | None = None,
    tagger_kind: str = "mlp",
    config_path: Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> TrainReport:
    """`recsys train` with its options checked: `--engine spark` trains Spark MLlib ALS;
    the model settings start from the config file at `config_path` (when it exists)."""
    from recommender.services.config_file import read_config
    from recommender.services.engines import ENGINES, spark_for

    component_class(model, "cf")
    from recommender.services.tagger_training import check_kind

    check_kind(tagger_kind)
    if engine_name == "spark" and model not in ("als", "spark-als"):
        raise InputError(
            f"--engine spark trains ALS only, not {shown(model)}; drop --model or use --model als"
        )
    if engine_name in ENGINES and factors is not None:
        ranker_spec(model, factors=factors)  # --factors on a model without factors: usage error
    config = read_config(config_path) if config_path is not None else None
    if spark_for(engine_name, spark_master) is not None:  # the Spark ALS trains on this session
        model = "spark-als"
    return train_bundle(
        engine,
        models_dir,
        model=model,
        seed=seed,
        cf_params={} if factors is None else {"factors": factors},
        reranker=reranker,
        tagger_kind=tagger_kind,
        validate=validate,
        config=config,
        on_step=on_step,
    )
