"""`recsys recommend`: top items for a user (or for chosen tags), with sources and explanations.

Imports only typer/rich here; the model loads lazily inside the command, and
LightGBM/librosa are never imported on this path.
"""

from __future__ import annotations

import typer

from recommender.cli.output import print_json, print_table
from recommender.cli.state import state


def load_recommender():
    """The current bundle of RECSYS_HOME (a ModelBundleError says to run `recsys train`)."""
    from recommender.hybrid.recommender import HybridRecommender

    return HybridRecommender.load_current(state.settings.models_dir)


def split_tags(values: list[str] | None) -> list[str]:
    """`--tag a --tag b` and `--tags a,b` both become ['a', 'b']."""
    out: list[str] = []
    for value in values or []:
        out.extend(t.strip() for t in value.split(",") if t.strip())
    return out


def print_recommendations(title: str, results: list, *, as_json: bool, explain: bool) -> None:
    if as_json:
        print_json([r.to_dict() for r in results])
        return
    columns = ["#", "track", "artist", "title", "score", "source"] + (["why"] if explain else [])
    rows = []
    for rank, r in enumerate(results, 1):
        row = [rank, r.item_id, r.artist, r.title, f"{r.score:.3f}", r.source]
        if explain:
            row.append(r.explanation.summary() if r.explanation else "")
        rows.append(row)
    print_table(title, columns, rows)


def recommend_all_users(
    *, n: int, out: str | None, engine: str, spark_master: str | None, as_json: bool
) -> None:
    """`--all`: CF top-n for every user with played items removed, as Parquet."""
    from recommender.errors import InputError
    from recommender.spark.batch import recommend_all_from_bundle

    if not out:
        raise InputError("--all needs --out PATH for the Parquet output")
    if engine not in ("local", "spark"):
        raise InputError(f"--engine: unknown engine {engine!r}; choose local or spark")
    session = None
    if engine == "spark":
        from recommender.spark.session import spark_session

        session = spark_session(master=spark_master)
    summary = recommend_all_from_bundle(load_recommender(), out=out, n=n, session=session)
    if as_json:
        print_json(summary.to_dict())
        return
    rows = [
        ("users", summary.users),
        ("rows", summary.rows),
        ("n", summary.n),
        ("output", summary.out),
        ("seconds", summary.seconds),
    ]
    print_table(f"batch recommendations ({engine})", ["what", "value"], rows)


def recommend(
    user: str | None = typer.Option(
        None, "--user", "-u", help="External id of a user (one loaded after training too)."
    ),
    tags: str | None = typer.Option(
        None, "--tags", help="New user: comma-separated tags, e.g. jazz,piano."
    ),
    n: int = typer.Option(10, "-n", min=1, help="How many items."),
    tag: list[str] | None = typer.Option(
        None, "--tag", help="Keep only items carrying this tag (crowd or predicted); repeatable."
    ),
    include_listened: bool = typer.Option(
        False, "--include-listened", help="Also recommend items the user played."
    ),
    explain: bool = typer.Option(
        False, "--explain", help="Say why: matching tags and close played items."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    all_users: bool = typer.Option(
        False, "--all", help="Batch: top -n for every user into --out (Parquet)."
    ),
    out: str | None = typer.Option(
        None, "--out", help="With --all: output Parquet path (a directory with --engine spark)."
    ),
    engine: str = typer.Option("local", "--engine", help="With --all: local or spark."),
    spark_master: str | None = typer.Option(
        None, "--spark-master", help="With --engine spark: master URL."
    ),
) -> None:
    """Recommend tracks for --user U, or for a new user from --tags, or for --all users."""
    from recommender.errors import InputError

    if all_users:
        return recommend_all_users(
            n=n, out=out, engine=engine, spark_master=spark_master, as_json=as_json
        )
    if out or engine != "local" or spark_master:
        raise InputError("--out, --engine and --spark-master apply to batch mode (--all)")
    if (user is None) == (tags is None):
        raise InputError("give exactly one of --user U or --tags jazz,piano")
    rec = load_recommender()
    if user is not None:
        options = dict(
            n=n, tags=split_tags(tag), include_listened=include_listened, explain=explain
        )
        if user in rec.users:  # the common case touches no database
            results = rec.recommend(user, **options)
        else:  # arrived after training: fold their database history in
            from recommender.hybrid.history import recommend_for_user

            results = recommend_for_user(rec, state.engine, user, **options)
        title = f"recommendations for {user}"
    else:
        if tag:
            raise InputError(
                "--tag filters a user's recommendations; with --tags just list every tag there"
            )
        chosen = split_tags([tags])
        results = rec.recommend_for_tags(chosen, n=n, explain=explain)
        title = f"recommendations for tags {', '.join(chosen)}"
    print_recommendations(title, results, as_json=as_json, explain=explain)
