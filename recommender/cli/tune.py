"""`recsys tune`: search model settings on validation plays and write them for `recsys train`."""

from __future__ import annotations

from typing import Annotated

import typer

from recommender.cli.output import make_progress, print_json, print_table, say
from recommender.cli.state import state
from recommender.evaluation.tuning_targets import DEFAULT_TRIALS, TARGETS


def _choices(values: list[str] | None) -> list[str] | None:
    """--model is repeatable, so its choices are checked here (typer checks only single ones)."""
    for value in values or ():
        if value not in TARGETS:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(TARGETS)}")
    return values


def tune(
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            metavar="MODEL",
            callback=lambda values: _choices(values),
            help=f"What to tune, repeatable: {', '.join(TARGETS)} (hybrid: its blend and"
            " content weights around the configured ALS). Default: als.",
        ),
    ] = None,
    trials: Annotated[
        int,
        typer.Option("--trials", min=1, metavar="N", help="Settings tried per model."),
    ] = DEFAULT_TRIALS,
    seed: Annotated[
        int,
        typer.Option(
            "--seed", metavar="SEED", help="Seed of the split, the sampler and the models."
        ),
    ] = 0,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", min=1, metavar="SECONDS", help="Stop a model's search after this long."
        ),
    ] = None,
    write: Annotated[
        bool,
        typer.Option(
            "--write/--no-write", help="Write the best settings to RECSYS_HOME/config.json."
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the searches as JSON.")] = False,
) -> None:
    """Search hyper-parameters on the validation part of a random 80/10/10 split (Optuna TPE,
    seeded); the test part is never read. The best settings go to RECSYS_HOME/config.json,
    which `recsys train` reads and records, with this search, in the bundle manifest.

    Trial 0 is the setting in force, so the written one never did worse on validation.

    Example: recsys tune --model als --model hybrid --trials 30 --seed 1
    """
    from recommender.services.tuning import tune as run

    with make_progress(quiet=state.quiet or as_json) as progress:
        tasks: dict[str, int] = {}

        def on_trial(target: str, done: int, total: int, best: float) -> None:
            if target not in tasks:
                tasks[target] = progress.add_task(target, total=total)
            shown = f"{best:.4f}" if done else "-"
            progress.update(
                tasks[target], completed=done, description=f"{target}: best NDCG@10 {shown}"
            )

        result = run(
            state.engine,
            state.settings.config_path,
            targets=models or ["als"],
            trials=trials,
            seed=seed,
            timeout=timeout,
            write=write,
            on_trial=on_trial,
        )
    if as_json:
        print_json(result)
        return
    rows = [
        (
            search["target"],
            len(search["trials"]),
            f"{search['start_value']:.4f}",
            f"{search['best_value']:.4f}",
            ", ".join(f"{name}={value}" for name, value in search["best_params"].items()),
        )
        for search in result["searches"]
    ]
    print_table(
        f"recsys tune (seed {seed}): validation NDCG@10",
        ["model", "trials", "in force", "best", "best settings"],
        rows,
    )
    for note in result["notes"]:
        say(f"note: {note}")
    if result["config_file"]:
        say(f"written to {result['config_file']}; `recsys train` uses it")
    else:
        say("not written (--no-write)")
