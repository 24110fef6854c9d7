"""`recsys evaluate`: compare models and baselines offline on whatever the database holds."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from recommender.cli.output import console, make_progress, print_json
from recommender.cli.state import state
from recommender.core.registry import RANKER_FAMILIES, names
from recommender.data.split_names import COLD_UNITS, SPLITS
from recommender.evaluation.significance import ALPHA, RESAMPLES
from recommender.services.evaluation import DEFAULT_MODELS, DEFAULT_REFERENCE
from recommender.services.tagger_kinds import tagger_kinds

Split = Literal[SPLITS]
ColdUnit = Literal[COLD_UNITS]


def _print_table(
    caption: str, columns: list[str], rows: list[list[str]], *, compact: bool = False
) -> None:
    """The comparison table, never squeezed: piped output gets room for every column.

    `compact` drops the vertical rules, which keeps a 7-column table within 80 columns.
    """
    if compact:
        table = Table(
            title=caption,
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            collapse_padding=True,
        )
    else:
        table = Table(title=caption)
    for position, column in enumerate(columns):
        table.add_column(column, justify="left" if position == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    out = console if console.is_terminal else Console(width=200)
    out.print(table)


def evaluate(
    split: Annotated[
        Split, typer.Option("--split", metavar="SPLIT", help=f"One of: {', '.join(SPLITS)}.")
    ] = "random",
    models: Annotated[
        str | None,
        typer.Option(
            "--models",
            metavar="MODELS",
            help=f"Comma-separated, from: {', '.join(names(*RANKER_FAMILIES))}"
            f" (default: {','.join(DEFAULT_MODELS)}); baselines are always added.",
        ),
    ] = None,
    k: Annotated[
        int,
        typer.Option(
            "-n", "--top", min=1, metavar="N", help="Length of each recommendation list (the k)."
        ),
    ] = 10,
    seed: Annotated[
        int, typer.Option("--seed", metavar="SEED", help="Seed of the split and of every model.")
    ] = 0,
    taggers: Annotated[
        str | None,
        typer.Option(
            "--taggers",
            metavar="TAGGERS",
            help=f"Comma-separated, from: {', '.join(tagger_kinds())}; each is refit on the"
            " split's training tags, and models that read predicted tags get one row per tagger.",
        ),
    ] = None,
    cold_by: Annotated[
        ColdUnit | None,
        typer.Option(
            "--cold-by",
            metavar="UNIT",
            help="With --split cold-items: make single tracks cold (item, the default) or"
            " whole artists (artist), so no cold track has a sibling in training.",
        ),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            metavar="MODEL",
            help=f"Row every other model is tested against, paired over the same users"
            f" (default: {DEFAULT_REFERENCE} when evaluated).",
        ),
    ] = None,
    resamples: Annotated[
        int,
        typer.Option(
            "--bootstrap",
            metavar="N",
            help="Bootstrap resamples (of the users) for every interval.",
        ),
    ] = RESAMPLES,
    alpha: Annotated[
        float,
        typer.Option(
            "--alpha",
            metavar="LEVEL",
            help="Significance level after Holm's correction; intervals are 1 - alpha.",
        ),
    ] = ALPHA,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", metavar="FILE", help="Also write a Markdown report here."),
    ] = None,
) -> None:
    """Split the listens, train each model on the training part and rank for the test users.

    Full ranking over all items (the cold items for --split cold-items), each
    user's training items excluded; users without test interactions are skipped.

    Every ranking metric gets a bootstrap interval over users and a paired test
    against the reference; the table marks those that survive Holm's correction.

    Example: recsys evaluate --split cold-items --models pop,als,hybrid -n 10 --report eval.md
    """
    from recommender.evaluation.report import (
        interval_columns,
        interval_rows,
        significance_note,
        table_columns,
        table_rows,
        tie_note,
        title,
    )
    from recommender.services.evaluation import evaluate as run
    from recommender.services.evaluation import write_report

    with make_progress(quiet=state.quiet) as progress:
        tasks: dict[str, int] = {}

        def on_progress(model: str, done: int, total: int) -> None:
            if model not in tasks:
                tasks[model] = progress.add_task(f"{model}: fit, rank users", total=total)
            progress.update(tasks[model], completed=done)

        result = run(
            state.engine,
            split=split,
            models=models,
            k=k,
            seed=seed,
            taggers=taggers,
            cold_by=cold_by,
            reference=reference,
            resamples=resamples,
            alpha=alpha,
            progress=on_progress,
        )
    if report is not None:
        command = "recsys " + shlex.join(sys.argv[1:]) if sys.argv[1:] else None
        write_report(result, report, command=command)
    if as_json:
        print_json(result)
    else:
        _print_table(title(result), table_columns(result), table_rows(result))
        for line in (significance_note(result), tie_note(result)):
            if line:
                console.print(line, highlight=False, markup=False)
        _print_table(
            "NDCG: interval over users and paired test (all metrics: --json, --report)",
            interval_columns(result),
            interval_rows(result),
            compact=True,
        )
        for note in result["notes"]:
            console.print(f"note: {note}", highlight=False)
        if report is not None:
            console.print(f"report written to {report}")
    failed = [model["name"] for model in result["models"] if "error" in model]
    if failed:
        from recommender.errors import RecsysError

        raise RecsysError(
            f"model(s) failed to evaluate: {', '.join(failed)} (see the table for why)"
        )
