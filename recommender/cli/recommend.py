"""`recsys recommend`: top items for a user (or for chosen tags, or for every user).

Imports only typer/rich here; the model loads lazily inside the command, and
LightGBM/librosa are never imported on this path.
"""

from __future__ import annotations

from typing import Literal

import typer

from recommender.cli.output import number, print_json, print_table, say
from recommender.cli.state import state
from recommender.services.engines import ENGINES

EngineName = Literal[ENGINES]

EVERYTHING_FILTERED = "nothing to list (every candidate is already played or filtered out)"


def print_recommendations(
    title: str,
    results: list,
    *,
    as_json: bool,
    explain: bool,
    empty: str = EVERYTHING_FILTERED,
) -> None:
    """A table of recommended tracks, or one line saying why there are none."""
    if as_json:
        print_json([r.to_dict() for r in results])
        return
    if not results:
        say(f"{title}: {empty}")
        return
    if explain:
        print_explained(title, results)
        return
    rows = [
        [rank, r.item_id, r.name, f"{r.score:.3f}", r.source]
        for rank, r in enumerate(results, 1)
    ]
    print_table(title, ["#", "id", "name", "score", "source"], rows)


def print_explained(title: str, results: list) -> None:
    """--explain for an 80-column terminal: per item its name, then the gist of why beneath
    (the strongest matching tags and the closest played item; --json has all of it)."""
    from rich.text import Text

    rows = []
    for rank, r in enumerate(results, 1):
        why = r.explanation.brief() if r.explanation else ""
        what = Text(f"{r.name}\n") + Text(why, style="dim")
        rows.append([rank, r.item_id, what, f"{r.score:.3f}", r.source])
    print_table(title, ["#", "id", "name / why", "score", "source"], rows)


def recommend(
    user: str | None = typer.Option(
        None,
        "--user",
        "-u",
        metavar="USER",
        help="External id of a user (one loaded after training too).",
    ),
    tags: str | None = typer.Option(
        None, "--tags", metavar="TAGS", help="New user: comma-separated tags, e.g. jazz,piano."
    ),
    n: int = typer.Option(10, "-n", "--top", min=1, metavar="N", help="How many items."),
    tag: list[str] | None = typer.Option(
        None,
        "--tag",
        metavar="TAG",
        help="Keep only items carrying this tag; repeat for AND (every --tag). An item"
        " carries a tag when crowd users gave it at least a quarter as often as the item's"
        " top tag (TagFilterConfig.min_weight, 0.25), or the audio tagger predicts it past"
        " its threshold (else 0.5).",
    ),
    any_tag: list[str] | None = typer.Option(
        None,
        "--any-tag",
        metavar="TAG",
        help="Keep only items carrying at least one --any-tag (OR); with --tag: all --tag"
        " and one --any-tag.",
    ),
    include_listened: bool = typer.Option(
        False, "--include-listened", help="Also recommend items the user played."
    ),
    explain: bool = typer.Option(
        False, "--explain", help="Say why: matching tags and close played items."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    all_users: bool = typer.Option(
        False, "--all", help="Batch: every user's list (as --user gives it) into --out."
    ),
    out: str | None = typer.Option(
        None,
        "--out",
        metavar="PATH",
        help="With --all: output Parquet path (a directory with --engine spark).",
    ),
    engine: EngineName = typer.Option(
        "local", "--engine", metavar="ENGINE", help="With --all: local or spark."
    ),
    spark_master: str | None = typer.Option(
        None, "--spark-master", metavar="URL", help="With --engine spark: master URL."
    ),
) -> None:
    """Recommend tracks for --user U, or for a new user from --tags, or for --all users.

    Example: recsys recommend --user user-0001 -n 5 --explain
    """
    from recommender.services import queries

    if all_users:
        summary = queries.recommend_all(
            state.settings,
            out=out,
            n=n,
            only_tags=tag,
            any_tags=any_tag,
            include_listened=include_listened,
            engine=engine,
            spark_master=spark_master,
            single_options=user is not None or tags is not None or explain,
        )
        if as_json:
            print_json(summary.to_dict())
            return
        rows = [
            (key, number(value, 1) if key == "seconds" else value)
            for key, value in summary.to_dict().items()
        ]
        print_table(f"batch recommendations ({summary.engine})", ["what", "value"], rows)
        return
    results = queries.recommend(
        state.settings,
        user=user,
        tags=tags,
        n=n,
        only_tags=tag,
        any_tags=any_tag,
        include_listened=include_listened,
        explain=explain,
        batch_options=bool(out) or engine != "local" or bool(spark_master),
    )
    title = f"recommendations for {user}" if user is not None else f"recommendations for {tags}"
    print_recommendations(title, results, as_json=as_json, explain=explain)
