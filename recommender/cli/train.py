"""`recsys train`: train everything into a new model bundle (subcommands train single parts)."""

from __future__ import annotations

from typing import Literal

import typer

from recommender.cli.output import err_console, number, print_json, print_table
from recommender.cli.state import state
from recommender.core.registry import names
from recommender.services.engines import ENGINES
from recommender.services.tagger_kinds import tagger_kinds

app = typer.Typer(
    help="Train models: plain `recsys train` trains everything into a new bundle.\n\n"
    "Example: recsys train --model bpr --seed 1"
)

CF_MODELS = names("cf")
TAGGERS = tagger_kinds()
CfModel = Literal[CF_MODELS]
Tagger = Literal[TAGGERS]
EngineName = Literal[ENGINES]
CF_LIST = ", ".join(CF_MODELS)
SONG_VECTOR_TAGGERS = ", ".join(names("tagger"))


def _steps(as_json: bool):
    """Progress lines on stderr ("training the audio tagger..."), unless --quiet or --json."""

    def on_step(message: str) -> None:
        if not state.quiet and not as_json:
            err_console.print(f"[dim]{message}...[/dim]")

    return on_step


@app.callback(invoke_without_command=True)
def train_all(
    ctx: typer.Context,
    model: CfModel = typer.Option(
        "als", "--model", metavar="MODEL", help=f"CF model: {CF_LIST}."
    ),
    factors: int | None = typer.Option(
        None, "--factors", min=1, metavar="N", help="CF factors (factor models; default tuned)."
    ),
    seed: int = typer.Option(0, "--seed", metavar="SEED", help="Seed of every stochastic step."),
    validate: bool = typer.Option(
        True, "--validate/--no-validate", help="Measure NDCG@10 on a held-out split."
    ),
    reranker: bool = typer.Option(
        False,
        "--reranker",
        help="Also train the LightGBM re-ranker; it is served if it beats the blend on validation.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the training report as JSON."),
    engine: EngineName = typer.Option(
        "local",
        "--engine",
        metavar="ENGINE",
        help="local (implicit) or spark (Spark MLlib ALS; the spark extra).",
    ),
    spark_master: str | None = typer.Option(
        None,
        "--spark-master",
        metavar="URL",
        help="Spark master URL (default local[*] or RECSYS_SPARK_MASTER).",
    ),
    tagger: Tagger = typer.Option(
        "mlp",
        "--tagger",
        metavar="TAGGER",
        help=f"Audio tagger trained first: {SONG_VECTOR_TAGGERS} or cnn (the cnn extra).",
    ),
) -> None:
    """Tagger (if audio features exist), CF, content map and ranker into RECSYS_HOME/models/."""
    if ctx.invoked_subcommand is not None:
        return
    from dataclasses import asdict

    from recommender.services.training import train

    report = train(
        state.engine,
        state.settings.models_dir,
        model=model,
        factors=factors,
        seed=seed,
        reranker=reranker,
        validate=validate,
        engine_name=engine,
        spark_master=spark_master,
        tagger_kind=tagger,
        config_path=state.settings.config_path,
        on_step=_steps(as_json),
    )
    if as_json:
        print_json(asdict(report))
        return
    rows = [
        ("version", report.version),
        ("bundle", report.path),
        ("CF model", report.model),
        ("ranker", report.ranker_reason),
        ("settings", report.config_file or "defaults (no config.json; see `recsys tune`)"),
        ("users", report.users),
        ("items", report.items),
        ("cold items", report.cold_items),
        (
            "tagger",
            report.tagger["model_version"] if report.tagger else "not trained (no audio features)",
        ),
        ("seconds", number(report.seconds, 1)),
    ]
    for name, values in report.metrics.items():
        if isinstance(values, dict):
            rows.append((f"validation {name}", ", ".join(f"{k} {v}" for k, v in values.items())))
    print_table("recsys train", ["what", "value"], rows)


@app.command("tagger")
def tagger_command(
    model: Tagger = typer.Option(
        "mlp",
        "--model",
        metavar="TAGGER",
        help=f"Tagger: {SONG_VECTOR_TAGGERS} on song vectors, or cnn on mel spectrograms"
        " (trains with PyTorch: the cnn extra).",
    ),
    seed: int = typer.Option(
        0, "--seed", metavar="SEED", help="Seed for the split, codebook and model."
    ),
    min_users: int = typer.Option(
        1, "--min-users", min=1, metavar="N", help="Distinct users needed to make a tag a label."
    ),
    min_positives: int = typer.Option(
        5,
        "--min-positives",
        min=1,
        metavar="N",
        help="Tags with fewer positive tracks are left out.",
    ),
    labels: str | None = typer.Option(
        None, "--labels", metavar="FILE", help="Curated track,tag CSV instead of the crowd's tags."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the training report as JSON."),
) -> None:
    """Audio tagger only: held-out metrics vs popularity; predictions for every scanned track.

    Example: recsys train tagger --model lightgbm --seed 1
    """
    from pathlib import Path

    from recommender.services.labels import LabelConfig
    from recommender.services.tagger_training import train_tagger

    report = train_tagger(
        state.engine,
        state.settings.models_dir,
        kind=model,
        seed=seed,
        labels_file=Path(labels) if labels else None,
        labels=LabelConfig(min_users=min_users, min_positives=min_positives),
        on_step=_steps(as_json),
    )
    if as_json:
        print_json(report.to_dict())
        return
    held, base = report.held_out, report.baseline
    rows = [
        ("model version", report.model_version),
        (
            "labels",
            f"{report.label_source}: {number(report.labelled_tracks)} tracks,"
            f" {number(len(report.tags))} tags",
        ),
        ("held-out tracks", report.test_tracks),
        *[
            (
                f"{avg} {metric}",
                f"{held[f'{avg}_{key}']:.3f} (popularity {base[f'{avg}_{key}']:.3f})",
            )
            for metric, key in (("ROC-AUC", "roc_auc"), ("PR-AUC", "pr_auc"))
            for avg in ("macro", "micro")
        ],
        ("tracks tagged", report.predicted_tracks),
        (
            "excluded tags",
            ", ".join(f"{t} ({why})" for t, why in report.excluded_tags.items()) or "-",
        ),
        ("seconds", f"{report.seconds:.1f}"),
    ]
    print_table(f"tagger ({report.kind})", ["what", "value"], rows)
    per_tag = [
        (t["tag"], t["positives"], f"{t['roc_auc']:.3f}", f"{t['pr_auc']:.3f}")
        for t in held["per_tag"]
    ]
    print_table(
        "held-out, per tag",
        ["tag", "positives", "ROC-AUC", "PR-AUC"],
        per_tag,
        empty="no tag has a positive among the held-out tracks",
    )
