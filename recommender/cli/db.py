"""`recsys db ...`: inspect the store."""

from __future__ import annotations

import typer

from recommender.cli.output import print_json, print_table
from recommender.cli.state import state

app = typer.Typer(help="Inspect the database.", no_args_is_help=True)


@app.command("stats")
def stats(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Counts of users, tracks, listens, tags, features, rejects, and the last ETL runs."""
    from recommender.storage.stats import database_stats

    result = database_stats(state.engine)
    if as_json:
        print_json(result)
        return
    print_table("recsys database", ["what", "count"], result["counts"].items())
    if result["last_runs"]:
        print_table(
            "last ETL runs",
            ["run", "source", "status", "started", "in", "loaded", "rejected"],
            (
                [r["id"], r["source"], r["status"], r["started_at"], r["rows_in"], r["rows_loaded"], r["rows_rejected"]]
                for r in result["last_runs"]
            ),
        )
