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


def recommend(
    user: str | None = typer.Option(None, "--user", "-u", help="External id of a known user."),
    tags: str | None = typer.Option(None, "--tags", help="New user: comma-separated tags, e.g. jazz,piano."),
    n: int = typer.Option(10, "-n", min=1, help="How many items."),
    tag: list[str] | None = typer.Option(None, "--tag", help="Keep only items carrying this tag (crowd or predicted); repeatable."),
    include_listened: bool = typer.Option(False, "--include-listened", help="Also recommend items the user played."),
    explain: bool = typer.Option(False, "--explain", help="Say why: matching tags and close played items."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recommend tracks for --user U, or for a new user from --tags."""
    from recommender.errors import InputError

    if (user is None) == (tags is None):
        raise InputError("give exactly one of --user U or --tags jazz,piano")
    rec = load_recommender()
    if user is not None:
        results = rec.recommend(
            user, n=n, tags=split_tags(tag), include_listened=include_listened, explain=explain
        )
        title = f"recommendations for {user}"
    else:
        if tag:
            raise InputError("--tag filters a user's recommendations; with --tags just list every tag there")
        chosen = split_tags([tags])
        results = rec.recommend_for_tags(chosen, n=n, explain=explain)
        title = f"recommendations for tags {', '.join(chosen)}"
    print_recommendations(title, results, as_json=as_json, explain=explain)
