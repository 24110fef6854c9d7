"""`recsys similar`, `recsys audience`, `recsys search`, `recsys user-tags`: look around the
trained model, by names or ids."""

from __future__ import annotations

import typer

from recommender.cli.output import err_console, print_json, print_table
from recommender.cli.recommend import print_recommendations
from recommender.cli.state import state
from recommender.errors import shown


def similar(
    track: str = typer.Option(
        ...,
        "--track",
        "-t",
        metavar="TRACK",
        help="A track's id, title, artist or 'artist - title'.",
    ),
    n: int = typer.Option(10, "-n", "--top", min=1, metavar="N", help="How many tracks."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Tracks like this one: CF neighbours if it has plays, tag neighbours if it is cold.

    Example: recsys similar --track "Britney Spears" -n 5
    """
    from recommender.services import queries

    named, results = queries.similar(state.settings, track, n=n)
    print_recommendations(
        f"tracks similar to {named}",
        results,
        as_json=as_json,
        explain=False,
        empty="no other track to compare it with (the catalogue has no neighbours for it)",
    )


def audience(
    track: str = typer.Option(
        ..., "--track", "-t", metavar="TRACK", help="A track (id or name; cold ones too)."
    ),
    n: int = typer.Option(10, "-n", "--top", min=1, metavar="N", help="How many users."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The users a track should reach, even one nobody has played yet.

    Example: recsys audience --track track-0001 -n 5
    """
    from recommender.services import queries

    named, members = queries.audience(state.settings, track, n=n)
    if as_json:
        print_json([m.to_dict() for m in members])
        return
    print_table(
        f"audience for {named}",
        ["#", "user", "score", "source", "shared tags"],
        (
            [i, m.user_id, f"{m.score:.3f}", m.source, ", ".join(m.matched_tags)]
            for i, m in enumerate(members, 1)
        ),
        empty="no user to reach (every user the model knows has already played it)",
    )


def search(
    query: str = typer.Argument(..., metavar="QUERY", help="A name or part of one: 'britney'."),
    n: int = typer.Option(10, "-n", "--top", min=1, metavar="N", help="How many of each kind."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Find tracks, artists, users and tags by name (or part of one).

    Best first: id or exact name, prefix, substring; else alike spellings. Case, accents ignored.

    Example: recsys search britney --top 5
    """
    from recommender.services import queries

    hits = queries.search(state.settings, query, n=n)
    if as_json:
        print_json([h.to_dict() for h in hits])
        return
    if not hits:
        err_console.print(
            f"nothing in the model is named like {shown(query)}", markup=False, highlight=False
        )
        return
    print_table(
        f"search: {query}",
        ["kind", "id", "name", "match"],
        ([h.kind, h.id, h.name, h.match] for h in hits),
    )


def user_tags(
    user: str = typer.Option(..., "--user", "-u", metavar="USER", help="External id of a user."),
    n: int = typer.Option(20, "-n", "--top", min=1, metavar="N", help="How many tags."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A user's tag profile: applied and listened tags, popular tags discounted.

    Example: recsys user-tags --user user-0001 -n 10
    """
    from recommender.services import queries

    weights = queries.user_tags(state.settings, user, n=n)
    if as_json:
        print_json([w.to_dict() for w in weights])
        return
    print_table(
        f"tag profile of {user}",
        ["#", "tag", "weight"],
        ([i, w.tag, f"{w.weight:.3f}"] for i, w in enumerate(weights, 1)),
        empty="no tags (none applied by this user, none on the tracks they played)",
    )
