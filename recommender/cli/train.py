"""`recsys train`: train everything into a new model bundle (subcommands train single parts)."""

from __future__ import annotations

import typer

from recommender.cli.output import err_console, print_json, print_table
from recommender.cli.state import state

app = typer.Typer(help="Train models: plain `recsys train` trains everything into a new bundle.")


@app.callback(invoke_without_command=True)
def train_all(
    ctx: typer.Context,
    model: str = typer.Option("als", "--model", help="CF model: als, bpr or knn."),
    factors: int | None = typer.Option(None, "--factors", min=1, help="CF factors (als/bpr; default tuned)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every stochastic step."),
    validate: bool = typer.Option(True, "--validate/--no-validate", help="Measure NDCG@10 on a held-out split."),
    as_json: bool = typer.Option(False, "--json", help="Print the training report as JSON."),
) -> None:
    """Tagger (when audio features exist), CF, content map and ranker into RECSYS_HOME/models/<version>."""
    if ctx.invoked_subcommand is not None:
        return
    from dataclasses import asdict

    from recommender.errors import InputError
    from recommender.hybrid.training import train_bundle

    if model not in ("als", "bpr", "knn"):
        raise InputError(f"--model: unknown CF model {model!r}; choose als, bpr or knn")
    if factors is not None and model == "knn":
        raise InputError("--factors applies to als and bpr, not knn")

    def on_step(message: str) -> None:
        if not state.quiet and not as_json:
            err_console.print(f"[dim]{message}...[/dim]")

    report = train_bundle(
        state.engine, state.settings.models_dir, model=model, factors=factors, seed=seed,
        validate=validate, on_step=on_step,
    )
    if as_json:
        print_json(asdict(report))
        return
    rows = [
        ("version", report.version), ("bundle", report.path), ("CF model", report.model),
        ("users", report.users), ("items", report.items), ("cold items", report.cold_items),
        ("tagger", report.tagger["model_version"] if report.tagger else "not trained (no audio features)"),
        ("seconds", report.seconds),
    ]
    for name, values in report.metrics.items():
        if isinstance(values, dict):
            rows.append((f"validation {name}", ", ".join(f"{k} {v}" for k, v in values.items())))
    print_table("recsys train", ["what", "value"], rows)
