"""`recsys similar`, `recsys audience`, `recsys user-tags`: look around the trained model."""

from __future__ import annotations

import typer

from recommender.cli.output import print_json, print_table
from recommender.cli.recommend import print_recommendations
from recommender.cli.state import state


def similar(
    track: str = typer.Option(
        ..., "--track", "-t", metavar="TRACK", help="External id of a track."
    ),
    n: int = typer.Option(10, "-n", "--top", min=1, metavar="N", help="How many tracks."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Tracks like this one: CF neighbours if it has plays, tag neighbours if it is cold.

    Example: recsys similar --track track-0001 -n 5
    """
    from recommender.services import queries

    results = queries.similar(state.settings, track, n=n)
    print_recommendations(
        f"tracks similar to {track}",
        results,
        as_json=as_json,
        explain=False,
        empty="no other track to compare it with (the catalogue has no neighbours for it)",
    )


def audience(
    track: str = typer.Option(
        ..., "--track", "-t", metavar="TRACK", help="External id of a track (cold ones too)."
    ),
    n: int = typer.Option(10, "-n", "--top", min=1, metavar="N", help="How many users."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The users a track should reach, even one nobody has played yet.

    Example: recsys audience --track track-0001 -n 5
    """
    from recommender.services import queries

    members = queries.audience(state.settings, track, n=n)
    if as_json:
        print_json([m.to_dict() for m in members])
        return
    print_table(
        f"audience for {track}",
        ["#", "user", "score", "source", "shared tags"],
        (
            [i, m.user_id, f"{m.score:.3f}", m.source, ", ".join(m.matched_tags)]
            for i, m in enumerate(members, 1)
        ),
        empty="no user to reach (every user the model knows has already played it)",
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
